// The database's hazards as metrics: who holds back the xmin horizon, task_runs' dead rows and
// last vacuum, lock waits on task_runs, and what each task costs the database. Read by the
// worker's metrics collector every round, each read bounded by a short statement_timeout so a
// hazard (a lock queue, a wedged catalog) never blocks the collector or the scrape.
import { boundedReads, type ReadBounds } from "../db/bounded.ts";
import type { Sql } from "../db/client.ts";
import {
  dbCountersRead,
  dbHorizonHolderRead,
  dbStatementCountersRead,
  dbTaskRunsLockWaitRead,
  dbTaskRunsVacuumRead,
  type HorizonHolder,
  type StatementCounters,
} from "../queue/hazards.ts";
import type { DbOperations } from "./db-operations.ts";
import type { Metrics } from "./metrics.ts";

/** Each hazard read gives up after this long (server-side statement_timeout and lock_timeout). */
export const HAZARD_BOUNDS: ReadBounds = { statementTimeoutMs: 2_000 };

/** Reads the horizon holder, task_runs' vacuum state and lock waits into the gauges. */
export async function collectHazards(sql: Sql, metrics: Metrics): Promise<void> {
  try {
    const { holder, vacuum, lockWait } = await boundedReads(sql, HAZARD_BOUNDS, async (tx) => ({
      holder: await dbHorizonHolderRead(tx),
      vacuum: await dbTaskRunsVacuumRead(tx),
      lockWait: await dbTaskRunsLockWaitRead(tx),
    }));
    // Only the single oldest holder is exported: reset first so a series never outlives its holder.
    metrics.xminHorizonHolder.reset();
    if (holder) {
      metrics.xminHorizonAgeSeconds.set(holder.ageSeconds ?? Number.NaN);
      metrics.xminHorizonAgeXids.set(holder.xidAge);
      metrics.xminHorizonHolder.set({ kind: holder.kind, pid: holder.pid === null ? "" : String(holder.pid), application_name: holder.application, state: holder.state }, 1);
    } else {
      metrics.xminHorizonAgeSeconds.set(0);
      metrics.xminHorizonAgeXids.set(0);
    }
    metrics.taskRunsDeadTuples.set(vacuum?.deadTuples ?? 0);
    metrics.taskRunsLiveTuples.set(vacuum?.liveTuples ?? 0);
    metrics.taskRunsVacuumAgeSeconds.set(vacuum?.vacuumAgeSeconds ?? -1);
    metrics.taskRunsLockWaiters.set(lockWait?.waiting ?? 0);
    metrics.taskRunsLockWaitSeconds.set(lockWait?.waitSeconds ?? 0);
    metrics.hazardsUp.set(1);
  } catch (error) {
    metrics.hazardsUp.set(0);
    throw error;
  }
}

interface CostSample {
  tasks: number;
  operations: number;
  commits: number;
  walBytes: number;
  statements: StatementCounters | null;
}

/**
 * Per-task database cost between two collector rounds: this worker's own database operations,
 * and the database's commits, statements and WAL (pg_stat_statements for the worker's role when
 * it is loaded, else the cluster's WAL position), each divided by the tasks this worker recorded.
 * Rounds in which it recorded no task leave the gauges as they were.
 */
export class TaskCostSampler {
  private last: CostSample | null = null;
  /** false once pg_stat_statements proved unusable (not loaded): not asked again. */
  private statementsUsable = true;

  constructor(private readonly sql: Sql, private readonly metrics: Metrics, private readonly db: DbOperations) {}

  async collect(): Promise<void> {
    const sample = await this.sample();
    const last = this.last;
    this.last = sample;
    const tasks = last ? sample.tasks - last.tasks : 0;
    if (!last || tasks <= 0) return;
    const metrics = this.metrics;
    metrics.dbOperationsPerTask.set((sample.operations - last.operations) / tasks);
    metrics.commitsPerTask.set((sample.commits - last.commits) / tasks);
    metrics.statementsPerTask.reset();
    metrics.walBytesPerTask.reset();
    if (sample.statements && last.statements) {
      metrics.statementsPerTask.set({ source: "pg_stat_statements" }, (sample.statements.calls - last.statements.calls) / tasks);
      metrics.walBytesPerTask.set({ source: "pg_stat_statements" }, (sample.statements.walBytes - last.statements.walBytes) / tasks);
    } else {
      metrics.walBytesPerTask.set({ source: "wal_lsn" }, (sample.walBytes - last.walBytes) / tasks);
    }
  }

  private async sample(): Promise<CostSample> {
    const tasks = (await this.metrics.tasksCompleted.get()).values.reduce((sum, v) => sum + v.value, 0);
    const operations = this.db.count;
    const counters = await boundedReads(this.sql, HAZARD_BOUNDS, (tx) => dbCountersRead(tx));
    let statements: StatementCounters | null = null;
    if (this.statementsUsable) {
      try {
        statements = await boundedReads(this.sql, HAZARD_BOUNDS, (tx) => dbStatementCountersRead(tx));
      } catch {
        // The extension exists but is not preloaded (or the server has no wal_bytes): WAL position it is.
        this.statementsUsable = false;
      }
      if (statements === null) this.statementsUsable = false;
    }
    return { tasks, operations, commits: counters.commits, walBytes: counters.walBytes, statements };
  }
}

/** Thresholds shared by `reproq doctor` and `reproq top` (SPEC §9 warnings; docs/operations.md). */
export const HORIZON_WARN_SECONDS = 60;
export const HORIZON_FAIL_SECONDS = 600;
/** task_runs dead rows worth a warning: at least this many, and more than autovacuum's 20% of live rows. */
export const DEAD_TUPLES_WARN = 10_000;

export function deadTuplesHigh(stats: { deadTuples: number; liveTuples: number }): boolean {
  return stats.deadTuples >= DEAD_TUPLES_WARN && stats.deadTuples > 0.2 * stats.liveTuples;
}

/** "pid 123, application "psql", idle in transaction" — the holder as an operator finds it. */
export function describeHolder(holder: HorizonHolder): string {
  const who = holder.kind === "backend"
    ? `pid ${holder.pid}, application "${holder.application}"`
    : holder.kind === "prepared_xact"
      ? `prepared transaction "${holder.application}"`
      : `replication slot "${holder.application}"${holder.pid === null ? "" : ` (pid ${holder.pid})`}`;
  return `${who}, ${holder.state || "no state"}`;
}

/** Whole seconds, or "unknown" (a replication slot has no start time). */
export function holderAge(holder: HorizonHolder): string {
  return holder.ageSeconds === null ? "age unknown" : `${Math.floor(holder.ageSeconds)} s`;
}
