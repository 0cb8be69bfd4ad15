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
