// REPROQ_MEMORY_LOG_INTERVAL: one INFO line `reproq memory usage` at start and then every interval
// (worker and beat). Key names follow the Go worker where the runtime has an equivalent
// (heap_alloc_bytes, heap_sys_bytes, heap_idle_bytes, heap_inuse_bytes, rss_bytes); the rest are
// what a JavaScript runtime has instead of goroutines and Go GC stats.
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
