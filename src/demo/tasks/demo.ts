// The demo's task module. `reproq demo` writes this file into a scratch tasks_dir, so the
// compiled binary needs no checkout: task path `demo.fast` is the export `fast` below.
// Every task receives (args, kwargs, ctx); ctx = { resultId, attempt, queue, taskPath, signal }.
import type { TaskContext } from "../../executor/index.ts";

type Kwargs = Record<string, unknown>;

/** Sleeps `ms`, or rejects as soon as the task is told to stop (timeout, cancel, shutdown). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

class PaymentDeclined extends Error {
  override name = "PaymentDeclined";
}

class UpstreamUnavailable extends Error {
  override name = "UpstreamUnavailable";
}

/** A quick computation: the checksum of a short text. */
export function fast(args: unknown[]) {
  const text = String(args[0] ?? "");
  let hash = 0;
  for (const char of text) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return { text, checksum: hash.toString(16) };
}

/** A report that takes a while (and stops early when asked to). */
export async function slow(_args: unknown[], kwargs: Kwargs, ctx: TaskContext) {
  const ms = Number(kwargs.ms ?? 500);
  await sleep(ms, ctx.signal);
  return { report: kwargs.name ?? "report", tookMs: ms };
}

/** Fails until attempt `succeedOn`: shows retries with backoff. */
export async function flaky(_args: unknown[], kwargs: Kwargs, ctx: TaskContext) {
  await sleep(20, ctx.signal);
  const succeedOn = Number(kwargs.succeedOn ?? 2);
  if (ctx.attempt < succeedOn) throw new UpstreamUnavailable(`upstream returned 503 (attempt ${ctx.attempt} of ${succeedOn} needed)`);
  return { attempt: ctx.attempt };
}

/** Always fails: ends in the dead-letter queue (reproq triage list). */
export async function failing(_args: unknown[], kwargs: Kwargs) {
  throw new PaymentDeclined(`card ending ${String(kwargs.card ?? "0000")} declined`);
}

/** Rate-limited queue "emails": the worker holds these back to the configured rate. */
export async function sendEmail(args: unknown[], _kwargs: Kwargs, ctx: TaskContext) {
  await sleep(5, ctx.signal);
  return { to: args[0], queue: ctx.queue };
}

/** Chain step 1 → 2 → 3: each step starts only after the previous one succeeded. */
export async function fetchOrders(_args: unknown[], _kwargs: Kwargs, ctx: TaskContext) {
  await sleep(100, ctx.signal);
  return { orders: 42 };
}

export async function transformOrders(_args: unknown[], _kwargs: Kwargs, ctx: TaskContext) {
  await sleep(100, ctx.signal);
  return { rows: 42 };
}

export async function publishReport(_args: unknown[], _kwargs: Kwargs, ctx: TaskContext) {
  await sleep(50, ctx.signal);
  return { published: true };
}

/** Chord members, then the callback that runs once all of them succeeded. */
export async function resizeImage(args: unknown[], _kwargs: Kwargs, ctx: TaskContext) {
  await sleep(50 + Math.floor(Math.random() * 150), ctx.signal);
  return { image: args[0], size: "800x600" };
}

export function buildGallery() {
  return { gallery: "ready" };
}

/** Enqueued with run_after a few seconds ahead. */
export function sendReminder(args: unknown[]) {
  return { reminded: args[0] };
}

/** Enqueued by beat from the periodic_tasks row "demo-heartbeat". */
export function heartbeat(_args: unknown[], _kwargs: Kwargs, ctx: TaskContext) {
  return { alive: true, resultId: ctx.resultId };
}
