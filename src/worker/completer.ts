// Writes outcomes, all kinds in one queue (River's batch completer is the shape): successes,
// retries, requeues and terminal failures go out together, one statement per batch (plus chord
// accounting and failure propagation only when a row of the batch needs them). Batching is
// natural: an idle completer writes at once; while one batch commits, new outcomes queue and go
// out together as soon as it has committed (the flush deadline is one write's duration; at most
// MAX_BATCH rows per statement). When PARALLEL_AT outcomes are already waiting behind a write, a
// second (up to MAX_WRITERS) write starts with them instead of waiting: batches hold disjoint
// rows and lock them in result_id order, like the writes of two workers. `pending` counts the outcomes not yet committed so the producer
// can stop claiming while too many wait (backpressure). Every write is retried through database
// outages until it commits, the fence shows the lease is gone, or the completer is told to give
// up (shutdown deadline).
import { isRetryableDbError, withDbRetry } from "../db/retryable.ts";
import type { Sql } from "../db/client.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import { DbOperations } from "../observability/db-operations.ts";
import { ProgressWatch } from "../observability/progress.ts";
import { taskCompleteMany, type Completion } from "../queue/index.ts";
import type { FailureCompletion, SuccessCompletion } from "../queue/types.ts";
import type { Unwritten } from "./journal.ts";
import { OutageTracker } from "./outage.ts";

/**
 * written: committed; fenced: the row was no longer ours (nothing written); rejected: the database
 * refused the write itself (not an outage) — retrying cannot help; abandoned: gave up at shutdown.
 */
export type WriteResult = "written" | "fenced" | "rejected" | "abandoned";

export const MAX_BATCH = 500;
const MAX_WRITERS = 3;
const PARALLEL_AT = 100;
const RETRY = { attempts: Number.POSITIVE_INFINITY, baseMs: 100, maxMs: 5_000 };

interface Pending {
  outcome: Completion;
  resolve: (result: WriteResult) => void;
}

export class Completer {
  private queue: Pending[] = [];
  private writing = 0;
  private writers = 0;
  private drained: (() => void)[] = [];
  private readonly giveUp = new AbortController();
  private readonly outage: OutageTracker;
  /** Writes waiting or failing now, for /healthz (a write stuck behind a lock never fails: it waits). */
  readonly progress = new ProgressWatch();
  /** Outcomes abandoned because the database could not be reached (for the result journal). */
  readonly unwritten: Unwritten[] = [];
  /** Called after every batch (the producer may claim again once the backlog is down). */
  onBatchDone: () => void = () => {};

  constructor(private readonly sql: Sql, private readonly logger: Logger, private readonly db = new DbOperations(null, 1)) {
    this.outage = new OutageTracker(logger, "Recording task results");
  }

  /** Outcomes handed over and not yet committed (queued or in the statement under way). */
  get pending(): number {
    return this.queue.length + this.writing;
  }

  success(completion: SuccessCompletion): Promise<WriteResult> {
    return this.enqueue({ kind: "success", completion });
  }

  failure(completion: FailureCompletion): Promise<WriteResult> {
    return this.enqueue({ kind: "failure", completion });
  }

  /** Waits until every queued outcome is written (or abandoned). */
  async flush(): Promise<void> {
    while (this.writers > 0) await new Promise<void>((resolve) => this.drained.push(resolve));
  }

  /** Stop retrying: pending writes resolve as abandoned (kept in `unwritten` for the journal). */
  abandon(): void {
    this.giveUp.abort(new Error("completer stopped"));
  }

  private enqueue(outcome: Completion): Promise<WriteResult> {
    return new Promise((resolve) => {
      this.queue.push({ outcome, resolve });
      if (this.writers === 0 || (this.writers < MAX_WRITERS && this.queue.length >= PARALLEL_AT)) {
        this.writers += 1;
        void this.drain();
      }
    });
  }

  /** One writer: batches from the queue until it is empty. */
  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        this.writing += batch.length;
        try {
          await this.writeBatch(batch);
        } finally {
          this.writing -= batch.length;
        }
        this.onBatchDone();
      }
    } finally {
      this.writers -= 1;
      if (this.writers === 0) for (const resolve of this.drained.splice(0)) resolve();
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    try {
      // The metric's operation label is fixed (complete_success | complete_failure): a batch with
      // any failure in it is timed as complete_failure.
      const operation = batch.every((p) => p.outcome.kind === "success") ? "complete_success" : "complete_failure";
      const outcome = await this.retrying(() => this.db.run(operation, () => taskCompleteMany(this.sql, batch.map((p) => p.outcome))));
      const fenced = new Set(outcome.fenced);
      for (const pending of batch) pending.resolve(fenced.has(pending.outcome.completion.resultId) ? "fenced" : "written");
    } catch (error) {
      if (batch.length > 1 && !this.giveUp.signal.aborted) {
        // A non-retryable error (a bad row?): write the rows one by one so only that row is lost.
        for (const pending of batch) await this.writeBatch([pending]);
        return;
      }
      const result = this.abandoned(error, batch.map((p) => p.outcome.completion.resultId));
      for (const pending of batch) {
        if (result === "abandoned") this.unwritten.push(pending.outcome);
        pending.resolve(result);
      }
    }
  }

  private async retrying<T>(write: () => Promise<T>): Promise<T> {
    const end = this.progress.begin();
    try {
      return await this.retryingUntilWritten(write);
    } finally {
      end();
    }
  }

  private async retryingUntilWritten<T>(write: () => Promise<T>): Promise<T> {
    const attempt = withDbRetry(write, {
      ...RETRY,
      signal: this.giveUp.signal,
      onRetry: (error) => this.outage.failed(error),
    });
    // Giving up must not wait for a statement stuck in a connect timeout. The listener is removed
    // after each write: the signal lives as long as the worker (one left per write was a leak).
    const signal = this.giveUp.signal;
    let onGiveUp = (): void => {};
    const gaveUp = new Promise<never>((_, reject) => {
      onGiveUp = () => reject(signal.reason);
      if (signal.aborted) onGiveUp();
      else signal.addEventListener("abort", onGiveUp, { once: true });
    });
    gaveUp.catch(() => {}); // observed only through the race below
    try {
      const result = await Promise.race([attempt, gaveUp]);
      this.outage.succeeded();
      return result;
    } finally {
      signal.removeEventListener("abort", onGiveUp);
    }
  }

  private abandoned(error: unknown, resultIds: string[]): WriteResult {
    if (!this.giveUp.signal.aborted && !isRetryableDbError(error)) {
      this.logger.error("The database rejected a task result", { result_ids: resultIds, error: errorMessage(error) });
      return "rejected";
    }
    this.logger.error("Failed to record task result; it goes to the result journal", {
      result_ids: resultIds,
      reason: this.giveUp.signal.aborted ? "gave up at shutdown" : "database unavailable",
      error: errorMessage(error),
    });
    return "abandoned";
  }
}
