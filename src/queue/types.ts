// Row shapes and parameters shared by the queue/ statements and the worker runtime.
// bigint ids (result_id, parent_id) travel as decimal strings (postgres.js default).

export const TASK_STATUSES = ["READY", "RUNNING", "WAITING", "SUCCESSFUL", "FAILED", "CANCELLED"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** A row the worker just claimed (status RUNNING, leased_by = this worker). */
export interface ClaimedTask {
  resultId: string;
  queueName: string;
  priority: number;
  /** spec_json::text, the exact bytes handed to the executor. */
  specText: string;
  /** Trimmed (CHAR(64) pads with blanks). */
  specHash: string;
  /** The column; null or "" when the row has none (the runtime then reads spec_json). */
  taskPath: string | null;
  /** After this claim's increment (1 on the first run). */
  attempts: number;
  maxAttempts: number;
  timeoutSeconds: number;
  lockKey: string | null;
  concurrencyKey: string | null;
  concurrencyLimit: number;
  workflowId: string | null;
  parentId: string | null;
  /** Seconds (database clock) between becoming due (enqueued_at, or run_after when later) and this claim. */
  waitSeconds: number;
}

export interface ClaimParams {
  workerId: string;
  /**
   * Queues this worker serves, in turn order: the batch goes round them from the first (rank 1 of
   * each queue, then rank 2, …). The worker rotates the list between claims (no queue starves).
   */
  queues: readonly string[];
  /** Most rows to claim (free slots, capped by claim_batch_size). */
  limit: number;
  leaseSeconds: number;
  /** Seconds of waiting per priority point; ≤ 0 disables aging. */
  priorityAgingFactor: number;
}

/** One errors_json entry as the worker builds it; `at` is added by SQL from the DB clock. */
export interface ErrorEntry {
  kind: string;
  message: string;
  [field: string]: unknown;
}

export interface SuccessCompletion {
  resultId: string;
  workerId: string;
  /**
   * The run's attempts value (after its claim). When given, the write also requires
   * attempts = attempt, so a late write of an earlier run can never land on a later run of the
   * same row by the same worker (e.g. after an outage longer than the lease).
   */
  attempt?: number;
  /** Raw JSON text of the envelope's `return`; null = key absent (stored as SQL NULL). */
  returnJson: string | null;
  logsUri: string | null;
  /**
   * Seconds the row waited in the worker's local buffer between its claim and the handler's start
   * (worker clock): the write moves last_attempted_at (and started_at when this claim set it)
   * forward by it, so both say when the task really started. 0 or absent: unchanged.
   */
  startDelaySeconds?: number;
  /**
   * The row's workflow_id as claimed; null = none, so the write needs no chord accounting and
   * goes out as one statement. Absent = unknown (the write takes the transactional path).
   */
  workflowId?: string | null;
}

export type FailureDisposition =
  /** READY again at NOW() + retryDelaySeconds; the attempt stays consumed. */
  | { type: "retry"; retryDelaySeconds: number }
  /** FAILED; propagates to workflows (chord callback) and WAITING chain descendants. */
  | { type: "terminal" }
  /** READY at NOW() with the attempt given back (worker shutdown killed it). */
  | { type: "requeue" };

export interface FailureCompletion {
  resultId: string;
  workerId: string;
  /** As in SuccessCompletion. */
  attempt?: number;
  error: ErrorEntry;
  disposition: FailureDisposition;
  /** Summary for last_error on terminal failure (already cut to 1024 bytes on a character boundary). */
  lastError: string;
  logsUri: string | null;
  /**
   * Seconds the row waited in the worker's local buffer between its claim and the handler's start
   * (worker clock): the write moves last_attempted_at (and started_at when this claim set it)
   * forward by it, so both say when the task really started. 0 or absent: unchanged.
   */
  startDelaySeconds?: number;
}

export interface CompletionOutcome {
  /** Rows written. */
  written: string[];
  /** Rows whose fence (leased_by = worker AND status = RUNNING) no longer held: nothing written. */
  fenced: string[];
}

