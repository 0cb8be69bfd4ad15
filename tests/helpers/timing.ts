// Database-time measurements of a DashboardSource for the scale tests.
import type { DashboardSource } from "../../src/tui/model.ts";

/**
 * The best of `runs` timings of `method` (after one warm-up call that opens connections), with
 * its sub-timings (`method.*` keys of lastQueryMs) from that same run.
 */
export async function bestTimings(source: DashboardSource, method: string, call: () => Promise<unknown>, runs = 5): Promise<Record<string, number>> {
  await call();
  let bestRun: Record<string, number> = {};
  for (let i = 0; i < runs; i++) {
    await call();
    const snapshot = Object.fromEntries(Object.entries(source.lastQueryMs).filter(([k]) => k === method || k.startsWith(`${method}.`)));
    if (bestRun[method] === undefined || snapshot[method]! < bestRun[method]!) bestRun = snapshot;
  }
  return bestRun;
}

/** Prints each timing as "<label>: <key> <ms> ms" (the numbers quoted in notes). */
export function printTimings(label: string, times: Record<string, number>): void {
  for (const [k, v] of Object.entries(times)) console.log(`${label}: ${k.padEnd(28)} ${v.toFixed(1)} ms`);
}

/**
 * How much slower than a quiet machine a loaded one may be before a wall-clock bound fails. The
 * suite must pass beside other work (a CI box, two busy loops): timing numbers belong in
 * scripts/bench; tests keep only smoke bounds this loose, and rely on plan/shape asserts.
 */
export const SMOKE_FACTOR = 10;

/**
 * Fails only when `elapsedMs` is over SMOKE_FACTOR × `quietMs` (what the step takes on a quiet
 * machine): catches a hang or a wait for the wrong timer, never a busy machine.
 */
export function expectQuick(elapsedMs: number, quietMs: number, what: string): void {
  const bound = quietMs * SMOKE_FACTOR;
  if (elapsedMs >= bound) {
    throw new Error(`${what} took ${Math.round(elapsedMs)} ms: more than ${SMOKE_FACTOR}× the ${quietMs} ms it takes on a quiet machine`);
  }
}

/** Runs `work` and returns its result with the wall-clock milliseconds it took. */
export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}
