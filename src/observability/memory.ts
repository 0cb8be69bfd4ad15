// REPROQ_MEMORY_LOG_INTERVAL: one INFO line `reproq memory usage` at start and then every interval
// (worker and beat). Key names follow the Go worker where the runtime has an equivalent
// (heap_alloc_bytes, heap_sys_bytes, heap_idle_bytes, heap_inuse_bytes, rss_bytes); the rest are
// what a JavaScript runtime has instead of goroutines and Go GC stats.
//
// runIdleCollector: once a worker has had no task for IDLE_COLLECT_MS after doing some work, one
// full garbage collection, which also makes the allocator return freed pages to the system: the
// engine keeps freed memory for reuse otherwise, so RSS would stay at its busiest (or largest
// payload's) level while the worker waits.
import { every } from "../abort.ts";
import type { Logger } from "./logger.ts";

export function memoryUsageAttrs(): Record<string, number> {
  const usage = process.memoryUsage();
  return {
    heap_alloc_bytes: usage.heapUsed,
    heap_sys_bytes: usage.heapTotal,
    heap_idle_bytes: Math.max(0, usage.heapTotal - usage.heapUsed),
    heap_inuse_bytes: usage.heapUsed,
    external_bytes: usage.external,
    array_buffers_bytes: usage.arrayBuffers,
    rss_bytes: usage.rss,
  };
}

/** Logs now and then every `intervalMs` until the signal aborts; 0 = off. */
export async function runMemoryLogger(logger: Logger, intervalMs: number, signal: AbortSignal): Promise<void> {
  if (intervalMs <= 0 || signal.aborted) return;
  const log = () => logger.info("reproq memory usage", memoryUsageAttrs());
  log();
  await every(intervalMs, signal, async () => log());
}

/** How long a worker must have been without tasks before it hands memory back. */
export const IDLE_COLLECT_MS = 5_000;

/** What the idle collector needs to know of the worker (Worker has both). */
export interface WorkActivity {
  readonly runningCount: number;
  /** When a claim last returned a task; null before the first. */
  readonly lastClaimAt: Date | null;
}

/**
 * Until the signal aborts: after each stretch of work, once nothing has run for `idleMs`, runs
 * one full collection and logs (debug) the RSS before and after. Once per idle stretch: an idle
 * worker that claims nothing does not collect again.
 */
export async function runIdleCollector(work: WorkActivity, logger: Logger, signal: AbortSignal, idleMs = IDLE_COLLECT_MS): Promise<void> {
  let collectedAfter = 0; // the claim time the last collection followed
  await every(Math.max(10, Math.min(1_000, idleMs / 2)), signal, async () => {
    const lastClaim = work.lastClaimAt?.getTime();
    if (lastClaim === undefined || lastClaim <= collectedAfter || work.runningCount > 0 || Date.now() - lastClaim < idleMs) return;
    collectedAfter = lastClaim;
    const before = process.memoryUsage.rss();
    const started = performance.now();
    Bun.gc(true);
    logger.debug("Idle: memory handed back", { rss_before_bytes: before, rss_bytes: process.memoryUsage.rss(), gc_ms: Math.round(performance.now() - started) });
  });
}
