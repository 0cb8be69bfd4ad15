// Short-task batches: claim and complete short tasks in one transaction. The pick locks its rows
// (still READY; the row lock is the lease) and the transaction stays open while they run. When
// every row has its outcome, or at the bound (worker.short_task_bound) at the latest, one update
// per row writes the whole attempt: the outcome for the rows that finished, the claim (RUNNING,
// leased) for the rows still running, which then go on like any claimed row and are completed by
// the completer. A short task therefore costs one full-index write of task_runs instead of two,
// and any task running longer than the bound shows RUNNING (leased, started_at true) from then on.
//
// Failure: if the transaction does not commit, the database rolls it back: every row is READY
// again with its attempt not counted. A worker killed with it open loses those rows to the next
// claim (they run again, as a dead worker's tasks do). A worker that is alive (its connection was
// lost) takes them back at once on another connection (recover()): outcomes for the finished rows,
// the claim for the running ones, for every row nobody else has claimed in between; runs of the
// others are stopped, their outcomes dropped. A write the database refuses (a trigger, a
// constraint) is taken back the same way, except that every row is claimed and the outcomes go
// through the completer, which isolates the row it cannot store.
import type postgres from "postgres";
import type { Sql } from "../db/client.ts";
import { dbErrorCode, isRetryableDbError, withDbRetry } from "../db/retryable.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { DbOperations } from "../observability/db-operations.ts";
import { claimSettingsApply, taskPropagateTerminalFailure, workflowRecordSuccessMany, type Completion } from "../queue/index.ts";
import { taskClaimPick } from "../queue/claim-pick.ts";
import { taskBatchCommitted, taskFinishLocked, type FinishLockedParams, type LockedKind } from "../queue/short-batch.ts";
import type { ClaimedTask, ClaimParams, FailureCompletion, SuccessCompletion } from "../queue/types.ts";
import type { FinishedTask } from "../queue/workflows.ts";
import type { Completer, WriteResult } from "./completer.ts";
import type { ResultSink, RunningTask } from "./pipeline.ts";

/** How long a lost batch's recovery waits for a row lock before it leaves that row to its holder. */
const RELOCK_WAIT = "1s";

export interface ShortBatchDeps {
  sql: Sql;
  completer: Completer;
  logger: Logger;
  db: DbOperations;
  workerId: string;
  leaseSeconds: number;
  /** At the latest this long after the pick, the batch writes and commits. */
  boundMs: number;
  /** Ends the retries of a lost batch's recovery (shutdown gave up). */
  giveUp: AbortSignal;
  /**
   * Called when a lost batch starts taking its rows back: their ids (at once, before anything is
   * awaited) and a promise settled when it is done. The producer claims nothing meanwhile, and a
   * claim already in flight that returns one of those rows must leave it alone (ShortBatch.drop):
   * the row is this batch's to take back.
   */
  onRecovery?: (resultIds: readonly string[], done: Promise<void>) => void;
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
  readonly members = new Map<string, Member>();
  private closing = false;
  private written = new Set<string>();
  /** The transaction did not commit and recover() has run: a row bound from now on is not ours. */
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
        const lost = batch as ShortBatch | null;
        if (!lost) return;
        const ids = [...lost.members.keys()];
        deps.onRecovery?.(ids, lost.recover(error));
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
   * A row this batch locked but must not run (a lost batch is taking it back): never started,
   * left out of the write, so it stays READY for that batch's recovery once this one commits.
   */
  drop(resultId: string): void {
    const member = this.members.get(resultId);
    if (!member || member.running !== null || this.closing) return;
    member.forgotten = true;
    this.closeWhenComplete();
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
      // Claimed (RUNNING, leased) by the write under way, or by recover(): recorded like any
      // claimed row once that is done. A row another claim took meanwhile: the fence writes nothing.
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

  /** Rows to write: the live members, their outcomes, and those still without one (to be claimed). */
  private pending() {
    const live = [...this.members.values()].filter((m) => !m.forgotten);
    return {
      live,
      outcomes: live.flatMap((m) => (m.outcome === null ? [] : [m.outcome])),
      running: live.filter((m) => m.outcome === null).map((m) => ({ resultId: m.task.resultId, attempt: m.task.attempts })),
    };
  }

  /**
   * Inside the transaction: outcomes and claims in one statement, then chord accounting and
   * failure propagation when a row needs them. Any error fails the transaction (recover()).
   */
  private async write(tx: postgres.TransactionSql<{}>): Promise<void> {
    const { workerId, leaseSeconds, db } = this.deps;
    const { live, outcomes, running } = this.pending();
    this.deps.logger.debug("Writing a short-task batch", { rows: live.length, finished: outcomes.length, claimed: running.length, open_ms: Math.round(performance.now() - this.openedAt) });
    const rows = await db.run("complete_success", () => writeOutcomes(tx, { workerId, leaseSeconds, claimAt: this.claimAt, outcomes, promote: running }));
    this.written = new Set(rows.map((r) => r.resultId));
  }

  private committed(): void {
    for (const member of this.members.values()) {
      if (member.forgotten) continue;
      if (member.outcome === null) {
        // Claimed by the write: from now on a row like any other (heartbeat, cancel, completer).
        if (member.running) member.running.batch = null;
        continue;
      }
      member.resolve?.(this.written.has(member.task.resultId) ? "written" : "fenced");
    }
    this.settle(true);
  }

  /**
   * The transaction did not commit; the database rolled it back and every row is READY again
   * with its attempt uncounted. The rows nobody has claimed since are taken back at once, on
   * another connection (retried through an outage). After a lost connection: the finished rows
   * get their outcome and the running ones their claim, so no finished task runs again and no
   * running one is given away. After a write the database refused (a trigger, a constraint):
   * every row is claimed and its outcome goes through the completer, which isolates the row it
   * cannot store. Rows another claim holds by then are no longer this worker's: their runs are
   * stopped and their outcomes dropped.
   */
  async recover(error: unknown): Promise<void> {
    clearTimeout(this.timer);
    this.closing = true;
    const { workerId, leaseSeconds, logger, db, sql } = this.deps;
    const { live, outcomes, running } = this.pending();
    const refused = !isRetryableDbError(error);
    const all = live.map((m) => ({ resultId: m.task.resultId, attempt: m.task.attempts }));
    let written = new Set<string>();
    try {
      const takeBack = (relock: "wait" | "skip") => db.run("complete_success", () => sql.begin(async (tx) => {
        // Waits for a row's lock a little (this worker's own claim in flight may hold it and
        // leave it READY), not for a session that never ends its transaction.
        await tx`SELECT set_config('lock_timeout', ${RELOCK_WAIT}, true)`;
        const rows = await writeOutcomes(tx, {
          workerId, leaseSeconds, claimAt: this.claimAt, relock,
          outcomes: refused ? [] : outcomes,
          promote: refused ? all : running,
        });
        const taken = new Set(rows.map((r) => r.resultId));
        // A COMMIT whose answer was lost: those rows are written (or claimed) as this batch wanted.
        const committed = refused ? [] : await taskBatchCommitted(tx, { workerId, rows: all.filter((r) => !taken.has(r.resultId)) });
        return [...taken, ...committed];
      }));
      const ids = await withDbRetry(
        async () => {
          try {
            return await takeBack("wait");
          } catch (lockError) {
            if (dbErrorCode(lockError) !== "55P03") throw lockError;
            return takeBack("skip"); // a row held past the wait stays with whoever holds it
          }
        },
        { attempts: Number.POSITIVE_INFINITY, baseMs: 100, maxMs: 2_000, signal: this.deps.giveUp },
      );
      written = new Set(ids);
    } catch (recoveryError) {
      logger.error("Could not take back the rows of a short-task batch that was not committed; they run again", { count: live.length, error: errorMessage(recoveryError) });
    }
    const lost = live.filter((m) => !written.has(m.task.resultId)).length;
    if (refused) logger.warn("The database refused a short-task batch's results; its tasks were claimed and their results go one by one", { count: live.length, lost, error: errorMessage(error) });
    else logger.warn("A short-task batch was not committed; its rows were taken back on another connection", { count: live.length, taken_back: live.length - lost, lost, error: errorMessage(error) });
    this.lost = true;
    for (const member of live) {
      const mine = written.has(member.task.resultId);
      if (member.outcome !== null) {
        if (!mine) member.resolve?.("fenced");
        else if (!refused) member.resolve?.("written");
        else {
          if (member.running) member.running.batch = null;
          void this.toCompleter(member.outcome).then(member.resolve);
        }
        continue;
      }
      if (!member.running) continue;
      member.running.batch = null; // claimed now (RUNNING, leased), or not ours: the completer's fence decides
      // Another claim holds the row now: nothing of this run may go on.
      if (!mine) member.running.stop("worker_lost");
    }
    this.settle(false);
  }
}

/** taskFinishLocked, plus chord accounting and failure propagation in the same transaction when a written row needs them. */
async function writeOutcomes(tx: postgres.TransactionSql<{}>, params: FinishLockedParams): Promise<(FinishedTask & { kind: LockedKind })[]> {
  const done = await taskFinishLocked(tx, params);
  await workflowRecordSuccessMany(tx, { done: done.filter((r) => r.kind === "success") });
  await taskPropagateTerminalFailure(tx, done.filter((r) => r.kind === "terminal"));
  return done;
}
