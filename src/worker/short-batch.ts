// Short-task batches: claim and complete short tasks in one transaction. The pick locks its rows
// (still READY; the row lock is the lease) and the transaction stays open while they run. When
// every row has its outcome, or at the bound (worker.short_task_bound) at the latest, one update
// per row writes the whole attempt: the outcome for the rows that finished, the claim (RUNNING,
// leased) for the rows still running, which then go on like any claimed row and are completed by
// the completer. A short task therefore costs one full-index write of task_runs instead of two,
// and any task running longer than the bound shows RUNNING (leased, started_at true) from then on.
//
// Failure: if the transaction does not commit (connection lost, worker killed), the database
// rolls it back: every row is READY again with its attempt not counted, and runs again, like a
// task whose worker died. Rows still running then are stopped at once (another worker may claim
// them now); their outcomes go to the completer, whose fence writes nothing unless the commit went
// through unseen. A row the database refuses to store (a non-retryable error) does not sink the
// batch: the write is rolled back to a savepoint, every row is claimed instead, and the outcomes
// go through the completer, which isolates the bad row.
import type postgres from "postgres";
import type { Sql } from "../db/client.ts";
import { isRetryableDbError } from "../db/retryable.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { DbOperations } from "../observability/db-operations.ts";
import { claimSettingsApply, taskPropagateTerminalFailure, workflowRecordSuccessMany, type Completion } from "../queue/index.ts";
import { taskClaimPick } from "../queue/claim-pick.ts";
import { taskFinishLocked, type LockedKind } from "../queue/short-batch.ts";
import type { ClaimedTask, ClaimParams, FailureCompletion, SuccessCompletion } from "../queue/types.ts";
import type { FinishedTask } from "../queue/workflows.ts";
import type { Completer, WriteResult } from "./completer.ts";
import type { ResultSink, RunningTask } from "./pipeline.ts";

export interface ShortBatchDeps {
  sql: Sql;
  completer: Completer;
  logger: Logger;
  db: DbOperations;
  workerId: string;
  leaseSeconds: number;
  /** At the latest this long after the pick, the batch writes and commits. */
  boundMs: number;
}

interface Member {
  task: ClaimedTask;
  running: RunningTask | null;
  outcome: Completion | null;
  resolve: ((result: WriteResult) => void) | null;
  /** Never started and given up (shutdown): not written, so it stays READY. */
  forgotten: boolean;
}

export interface OpenedBatch {
  /** The batch the tasks belong to; null when the pick locked nothing (already committed). */
  batch: ShortBatch | null;
  tasks: ClaimedTask[];
  /** The pick met keyed rows (lock/concurrency key, rate bucket): those need a claim transaction. */
  keyed: boolean;
}

export class ShortBatch implements ResultSink {
  private readonly members = new Map<string, Member>();
  private closing = false;
  /** The write failed with a non-retryable error: every row was claimed, outcomes go to the completer. */
  private fellBack = false;
  private written = new Set<string>();
  /** The transaction failed: the rows are not ours (see failed()). */
  private lost = false;
  private release: () => void = () => {};
  private readonly released = new Promise<void>((resolve) => (this.release = resolve));
  private readonly timer: ReturnType<typeof setTimeout>;
  private readonly openedAt = performance.now();
  private settle: (committed: boolean) => void = () => {};
  /** Settles when the transaction has ended: true = committed, false = rolled back or unknown. */
  readonly ended = new Promise<boolean>((resolve) => (this.settle = resolve));

  private constructor(private readonly deps: ShortBatchDeps, private readonly claimAt: string, tasks: readonly ClaimedTask[]) {
    for (const task of tasks) this.members.set(task.resultId, { task, running: null, outcome: null, resolve: null, forgotten: false });
    this.timer = setTimeout(() => this.close(), deps.boundMs);
  }

  /**
   * Opens a transaction and locks up to `request.limit` unkeyed READY rows (the claim pick in lock
   * mode). Resolves once they are locked; the transaction stays open until the batch closes.
   * Rejects (nothing locked) when the pick fails.
   */
  static async open(deps: ShortBatchDeps, request: ClaimParams): Promise<OpenedBatch> {
    let batch: ShortBatch | null = null;
    let picked: (outcome: OpenedBatch) => void = () => {};
    let pickFailed: (error: unknown) => void = () => {};
    const opened = new Promise<OpenedBatch>((resolve, reject) => {
      picked = resolve;
      pickFailed = reject;
    });
    const transaction = deps.sql.begin(async (tx) => {
      // Sent back to back (pipelined), as in a claim transaction.
      const [, pick] = await Promise.all([claimSettingsApply(tx), taskClaimPick(tx, request, null, "lock")]);
      const tasks = pick.claimed.map((c) => c.task);
      const keyed = pick.deferred.length > 0;
      if (tasks.length === 0 || pick.claimAt === null) {
        picked({ batch: null, tasks: [], keyed });
        return;
      }
      const opening = new ShortBatch(deps, pick.claimAt, tasks);
      batch = opening;
      picked({ batch: opening, tasks, keyed });
      await opening.released;
      await opening.write(tx);
    });
    transaction.then(
      () => (batch as ShortBatch | null)?.committed(),
      (error: unknown) => {
        pickFailed(error);
        (batch as ShortBatch | null)?.failed(error);
      },
    );
    return opened;
  }

  /** The runtime's RunningTask for a row of this batch (held, buffered or started). */
  bind(running: RunningTask): void {
    const member = this.members.get(running.task.resultId);
    if (!member) return;
    member.running = running;
    running.batch = this;
    if (!this.lost) return;
    running.batch = null;
    running.stop("worker_lost");
  }

  /**
   * A row of this batch that never started and will not (shutdown): left READY. False when the
   * batch is already writing (the row is being claimed: give it back once `ended` settles).
   */
  forget(running: RunningTask): boolean {
    const member = this.members.get(running.task.resultId);
    if (!member || member.outcome !== null || this.closing) return false;
    member.forgotten = true;
    this.closeWhenComplete();
    return true;
  }

  success(completion: SuccessCompletion): Promise<WriteResult> {
    return this.accept({ kind: "success", completion });
  }

  failure(completion: FailureCompletion): Promise<WriteResult> {
    return this.accept({ kind: "failure", completion });
  }

  private accept(outcome: Completion): Promise<WriteResult> {
    const member = this.members.get(outcome.completion.resultId);
    if (!member || this.closing || member.outcome !== null) {
      // Claimed (RUNNING, leased) by the write under way: recorded like any claimed row once it
      // has committed. Had it failed, the completer's fence writes nothing.
      return this.ended.then(() => this.toCompleter(outcome));
    }
    member.outcome = outcome;
    const written = new Promise<WriteResult>((resolve) => (member.resolve = resolve));
    this.closeWhenComplete();
    return written;
  }

  private closeWhenComplete(): void {
    for (const member of this.members.values()) if (member.outcome === null && !member.forgotten) return;
    this.close();
  }

  private close(): void {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.timer);
    this.release();
  }

  private toCompleter(outcome: Completion): Promise<WriteResult> {
    return outcome.kind === "success" ? this.deps.completer.success(outcome.completion) : this.deps.completer.failure(outcome.completion);
  }

  /** Inside the transaction: outcomes and promotions in one statement (plus workflow bookkeeping when needed). */
  private async write(tx: postgres.TransactionSql<{}>): Promise<void> {
    const { workerId, leaseSeconds, db } = this.deps;
    const live = [...this.members.values()].filter((m) => !m.forgotten);
    const outcomes = live.flatMap((m) => (m.outcome === null ? [] : [m.outcome]));
    const promote = live.filter((m) => m.outcome === null).map((m) => ({ resultId: m.task.resultId, attempt: m.task.attempts }));
    this.deps.logger.debug("Writing a short-task batch", { rows: live.length, finished: outcomes.length, claimed: promote.length, open_ms: Math.round(performance.now() - this.openedAt) });
    let rows: (FinishedTask & { kind: LockedKind })[];
    try {
      rows = await db.run("complete_success", async () => {
        // SAVEPOINT, the write and RELEASE go out together (one round trip); a failed write makes
        // the RELEASE fail too, and the catch below rolls back to the savepoint.
        const saved = tx.unsafe("SAVEPOINT short_batch");
        const writing = taskFinishLocked(tx, { workerId, leaseSeconds, claimAt: this.claimAt, outcomes, promote });
        if (!outcomes.some((o) => this.needsWorkflowWork(o))) {
          const [, done] = await Promise.all([saved, writing, tx.unsafe("RELEASE SAVEPOINT short_batch")]);
          return done;
        }
        const [, done] = await Promise.all([saved, writing]);
        await workflowRecordSuccessMany(tx, { done: done.filter((r) => r.kind === "success") });
        await taskPropagateTerminalFailure(tx, done.filter((r) => r.kind === "terminal"));
        await tx.unsafe("RELEASE SAVEPOINT short_batch");
        return done;
      });
    } catch (error) {
      if (isRetryableDbError(error)) throw error;
      await tx.unsafe("ROLLBACK TO SAVEPOINT short_batch");
      this.deps.logger.warn("The database refused a short-task batch's results; claiming its tasks and recording their results one by one", { count: live.length, error: errorMessage(error) });
      this.fellBack = true;
      const every = live.map((m) => ({ resultId: m.task.resultId, attempt: m.task.attempts }));
      rows = await db.run("claim", () => taskFinishLocked(tx, { workerId, leaseSeconds, claimAt: this.claimAt, outcomes: [], promote: every }));
    }
    this.written = new Set(rows.map((r) => r.resultId));
  }

  /** A success of a workflow member (chord accounting) or a terminal failure (propagation). The row is locked since the pick: its workflow_id is as picked. */
  private needsWorkflowWork(outcome: Completion): boolean {
    if (outcome.kind === "failure") return outcome.completion.disposition.type === "terminal";
    return this.members.get(outcome.completion.resultId)?.task.workflowId != null;
  }

  private committed(): void {
    for (const member of this.members.values()) {
      if (member.forgotten) continue;
      if (member.outcome === null || this.fellBack) {
        // Claimed by the write: from now on a row like any other (heartbeat, cancel, completer).
        if (member.running) member.running.batch = null;
        if (member.outcome !== null) void this.toCompleter(member.outcome).then(member.resolve);
        continue;
      }
      member.resolve?.(this.written.has(member.task.resultId) ? "written" : "fenced");
    }
    this.settle(true);
  }

  private failed(error: unknown): void {
    clearTimeout(this.timer);
    this.closing = true;
    this.lost = true;
    const live = [...this.members.values()].filter((m) => !m.forgotten);
    this.deps.logger.warn("A short-task batch could not be committed; its tasks are READY again and run again", {
      count: live.length,
      finished: live.filter((m) => m.outcome !== null).length,
      error: errorMessage(error),
    });
    for (const member of live) {
      if (member.outcome !== null) {
        member.resolve?.("fenced");
        continue;
      }
      // Another worker may claim the row from now on: nothing of this run may go on.
      if (member.running) {
        member.running.batch = null;
        member.running.stop("worker_lost");
      }
    }
    this.settle(false);
  }
}
