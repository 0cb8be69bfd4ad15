// Writes outcomes. Successes are batched naturally: while one batch commits, the next ones queue
// and go out together in the following statement (no artificial delay, so an idle worker writes
// at once and a busy one writes many rows per round trip). Failures are written one by one (they
// carry workflow propagation). Every write is retried through database outages until it commits,
// the fence shows the lease is gone, or the completer is told to give up (shutdown deadline).
import { isRetryableDbError, withDbRetry } from "../db/retryable.ts";
import type { Sql } from "../db/client.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import { DbOperations } from "../observability/db-operations.ts";
import { ProgressWatch } from "../observability/progress.ts";
import { taskCompleteFailure, taskCompleteSuccessMany } from "../queue/index.ts";
import type { FailureCompletion, SuccessCompletion } from "../queue/types.ts";
import type { Unwritten } from "./journal.ts";
import { OutageTracker } from "./outage.ts";

/**
 * written: committed; fenced: the row was no longer ours (nothing written); rejected: the database
 * refused the write itself (not an outage) — retrying cannot help; abandoned: gave up at shutdown.
 */
export type WriteResult = "written" | "fenced" | "rejected" | "abandoned";

const MAX_BATCH = 500;
const RETRY = { attempts: Number.POSITIVE_INFINITY, baseMs: 100, maxMs: 5_000 };

interface Pending {
  completion: SuccessCompletion;
  resolve: (result: WriteResult) => void;
}

export class Completer {
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private readonly giveUp = new AbortController();
  private readonly outage: OutageTracker;
  /** Writes waiting or failing now, for /healthz (a write stuck behind a lock never fails: it waits). */
  readonly progress = new ProgressWatch();
  /** Outcomes abandoned because the database could not be reached (for the result journal). */
  readonly unwritten: Unwritten[] = [];

  constructor(private readonly sql: Sql, private readonly logger: Logger, private readonly db = new DbOperations(null, 1)) {
    this.outage = new OutageTracker(logger, "Recording task results");
  }

  success(completion: SuccessCompletion): Promise<WriteResult> {
    return new Promise((resolve) => {
      this.queue.push({ completion, resolve });
      this.flushing ??= this.drain();
    });
  }

  async failure(completion: FailureCompletion): Promise<WriteResult> {
    try {
      const written = await this.retrying(() => this.db.run("complete_failure", () => taskCompleteFailure(this.sql, completion)));
      return written ? "written" : "fenced";
    } catch (error) {
      const result = this.abandoned(error, [completion.resultId]);
      if (result === "abandoned") this.unwritten.push({ kind: "failure", completion });
      return result;
    }
  }

  /** Waits until every queued success is written (or abandoned). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  /** Stop retrying: pending writes resolve as abandoned (kept in `unwritten` for the journal). */
  abandon(): void {
    this.giveUp.abort(new Error("completer stopped"));
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        await this.writeBatch(batch);
      }
    } finally {
      this.flushing = null;
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    try {
      const outcome = await this.retrying(() =>
        this.db.run("complete_success", () => taskCompleteSuccessMany(this.sql, batch.map((p) => p.completion))),
      );
      const fenced = new Set(outcome.fenced);
      for (const pending of batch) pending.resolve(fenced.has(pending.completion.resultId) ? "fenced" : "written");
    } catch (error) {
      if (batch.length > 1 && !this.giveUp.signal.aborted) {
        // A non-retryable error (a bad row?): write the rows one by one so only that row is lost.
        for (const pending of batch) await this.writeBatch([pending]);
        return;
      }
      const result = this.abandoned(error, batch.map((p) => p.completion.resultId));
      for (const pending of batch) {
        if (result === "abandoned") this.unwritten.push({ kind: "success", completion: pending.completion });
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
