// Task fixtures for the bun and bun-inprocess executor tests: one export per behaviour.
import type { TaskContext } from "../../../src/executor/index.ts";

export class QuotaExceeded extends Error {}

export function add(args: unknown[], kwargs: Record<string, unknown>, ctx: TaskContext) {
  const numbers = args.map(Number);
  return {
    sum: numbers.reduce((a, b) => a + b, 0),
    kwargs,
    ctx: { resultId: ctx.resultId, attempt: ctx.attempt, queue: ctx.queue, taskPath: ctx.taskPath, aborted: ctx.signal.aborted },
  };
}

export async function noop() {
  return null;
}

export async function fail(_args: unknown[], kwargs: Record<string, unknown>) {
  await Bun.sleep(1);
  throw new QuotaExceeded(String(kwargs.message ?? "quota exceeded"));
}

export function syncThrow(): never {
  throw new RangeError("thrown synchronously");
}

/** Sleeps kwargs.ms, or until the signal aborts (then rejects with the abort reason). */
export function sleepy(_args: unknown[], kwargs: Record<string, unknown>, ctx: TaskContext) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve({ slept: kwargs.ms }), Number(kwargs.ms ?? 1000));
    ctx.signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(ctx.signal.reason);
    }, { once: true });
  });
}

/** Ignores its signal and never settles. */
export function forever() {
  return new Promise(() => {});
}

/** Never settles; rejects long after it was abandoned (must not crash the worker). */
export function lateReject(_args: unknown[], kwargs: Record<string, unknown>) {
  return new Promise((_resolve, reject) => setTimeout(() => reject(new Error("late rejection")), Number(kwargs.ms ?? 3000)));
}

export function bigint() {
  return { n: 1n };
}

export function cyclic() {
  const value: Record<string, unknown> = {};
  value.self = value;
  return value;
}

/** Leaves an unhandled rejection and a throwing timer behind, then succeeds. */
export function stray() {
  void Promise.reject(new Error("stray rejection"));
  setTimeout(() => {
    throw new Error("stray timer exception");
  }, 5);
  return "ok";
}

export function noisy() {
  console.log("hello from the task");
  process.stdout.write("no newline at the end");
  return { noisy: true };
}

export const notAFunction = 42;
