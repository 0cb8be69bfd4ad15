// The Prometheus metrics of a worker: every `reproq_*` series of the Go worker with its exact name,
// type, label names and buckets (its counting bugs fixed), plus prom-client's process metrics.
// One Metrics object per worker process, created by the command that serves /metrics.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** Prometheus' default buckets, as the Go client library defines them. */
export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** 1 s doubling to 512 s, for time spent waiting in the queue. */
export const QUEUE_WAIT_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/**
 * The registry's text exposition, with NaN spelled as the format requires: prom-client 15 writes
 * `Nan` (e.g. `nodejs_eventloop_lag_mean_seconds` before its first sample), which strict parsers
 * reject.
 */
export async function exposition(registry: Registry): Promise<string> {
  return (await registry.metrics()).replace(/ Nan$/gm, " NaN");
}

/** The database operations timed by reproq_db_operation_duration_seconds. */
export type DbOperation = "claim" | "heartbeat" | "complete_success" | "complete_failure" | "reclaim";

export class Metrics {
  readonly registry = new Registry();

  // Task flow (observed by the worker runtime).
  readonly tasksProcessed = this.counter("reproq_tasks_processed_total", "Tasks that reached an outcome, by status (success|failure) and queue", ["status", "queue"]);
  readonly tasksClaimed = this.counter("reproq_tasks_claimed_total", "Tasks claimed, by queue", ["queue"]);
  readonly tasksCompleted = this.counter("reproq_tasks_completed_total", "Task results written, by queue and status (success|failure)", ["queue", "status"]);
  readonly claimDuration = this.histogram("reproq_claim_duration_seconds", "Time spent in each claim statement, empty claims included", ["queue"], DEFAULT_BUCKETS);
  readonly execDuration = this.histogram("reproq_exec_duration_seconds", "Executor run time per task", ["queue"], DEFAULT_BUCKETS);
  readonly queueWait = this.histogram("reproq_queue_wait_duration_seconds", "Time from a task becoming due to its claim", ["queue"], QUEUE_WAIT_BUCKETS);
  readonly dbOperationDuration = this.histogram("reproq_db_operation_duration_seconds", "Duration of the worker's database operations", ["operation"], DEFAULT_BUCKETS);

  // This process (set by the collector and the database-operation tracker).
  readonly cpuUsagePercent = this.gauge("reproq_worker_cpu_usage_percent", "CPU used by this worker process over the last collection interval (100 = one core)");
  readonly memUsageBytes = this.gauge("reproq_worker_mem_usage_bytes", "JavaScript heap in use by this worker process");
  readonly poolConnectionsInUse = this.gauge("reproq_db_pool_connections_in_use", "Database pool connections in use by this worker's operations");
  readonly poolWaitCount = this.counter("reproq_db_pool_wait_count_total", "Database operations that had to wait for a free pool connection", []);
  readonly concurrencyInUse = this.gauge("reproq_concurrency_in_use", "Task slots of this worker currently running a task");

  // Database-wide (every worker exports the same values: aggregate with max(), not sum()).
  readonly queueDepth = this.gauge("reproq_queue_depth", "Tasks waiting to run in all queues (READY + WAITING)");
  readonly tasksRunning = this.gauge("reproq_tasks_running", "Tasks RUNNING in all queues");
  readonly workers = this.gauge("reproq_workers", "Live workers (registry heartbeat within 2 minutes)");
  readonly concurrencyLimit = this.gauge("reproq_concurrency_limit", "Sum of the concurrency of live workers");
  readonly queuesPaused = this.gauge("reproq_queues_paused", "Paused queues");
  readonly concurrencyBlockedTasks = this.gauge("reproq_concurrency_blocked_tasks", "READY tasks held back because their concurrency_key is at its limit");

  // The database's hazards (database-wide too; hazards.ts in src/queue/ reads them).
  readonly xminHorizonAgeSeconds = this.gauge("reproq_db_xmin_horizon_age_seconds", "Age of the transaction holding back the oldest xmin (VACUUM cannot remove rows it may see); 0 when none, NaN for a replication slot");
  readonly xminHorizonAgeXids = this.gauge("reproq_db_xmin_horizon_age_xids", "Transactions since the oldest xmin horizon holder's xmin");
  readonly xminHorizonHolder = this.labelledGauge("reproq_db_xmin_horizon_holder_info", "The oldest xmin horizon holder (one series: value 1): kind backend|prepared_xact|replication_slot, its pid, application_name and state", ["kind", "pid", "application_name", "state"]);
  readonly taskRunsDeadTuples = this.gauge("reproq_task_runs_dead_tuples", "Dead row versions in task_runs (pg_stat_user_tables.n_dead_tup)");
  readonly taskRunsLiveTuples = this.gauge("reproq_task_runs_live_tuples", "Live rows in task_runs (pg_stat_user_tables.n_live_tup)");
  readonly taskRunsVacuumAgeSeconds = this.gauge("reproq_task_runs_last_vacuum_age_seconds", "Seconds since task_runs was last vacuumed or autovacuumed; -1 when never");
  readonly taskRunsLockWaiters = this.gauge("reproq_task_runs_lock_waiters", "Sessions waiting for a lock on task_runs");
  readonly taskRunsLockWaitSeconds = this.gauge("reproq_task_runs_lock_wait_seconds", "How long the longest waiter for a lock on task_runs has waited; 0 when none");
  readonly hazardsUp = this.gauge("reproq_db_hazards_collect_success", "1 when the last hazard collection (horizon, vacuum, locks) answered within its timeout, else 0");

  // Cost per task over the last collection interval in which this worker recorded tasks (kept while idle).
  readonly dbOperationsPerTask = this.gauge("reproq_worker_db_operations_per_task", "This worker's database operations (each one statement or one short transaction) per task it recorded, over the last collection interval");
  readonly statementsPerTask = this.labelledGauge("reproq_database_role_statements_per_task", "Statements of the worker's database role in this database (every worker of the role together) per task this worker recorded, over the last collection interval; only with source pg_stat_statements", ["source"]);
  readonly commitsPerTask = this.gauge("reproq_database_commits_per_task", "Commits in this database (pg_stat_database.xact_commit, all clients) per task this worker recorded, over the last collection interval");
  readonly walBytesPerTask = this.labelledGauge("reproq_database_wal_bytes_per_task", "WAL bytes per task this worker recorded, over the last collection interval: source pg_stat_statements (the worker's role in this database) or wal_lsn (the whole cluster)", ["source"]);

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  private counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge(name: string, help: string): Gauge {
    return new Gauge({ name, help, registers: [this.registry] });
  }

  private labelledGauge<L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram<L extends string>(name: string, help: string, labelNames: L[], buckets: number[]): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }
}
