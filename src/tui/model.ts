// What `reproq top` shows and can do, independent of Ink: the snapshot shapes the views render and
// the DashboardSource the app reads them from (src/tui/data.ts implements it over queue/
// functions; views never see SQL). Times are database-clock Dates; ages and durations are seconds
// computed by the database; a value the database does not have is null (rendered "–").
import type { HorizonHolder, LockBlock, TableVacuumStats } from "../queue/hazards.ts";
import type { TaskStatus } from "../queue/types.ts";

/**
 * What a task list row is, for the views: its status, except that a READY row whose run_after is
 * still in the future (a retry backoff, a delayed enqueue) is SCHEDULED. SCHEDULED is never
 * stored: in the database such a row is READY.
 */
export type TaskState = TaskStatus | "SCHEDULED";

/** Whether the last refresh worked: ok, slow or partially failed (degraded), or failing (down). */
export type ConnectionState = "connecting" | "ok" | "degraded" | "down";

export interface StatusTotals {
  /** READY rows that are due (run_after NULL or past): what workers can claim now. */
  ready: number;
  /** READY rows whose run_after is in the future (SCHEDULED). */
  scheduled: number;
  running: number;
  waiting: number;
  failed: number;
  /** READY / SCHEDULED / FAILED include a planner estimate (a queue above the exact-count cap): shown "~". */
  readyEstimate?: boolean;
  scheduledEstimate?: boolean;
  failedEstimate?: boolean;
  /** Huge statuses come from planner statistics: shown with a leading "~". */
  successful: { value: number; estimate: boolean };
  cancelled: { value: number; estimate: boolean };
}

export interface Throughput {
  /** Rows that finished (SUCCESSFUL, FAILED or CANCELLED; finished_at) in the window. */
  finished1m: number;
  finished5m: number;
  /** Per-minute rates derived from the two windows. */
  perMinute1m: number;
  perMinute5m: number;
  /** SUCCESSFUL / (SUCCESSFUL + FAILED) over the last 5 minutes; null when nothing finished. */
  successRate5m: number | null;
}

export interface QueueRow {
  queue: string;
  /** Due READY rows. */
  ready: number;
  /** READY rows whose run_after is in the future. */
  scheduled: number;
  running: number;
  waiting: number;
  failed: number;
  /** Counted exactly up to a cap (100,000), a planner estimate beyond: shown "~". */
  readyEstimate?: boolean;
  scheduledEstimate?: boolean;
  failedEstimate?: boolean;
  /** Age of the oldest due READY row (NOW() − max(enqueued_at, run_after)); null when none. */
  oldestReadySeconds: number | null;
  paused: boolean;
  pausedReason: string | null;
  /** Completions per minute for the last 15 minutes, oldest first (15 numbers). */
  completions: number[];
}

export interface FailureRow {
  resultId: string;
  queue: string;
  taskPath: string | null;
  exceptionClass: string | null;
  /** One line: last_error (or the latest errors_json message), already trimmed. */
  message: string;
  failedAt: Date | null;
  attempts: number;
  maxAttempts: number;
}

/** The database's hazards as top shows them (warning lines above the queues). */
export interface DbHazards {
  holder: HorizonHolder | null;
  vacuum: TableVacuumStats | null;
  lockWait: LockBlock | null;
  /** A holder at least this old is worth a warning (top --horizon-warn). */
  horizonWarnSeconds: number;
}

export interface Overview {
  now: Date;
  totals: StatusTotals;
  throughput: Throughput;
  oldestReadySeconds: number | null;
  liveWorkers: number;
  queues: QueueRow[];
  recentFailures: FailureRow[];
}

export type WorkerHealth = "alive" | "stale" | "dead";

export interface WorkerRow {
  workerId: string;
  hostname: string;
  version: string | null;
  queues: string[];
  concurrency: number;
  /** RUNNING rows leased by this worker. */
  running: number;
  startedAt: Date | null;
  lastSeenSeconds: number | null;
  /** alive: seen < 30 s ago; stale: < 2 min; dead: older (Django calls < 2 min "alive"). */
  health: WorkerHealth;
}

export interface FailureGroup {
  taskPath: string | null;
  exceptionClass: string | null;
  count: number;
  lastFailedAt: Date | null;
  /** A representative message from the newest failure in the group. */
  sampleMessage: string;
}

/** The failures view: every FAILED row counted, and the groups of the newest ones. */
export interface FailureSummary {
  /** All FAILED rows: exact up to a cap, a planner estimate beyond (shown "~"). */
  total: { value: number; estimate: boolean };
  /**
   * Set when the groups were counted among only the newest `window` FAILED rows (more exist): each
   * count is then a lower bound of the group's size (shown "≥"). null: every FAILED row was grouped.
   */
  window: number | null;
  /** Groups found (more than `groups` holds when the list was cut). */
  groupCount: number;
  /** Most frequent first. */
  groups: FailureGroup[];
}

export interface PeriodicRow {
  name: string;
  cronExpr: string;
  /** e.g. "every 5 minutes", "at 03:00 every day"; null when the expression is invalid. */
  description: string | null;
  taskPath: string;
  queue: string;
  enabled: boolean;
  nextRunAt: Date | null;
  /** Seconds until next run; negative when overdue. */
  nextRunInSeconds: number | null;
  lastRunAt: Date | null;
}

export interface RateLimitRow {
  key: string;
  tokensPerSecond: number;
  burstSize: number;
  /** Tokens now, refilled up to burst since last_refilled_at (computed, not stored). */
  currentTokens: number;
}

/** What the task list shows; filter tokens: queue:, task:, status: and free text. */
export interface TaskFilter {
  queue?: string;
  /** A status, or SCHEDULED (READY, run_after in the future); READY then means due READY rows. */
  status?: TaskState;
  /** task_path prefix. */
  taskPath?: string;
  /** Exception class (failure-group drill-down). */
  exceptionClass?: string;
  /** Free text: matched against task_path and last_error (ILIKE), bounded by the page query. */
  text?: string;
}

export interface TaskListRow {
  resultId: string;
  queue: string;
  status: TaskStatus;
  taskPath: string | null;
  priority: number;
  attempts: number;
  maxAttempts: number;
  enqueuedAt: Date;
  /** Age since enqueued (or since finished for finished rows). */
  ageSeconds: number;
  /** Seconds until run_after when the row is READY but not due yet (SCHEDULED); else null. */
  dueInSeconds: number | null;
  lastError: string | null;
}

export interface TaskPage {
  /**
   * Newest first; a READY list in claim order (the next task to run first), a SCHEDULED list
   * soonest due first.
   */
  rows: TaskListRow[];
  /** Exact when cheap (READY/RUNNING/WAITING/FAILED up to a cap), else an estimate (shown "~"). */
  total: { value: number; estimate: boolean };
  offset: number;
  /** Set when a free-text search looked only at the newest `searchedNewest` tasks (older exist). */
  searchedNewest?: number;
}

export interface ErrorEntryView {
  kind: string;
  at: string | null;
  attempt: number | null;
  exceptionClass: string | null;
  message: string;
  traceback: string | null;
}

export interface TaskDetail {
  resultId: string;
  queue: string;
  status: TaskStatus;
  priority: number;
  taskPath: string | null;
  attempts: number;
  maxAttempts: number;
  enqueuedAt: Date;
  runAfter: Date | null;
  /** Seconds until run_after when the row is READY but not due yet (SCHEDULED); else null. */
  dueInSeconds: number | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** finished − started, seconds. */
  durationSeconds: number | null;
  leasedBy: string | null;
  workerIds: string[];
  specHash: string;
  /** spec_json pretty-printed (2-space indent). */
  specPretty: string;
  args: unknown;
  kwargs: unknown;
  /** return_json pretty-printed; null when absent. */
  returnPretty: string | null;
  errors: ErrorEntryView[];
  lastError: string | null;
  logsUri: string | null;
  /** Last ~40 lines of the logs_uri file when it is readable here; null otherwise. */
  logTail: string[] | null;
  workflowId: string | null;
  parentId: string | null;
  cancelRequested: boolean;
}

/** An action the operator confirmed; the prompt shows `describe` before running it. */
export type Action =
  | { kind: "retry"; resultId: string }
  | { kind: "discard"; resultId: string; reason: string | null }
  | { kind: "cancel"; resultId: string }
  | { kind: "replay"; resultId: string }
  | { kind: "retry-matching"; filter: TaskFilter; bound?: BulkBound }
  | { kind: "discard-matching"; filter: TaskFilter; reason: string | null; bound?: BulkBound }
  | { kind: "pause-queue"; queue: string; reason: string | null }
  | { kind: "resume-queue"; queue: string };

/** What a bulk action's preview saw: perform touches only matching rows with result_id ≤ maxResultId. */
export interface BulkBound {
  /** Highest result_id the preview counted; null when it matched nothing. */
  maxResultId: string | null;
  count: number;
}

export interface ActionPreview {
  /** e.g. "Retry 12 FAILED tasks in queue emails (task myapp.tasks.send_*)". */
  summary: string;
  /** Rows the action would touch (for *-matching), or 1. */
  count: number;
  /** The action to perform once confirmed (a bulk action carries the preview's bound); else the original. */
  action?: Action;
}

/** How a long action reports progress and is stopped (bulk retry/discard run in batches). */
export interface ActionControl {
  /** Stops between batches; what was done stays done and is reported. */
  signal?: AbortSignal;
  onProgress?: (progress: ActionProgress) => void;
}

export interface ActionProgress {
  done: number;
  total: number;
}

export interface ActionResult {
  ok: boolean;
  /** e.g. "retried 12, skipped 1 (already queued)". */
  message: string;
}

/** Everything the app reads or changes. Every method may reject (database down): the app shows it. */
export interface DashboardSource {
  overview(): Promise<Overview>;
  /** The database's hazards for the warning lines under the header (polled apart from the screen). */
  hazards?(): Promise<DbHazards>;
  workers(): Promise<WorkerRow[]>;
  failureGroups(): Promise<FailureSummary>;
  periodic(): Promise<PeriodicRow[]>;
  rateLimits(): Promise<RateLimitRow[]>;
  tasks(filter: TaskFilter, page: { offset: number; limit: number }): Promise<TaskPage>;
  /** null when the row no longer exists. */
  task(resultId: string): Promise<TaskDetail | null>;
  preview(action: Action): Promise<ActionPreview>;
  /** Refuses (ok false) when the source is read-only. */
  perform(action: Action, control?: ActionControl): Promise<ActionResult>;
  readonly readOnly: boolean;
  /** Database time spent in the last call of each method (ms), for the status line and tests. */
  readonly lastQueryMs: Readonly<Record<string, number>>;
  close(): Promise<void>;
}
