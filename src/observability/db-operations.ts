// Process-side measurements that feed the metrics without loading the metrics library: database
// operations in flight against the pool size, and CPU use between samples. With no Metrics
// (the HTTP server is off) they cost one branch per call.
import type { DbOperation, Metrics } from "./metrics.ts";

/**
 * Counts the worker's database operations in flight against its pool size: that is what
 * "connections in use" and "waited for a connection" mean for a postgres.js pool, which does
 * not expose its internal queues. Every statement the worker runs goes through `run`.
 */
export class DbOperations {
  private inFlight = 0;
  private started = 0;

  constructor(private readonly metrics: Metrics | null, private readonly poolSize: number) {}

  /** Operations started so far (counted only with metrics on). */
  get count(): number {
    return this.started;
  }

  async run<T>(operation: DbOperation | null, statement: () => Promise<T>): Promise<T> {
    const metrics = this.metrics;
    if (!metrics) return statement();
    this.started += 1;
    this.inFlight += 1;
    if (this.inFlight > this.poolSize) metrics.poolWaitCount.inc();
    metrics.poolConnectionsInUse.set(Math.min(this.inFlight, this.poolSize));
    const started = performance.now();
    try {
      return await statement();
    } finally {
      this.inFlight -= 1;
      metrics.poolConnectionsInUse.set(Math.min(this.inFlight, this.poolSize));
      if (operation) metrics.dbOperationDuration.observe({ operation }, (performance.now() - started) / 1000);
    }
  }
}

/** CPU use of this process between calls, in percent of one core. */
export class CpuSampler {
  private last = process.cpuUsage();
  private lastAt = performance.now();

  sample(): number {
    const now = performance.now();
    const usage = process.cpuUsage();
    const usedMicros = usage.user - this.last.user + (usage.system - this.last.system);
    const elapsedMicros = (now - this.lastAt) * 1000;
    this.last = usage;
    this.lastAt = now;
    return elapsedMicros > 0 ? Math.max(0, (usedMicros / elapsedMicros) * 100) : 0;
  }
}
