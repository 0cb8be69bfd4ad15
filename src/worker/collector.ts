// The metrics collector: one round every metrics.collect_interval refreshes the database-wide
// gauges (each count served by an index), the database's hazards (observability/hazards.ts) and
// this process's CPU and memory gauges. A failed
// query logs a warning once per outage and leaves the previous value in place.
import { boundedReads } from "../db/bounded.ts";
import type { Queryable, Sql } from "../db/client.ts";
import type { Logger } from "../observability/logger.ts";
import { CpuSampler, type DbOperations } from "../observability/db-operations.ts";
import { collectHazards, TaskCostSampler } from "../observability/hazards.ts";
import type { Metrics } from "../observability/metrics.ts";
import { statsConcurrencyBlocked, statsLiveWorkers, statsPausedQueues, statsTaskCounts } from "../queue/index.ts";
import { OutageTracker } from "./outage.ts";

/** Each collector query gives up after this long, so a slow database cannot pile rounds up. */
const QUERY_TIMEOUT_MS = 10_000;
/** A collector count waits this long for a lock on its table (only an ACCESS EXCLUSIVE lock conflicts). */
const LOCK_TIMEOUT_MS = 1_000;

export function metricsCollector(sql: Sql, logger: Logger, metrics: Metrics, db: DbOperations) {
  const cpu = new CpuSampler();
  const cost = new TaskCostSampler(sql, metrics, db);
  // Server-side bounds: a lock on task_runs fails a count after LOCK_TIMEOUT_MS instead of holding
  // the round (and a connection) for the whole timeout, so the hazard reads stay current.
  const bounded = <T>(reads: (tx: Queryable) => Promise<T>) => boundedReads(sql, { statementTimeoutMs: QUERY_TIMEOUT_MS, lockTimeoutMs: LOCK_TIMEOUT_MS }, reads);
  const parts = [
    // First: the hazard reads are bounded server-side, while a lock on task_runs can hold the
    // count queries below for their whole timeout.
    {
      outage: new OutageTracker(logger, "Database hazard metrics collection"),
      collect: () => collectHazards(sql, metrics),
    },
    {
      outage: new OutageTracker(logger, "Task cost metrics collection"),
      collect: () => cost.collect(),
    },
    {
      outage: new OutageTracker(logger, "Queue metrics collection"),
      collect: async () => {
        const counts = await bounded((tx) => statsTaskCounts(tx));
        metrics.queueDepth.set(counts.ready + counts.waiting);
        metrics.tasksRunning.set(counts.running);
      },
    },
    {
      outage: new OutageTracker(logger, "Worker metrics collection"),
      collect: async () => {
        const workers = await bounded((tx) => statsLiveWorkers(tx));
        metrics.workers.set(workers.live);
        metrics.concurrencyLimit.set(workers.concurrency);
      },
    },
    {
      outage: new OutageTracker(logger, "Queue control metrics collection"),
      collect: async () => metrics.queuesPaused.set(await bounded((tx) => statsPausedQueues(tx))),
    },
    {
      outage: new OutageTracker(logger, "Concurrency metrics collection"),
      collect: async () => metrics.concurrencyBlockedTasks.set(await bounded((tx) => statsConcurrencyBlocked(tx))),
    },
  ];
  let first = true;
  return async (): Promise<void> => {
    // The first round would measure start-up over a few milliseconds: wait for a real interval.
    const cpuPercent = cpu.sample();
    if (!first) metrics.cpuUsagePercent.set(cpuPercent);
    first = false;
    metrics.memUsageBytes.set(process.memoryUsage().heapUsed);
    for (const part of parts) {
      try {
        await db.run(null, () => withTimeout(part.collect(), QUERY_TIMEOUT_MS));
        part.outage.succeeded();
      } catch (error) {
        part.outage.failed(error);
      }
    }
  };
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000}s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
