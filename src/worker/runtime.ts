// The worker: a producer loop that keeps a local buffer of claimed rows filled ahead of need
// (queues taking turns, rotation.ts), a pipeline per task (pipeline.ts) started from the buffer
// into a free slot, a completer that batches outcomes (completer.ts), and background services
// (services.ts). A slot is free again when its handler returns; the row stays held (heartbeat,
// cancel) until its outcome commits. Shutdown: stop claiming, give the buffered rows back
// (never started: READY, attempt undone), let tasks finish for shutdown_timeout, then stop the
// rest (recorded as `shutdown`, attempt given back), flush results (what cannot be written goes
// to the result journal, journal.ts), deregister. Start: replay any result journal before the
// first claim.
import { aborted } from "../abort.ts";
import type { RetentionConfig, WorkerConfig } from "../config/index.ts";
import type { Sql } from "../db/client.ts";
import { errorMessage } from "../errors.ts";
import type { Executor } from "../executor/index.ts";
import type { Logger } from "../observability/logger.ts";
import { isRetryableDbError, withDbRetry } from "../db/retryable.ts";
import { PartialClaimError, taskClaimBatch, taskNextRunAfter, taskReturnUnstarted, workerDeregister, type ClaimRoute, type WorkerIdentity } from "../queue/index.ts";
import type { ClaimedTask } from "../queue/types.ts";
import { PollBackoff } from "./backoff.ts";
import { Completer, MAX_BATCH } from "./completer.ts";
import { appendJournal, replayJournals } from "./journal.ts";
import { ProgressWatch } from "../observability/progress.ts";
import { OutageTracker } from "./outage.ts";
import { runTask, RunningTask, type TaskReport } from "./pipeline.ts";
import { ShortBatch } from "./short-batch.ts";
import { QueueRotation } from "./rotation.ts";
import { metricsCollector } from "./collector.ts";
import { Liveness } from "./liveness.ts";
import { cancelPoll, every, leaseHeartbeat, reclaimer, retentionPruner, stopFor } from "./services.ts";
import { Telemetry } from "./telemetry.ts";
import { UnseenClaims } from "./unseen-claims.ts";
import { Wakeup } from "./wakeup.ts";

export const TASKS_CHANNEL = "reproq_tasks";
export const CANCEL_CHANNEL = "reproq_cancel";
const CANCEL_POLL_MS = 1_000;
const FLUSH_DEADLINE_MS = 30_000;
const FORCED_FLUSH_MS = 5_000;
/** Claiming pauses while this many outcomes wait to be written (backpressure). */
const MAX_PENDING_WRITES = 2 * MAX_BATCH;
/**
 * The local buffer holds about this much work beyond the free slots, by the recent average
 * handler time: a claimed row waits there about this long at most on average. Long tasks get no
 * buffer (a row is claimed only for a free slot), so they are not held away from other workers.
 */
const BUFFER_AHEAD_MS = 100;
/** Short-task batches pause this long after one could not be opened (see batchesPausedUntil). */
const BATCH_PAUSE_AFTER_FAILURE_MS = 10_000;

export interface WorkerOptions {
  sql: Sql;
  worker: WorkerConfig;
  executor: Executor;
  logger: Logger;
  identity: WorkerIdentity;
  /** Metrics and events; none by default. */
  telemetry?: Telemetry;
  /** How often the database-wide gauges are refreshed (when telemetry has metrics). Default 5 s. */
  collectIntervalMs?: number;
  /** Background deletion of old finished tasks; off when absent or finishedOlderThanMs is 0. */
  retention?: RetentionConfig;
  /** Observes every finished task (tests). */
  onTaskDone?: (report: TaskReport) => void;
  /** The pool's statement bound (database.query_timeout): when a failed claim can no longer commit. */
  queryTimeoutMs?: number;
  /**
   * Connections that run nothing but this worker's claims, their sessions carrying the claim
   * settings (cli/context.ts openClaimSession, a ClaimSession): unkeyed claims are one statement
   * there. Absent: every claim is a transaction on `sql`.
   */
  claimSession?: ClaimRoute | null;
  /**
   * Most short-task batches open at once (each holds a connection of `sql` while its tasks run);
   * default 2. Short-task batches need worker.short_task_bound > 0 and a claim session.
   */
  shortBatchLimit?: number;
}

export class Worker {
  /** Every row this worker holds (RUNNING, leased to it): buffered, running, or being written. */
  private readonly held = new Map<string, RunningTask>();
  /** Claimed, not started yet (FIFO). */
  private buffer: RunningTask[] = [];
  /** Slots whose handler has not returned yet. */
  private busy = 0;
  /** Recent handler time (ms, moving average); null until a task has run. */
  private averageTaskMs: number | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly wakeup = new Wakeup();
  private readonly claiming = new AbortController();
  private readonly services = new AbortController();
  private readonly force = new AbortController();
  private readonly completer: Completer;
  private readonly telemetry: Telemetry;
  private readonly taskLogs: OutageTracker;
  private readonly liveness: Liveness;
  /** Claim statements waiting or failing now (for /healthz). */
  readonly claimProgress = new ProgressWatch();
  private readonly unseenClaims: UnseenClaims;
  private lastClaimFull = false;
  /** Claim statements running now (at most two: produceMain's and produceAhead's). */
  private claimsInFlight = 0;
  private peakClaims = 0;
  /** Rows asked for by the claims in flight (claimLimit() leaves room for them). */
  private reserved = 0;
  /** Where unkeyed claims go in one statement, and whether the last pick found keyed rows. */
  private readonly claimRoute: ClaimRoute | undefined;
  /** Wakes produceAhead when the main loop starts a claim during a backlog. */
  private readonly aheadWakeup = new Wakeup();
  /** The producer is paused because too many outcomes wait to be written. */
  private waitingForWrites = false;
  private lastLoopAt = performance.now();
  private lastClaimAtMs: number | null = null;
  private stopped = false;
  private unwrittenCount = 0;
  /** Short-task batches whose transaction is open. */
  private openBatches = 0;
  /**
   * Short-task batches are off until then (performance.now()): a batch could not be opened (a
   * connection of the pool lost or silent). Claims go through the claim session meanwhile, which
   * replaces its connections as a whole when one fails; batches would try the pool's one by one.
   */
  private batchesPausedUntil = 0;
  /** Lost short-task batches still taking their rows back (claims wait: they would take them first). */
  private recoveries = 0;
  /** The rows those batches are taking back: a claim already in flight that returns one leaves it alone. */
  private readonly recovering = new Set<string>();
  /** Ends the retries of lost batches' recoveries (shutdown gave up on writing results). */
  private readonly batchGiveUp = new AbortController();

  constructor(private readonly options: WorkerOptions) {
    this.telemetry = options.telemetry ?? new Telemetry({ metrics: null, events: null, workerId: options.worker.workerId, role: "", poolSize: 1 });
    this.completer = new Completer(options.sql, options.logger, this.telemetry.db);
    this.claimRoute = options.claimSession ?? undefined;
    this.taskLogs = new OutageTracker(options.logger, "Writing task logs", "task output is not being kept");
    this.unseenClaims = new UnseenClaims({ ...options, workerId: options.worker.workerId, db: this.telemetry.db });
    const { worker } = options;
    this.liveness = new Liveness({
      sql: options.sql,
      logger: options.logger,
      identity: options.identity,
      db: this.telemetry.db,
      heartbeatSeconds: worker.registryHeartbeatSeconds,
      deadWorkerHeartbeats: worker.deadWorkerHeartbeats,
      onLost: () => {
        for (const running of this.held.values()) running.stop("worker_lost");
      },
    });
    // Only a producer paused by backpressure is woken (a kick after every write would cost an
    // idle worker an empty claim per task, and delay the claim a NOTIFY asks for).
    this.completer.onBatchDone = () => {
      if (this.waitingForWrites && this.completer.pending < MAX_PENDING_WRITES) this.wakeup.kick();
    };
  }

  /** Milliseconds since the producer loop last went round (for health checks). */
  get loopAgeMs(): number {
    return performance.now() - this.lastLoopAt;
  }

  /** Wall-clock time of the last claim that returned a task; null before the first. */
  get lastClaimAt(): Date | null {
    return this.lastClaimAtMs === null ? null : new Date(this.lastClaimAtMs);
  }

  /** The producer loop is running: started, not shutting down, and went round recently. */
  loopAlive(maxAgeMs: number): boolean {
    return !this.stopped && !this.claiming.signal.aborted && this.loopAgeMs <= maxAgeMs;
  }

  /** Result writes waiting or failing now (for /healthz). */
  get resultProgress(): ProgressWatch {
    return this.completer.progress;
  }

  /** The most claim statements this worker has had in flight at once (1, or 2 during a backlog). */
  get peakClaimsInFlight(): number {
    return this.peakClaims;
  }

  /** Tasks whose handler is running. */
  get runningCount(): number {
    return this.busy;
  }

  /** After run(): how many task results could not be written to the database (0 = all written). */
  get unwrittenResults(): number {
    return this.unwrittenCount;
  }

  /** First call: stop claiming and drain. A second call stops running tasks (and result retries) at once. */
  requestShutdown(): void {
    if (this.claiming.signal.aborted) {
      this.options.logger.warn("Second shutdown signal: stopping running tasks now");
      this.force.abort();
      return;
    }
    this.options.logger.info("Shutdown requested, waiting for tasks...", { running: this.busy });
    this.claiming.abort();
  }

  /** Runs until shutdown has completed. */
  async run(): Promise<void> {
    const { logger, worker } = this.options;
    logger.info("Starting reproq worker", { concurrency: worker.concurrency, queues: worker.queues, listen: worker.listen, claim_mode: this.claimRoute !== undefined ? "single-statement" : "transaction" });
    // Before registering (a restart under the same id requeues the previous run's RUNNING rows
    // there), the first claim and the rescue service: a row still RUNNING under a previous run's
    // lease gets that run's outcome (fenced; rows reclaimed or rescued meanwhile are skipped).
    await replayJournals({ sql: this.options.sql, logger, dir: worker.journalDir, workerId: worker.workerId, signal: this.claiming.signal });
    await this.register();
    const listeners = worker.listen ? await this.listen() : [];
    const background = this.startServices(listeners.length > 0);
    try {
      // Executors that keep warm processes (python-pool) get them ready before the first claim
      // (a shutdown request does not wait for that).
      await Promise.race([this.options.executor.start?.(), aborted(this.claiming.signal)]);
      await this.produce();
    } finally {
      await this.returnBuffered();
      await this.drain();
      this.journalUnwritten();
      await this.unseenClaims.finalSweep([...this.held.keys(), ...this.completer.unwritten.map((u) => u.completion.resultId)]);
      await this.options.executor.stop?.();
      this.services.abort();
      this.liveness.stop();
      // A round may be stuck in a connect timeout during an outage; do not wait for it long.
      await Promise.race([Promise.allSettled(background), aborted(AbortSignal.timeout(1_000))]);
      // Bounded: after a connection loss postgres.js may still be re-listening.
      await Promise.race([Promise.allSettled(listeners.map((l) => l.unlisten())), aborted(AbortSignal.timeout(1_000))]);
      await this.deregister();
      this.stopped = true;
      logger.info("Worker stopped");
    }
  }

  private async produce(): Promise<void> {
    const { worker, logger } = this.options;
    const backoff = new PollBackoff(worker.pollMinBackoffMs, worker.pollMaxBackoffMs);
    const outage = new OutageTracker(logger, "Claiming tasks");
    const rotation = new QueueRotation(worker.queues);
    const signal = this.claiming.signal;
    const stopAhead = new AbortController();
    const ahead = this.produceAhead(rotation, AbortSignal.any([signal, stopAhead.signal]));
    try {
      await this.produceMain(rotation, backoff, outage, signal);
    } finally {
      stopAhead.abort();
      await ahead; // a claim it has in flight ends first: its rows are held before the buffer is given back
    }
  }

  /**
   * One claim statement for `limit` rows, its rows held on return; counted in claimsInFlight and
   * its rows reserved in claimLimit() meanwhile.
   */
  private async claimOnce(rotation: QueueRotation, limit: number): Promise<ClaimedTask[]> {
    const { sql, worker } = this.options;
    this.claimsInFlight += 1;
    this.peakClaims = Math.max(this.peakClaims, this.claimsInFlight);
    this.reserved += limit;
    const started = performance.now();
    try {
      let claimed: ClaimedTask[];
      let batch: ShortBatch | null = null;
      const request = {
        workerId: worker.workerId,
        queues: rotation.order(),
        limit,
        leaseSeconds: worker.leaseSeconds,
        priorityAgingFactor: worker.priorityAgingFactor,
      };
      try {
        if (this.shortBatchesOn()) {
          ({ claimed, batch } = await this.claimProgress.track(() => this.telemetry.db.run("claim", () => this.openShortBatch(request))));
        } else {
          claimed = await this.claimProgress.track(() => this.telemetry.db.run("claim", () => taskClaimBatch(sql, request, this.claimRoute)));
        }
      } catch (error) {
        this.unseenClaims.claimFailed(); // it may have committed without its answer reaching us
        if (!(error instanceof PartialClaimError)) throw error;
        // Its first statement's rows are ours: run them; the failure shows again at the next claim.
        this.options.logger.warn("Claiming keyed tasks failed after unkeyed ones were claimed", { claimed: error.claimed.length, error: errorMessage(error.cause) });
        claimed = error.claimed;
      }
      this.telemetry.claimed(worker.queues, (performance.now() - started) / 1000, claimed);
      rotation.advancePast(claimed.at(-1)?.queueName);
      if (claimed.length > 0) this.lastClaimAtMs = Date.now();
      // Held before the claim stops counting as in flight: the unseen-claims sweep, which runs
      // with no claim in flight, gives back leased rows that are not held.
      for (const task of claimed) this.hold(task, batch);
      return claimed;
    } finally {
      this.claimsInFlight -= 1;
      this.reserved -= limit;
    }
  }

  /**
   * Short-task batches are used while the claim route's last pick found no keyed rows (keyed rows
   * need a claim transaction's key locks), under the open-batch limit, and not after shutdown
   * began (a batch holds its rows until it closes).
   */
  private shortBatchesOn(): boolean {
    const route = this.claimRoute;
    return this.options.worker.shortTaskBoundMs > 0 && route !== undefined && !route.keyed && !this.claiming.signal.aborted
      && performance.now() >= this.batchesPausedUntil;
  }

  /**
   * The next claim waits: a lost batch is taking its rows back, or short-task batches are on and
   * as many are open as may be.
   */
  private batchesFull(): boolean {
    return this.recoveries > 0 || (this.openBatches >= (this.options.shortBatchLimit ?? 2) && this.shortBatchesOn());
  }

  /** Locks a batch of rows in a short-task batch (short-batch.ts); the batch counts as open until its transaction ends. */
  private async openShortBatch(request: Parameters<typeof taskClaimBatch>[1]): Promise<{ claimed: ClaimedTask[]; batch: ShortBatch | null }> {
    const { sql, worker, logger } = this.options;
    this.openBatches += 1;
    let opened;
    try {
      opened = await ShortBatch.open({
        sql, completer: this.completer, logger, db: this.telemetry.db, workerId: worker.workerId, leaseSeconds: worker.leaseSeconds, boundMs: worker.shortTaskBoundMs,
        giveUp: AbortSignal.any([this.force.signal, this.batchGiveUp.signal]),
        onRecovery: (resultIds, done) => {
          this.recoveries += 1;
          for (const id of resultIds) this.recovering.add(id);
          void done.finally(() => {
            this.recoveries -= 1;
            for (const id of resultIds) this.recovering.delete(id);
            this.wakeup.kick();
          });
        },
      }, request);
    } catch (error) {
      this.openBatches -= 1;
      if (isRetryableDbError(error)) {
        this.batchesPausedUntil = performance.now() + BATCH_PAUSE_AFTER_FAILURE_MS;
        // The claim session's connections have sat unused while batches claimed, as long as the
        // one that just failed: replace them before the claims that follow rely on them.
        this.claimRoute?.sessionFailed?.();
      }
      throw error;
    }
    if (opened.keyed && this.claimRoute) this.claimRoute.keyed = true;
    const { batch } = opened;
    if (batch === null) {
      this.openBatches -= 1;
      return { claimed: [], batch: null };
    }
    // Shutdown waits for it (drain): its rows are READY until it commits.
    const ended: Promise<void> = batch.ended.then(() => {
      this.openBatches -= 1;
      this.inFlight.delete(ended);
      this.wakeup.kick(); // the producer may wait for an open batch to end (batchesFull)
      this.aheadWakeup.kick();
    });
    this.inFlight.add(ended);
    return { claimed: opened.tasks, batch };
  }

  /**
   * The second claim in flight, only while there is a backlog: while the main loop waits for its
   * claim (one statement of claim_batch_size rows took ~19 ms under load, most of the loop's
   * time), this one claims the next rows, so the database works on two claims at once. It never
   * polls: an idle worker runs one claim at a time. Its failures are reported by the main loop's
   * next claim (the same database), and it never sweeps unseen claims (unseen-claims.ts), which
   * must run with no claim in flight.
   */
  private async produceAhead(rotation: QueueRotation, signal: AbortSignal): Promise<void> {
    const { worker, logger } = this.options;
    while (!signal.aborted) {
      const limit = this.claimLimit();
      if (!this.lastClaimFull || this.claimsInFlight !== 1 || limit <= 0 || this.liveness.lost || this.waitingForWrites || this.batchesFull()) {
        await this.aheadWakeup.wait(worker.pollMaxBackoffMs, signal);
        continue;
      }
      let claimed: ClaimedTask[];
      try {
        claimed = await this.claimOnce(rotation, limit);
      } catch {
        await this.aheadWakeup.wait(worker.pollMaxBackoffMs, signal);
        continue;
      }
      logger.debug("Claimed tasks ahead", { claimed: claimed.length, limit, running: this.busy, buffered: this.buffer.length });
      this.startBuffered();
      if (claimed.length < limit) this.lastClaimFull = false;
    }
  }

  private async produceMain(rotation: QueueRotation, backoff: PollBackoff, outage: OutageTracker, signal: AbortSignal): Promise<void> {
    const { worker, logger } = this.options;
    while (!signal.aborted) {
      this.lastLoopAt = performance.now();
      this.startBuffered();
      const limit = this.claimLimit();
      this.waitingForWrites = this.completer.pending >= MAX_PENDING_WRITES;
      if (limit <= 0 || this.liveness.lost || this.waitingForWrites || this.batchesFull()) {
        await this.wakeup.wait(worker.pollMaxBackoffMs, signal);
        continue;
      }
      // After a failed claim (unseen-claims.ts); never with another claim in flight, whose rows
      // are leased to this worker but not held yet.
      if (this.claimsInFlight === 0) await this.unseenClaims.sweep(this.held.keys());
      let claimed: ClaimedTask[];
      const started = performance.now();
      try {
        const claiming = this.claimOnce(rotation, limit);
        if (this.lastClaimFull) this.aheadWakeup.kick(); // a backlog: the second claim may go too
        claimed = await claiming;
        outage.succeeded();
      } catch (error) {
        outage.failed(error);
        await this.wakeup.wait(backoff.next(), signal);
        continue;
      }
      logger.debug("Claimed tasks", { claimed: claimed.length, limit, running: this.busy, buffered: this.buffer.length });
      this.startBuffered();
      this.lastClaimFull = claimed.length === limit;
      if (claimed.length > 0) backoff.reset();
      if (this.lastClaimFull) continue;
      await this.wakeup.wait(await this.idleSleepMs(backoff, started), signal);
    }
  }

  /**
   * Rows buffered beyond the free slots: BUFFER_AHEAD_MS of work at the recent handler time, and
   * only while there is a backlog (the last claim came back full): an idle worker woken for one
   * new row claims for its free slots only.
   */
  private aheadSize(): number {
    const { concurrency, claimBatchSize } = this.options.worker;
    if (this.averageTaskMs === null || !this.lastClaimFull) return 0;
    return Math.min(claimBatchSize, Math.floor((concurrency * BUFFER_AHEAD_MS) / Math.max(this.averageTaskMs, 0.01)));
  }

  /** How many rows to claim now: 0 while the buffer is above its low-water mark (half the ahead size). */
  private claimLimit(): number {
    const { claimBatchSize } = this.options.worker;
    const ahead = this.aheadSize();
    if (this.buffer.length > Math.floor(ahead / 2)) return 0;
    return Math.min(claimBatchSize, this.slots() - this.busy + ahead - this.buffer.length - this.reserved);
  }

  /**
   * Tasks run at once: the concurrency, plus the executor's queue-ahead (python-pool persistent:
   * a task waiting in the pool for the first free child) while tasks are short, as the local
   * buffer is: a long task never waits behind another inside the executor.
   */
  private slots(): number {
    const { concurrency } = this.options.worker;
    const queueAhead = this.options.executor.queueAhead ?? 0;
    if (queueAhead <= 0 || this.averageTaskMs === null || this.averageTaskMs >= BUFFER_AHEAD_MS) return concurrency;
    return concurrency + queueAhead;
  }

  /** Busy slots as reported (a task queued ahead inside the executor does not count twice). */
  private get busySlots(): number {
    return Math.min(this.busy, this.options.worker.concurrency);
  }

  /** A freed slot takes the next buffered row; the producer refills at the low-water mark when work is likely waiting. */
  private slotFreed(): void {
    this.startBuffered();
    if (this.lastClaimFull && this.claimLimit() > 0) this.wakeup.kick();
  }

  /**
   * Poll backoff, shortened to wake when the earliest delayed task becomes due. `claimStartedAt`
   * (performance.now() when the last claim began) widens the look-up to rows that became due
   * since that claim read the table: they are returned with a past time (sleep 0) rather than
   * missed until the next poll (up to poll_max_backoff late).
   */
  private async idleSleepMs(backoff: PollBackoff, claimStartedAt: number): Promise<number> {
    const sleepMs = backoff.next();
    try {
      // Part of looking for work: a lock on task_runs holds this read as it holds the claim.
      const sinceMs = performance.now() - claimStartedAt + 1;
      const dueAt = await this.claimProgress.track(() => this.telemetry.db.run(null, () => taskNextRunAfter(this.options.sql, { queues: this.options.worker.queues, sinceMs })));
      // A wake-up hint only (the claim compares with the database clock), so clock skew between
      // this host and the database costs at most a few extra empty claims. +1 ms: a Date keeps
      // whole milliseconds of the microsecond run_after, and a claim that starts before it is
      // due finds nothing.
      return dueAt === null ? sleepMs : Math.max(0, Math.min(sleepMs, dueAt.getTime() + 1 - Date.now()));
    } catch {
      return sleepMs; // the claim reports outages
    }
  }

  /**
   * A claimed row joins the held rows and the buffer; stopped there (cancel, lost lease), it is
   * recorded at once. A row of a short-task batch is bound to it (READY, locked, until it commits).
   */
  private hold(task: ClaimedTask, batch: ShortBatch | null): void {
    if (batch !== null && this.recovering.has(task.resultId)) {
      // Its earlier run (a lost batch) is being recorded; this batch leaves the row READY for that.
      batch.drop(task.resultId);
      return;
    }
    const running = new RunningTask(task);
    this.held.set(task.resultId, running);
    batch?.bind(running);
    this.buffer.push(running);
    running.controller.signal.addEventListener(
      "abort",
      () => {
        const index = this.buffer.indexOf(running);
        if (index < 0) return; // started, or given back
        this.buffer.splice(index, 1);
        this.start(running, false);
      },
      { once: true },
    );
  }

  /** Moves buffered rows into free slots. */
  private startBuffered(): void {
    while (this.busy < this.slots() && this.buffer.length > 0 && !this.claiming.signal.aborted) {
      this.start(this.buffer.shift() as RunningTask, true);
    }
  }

  /** Runs a held row through the pipeline; a `slotted` row takes a slot until its handler returns. */
  private start(running: RunningTask, slotted: boolean): void {
    const { task } = running;
    const startedAt = performance.now();
    let inSlot = slotted;
    if (slotted) this.busy += 1;
    this.telemetry.busySlots(this.busySlots);
    const freeSlot = () => {
      if (!inSlot) return;
      inSlot = false;
      this.busy -= 1;
      const ms = performance.now() - startedAt;
      this.averageTaskMs = this.averageTaskMs === null ? ms : this.averageTaskMs * 0.9 + ms * 0.1;
      this.telemetry.busySlots(this.busySlots);
      this.slotFreed();
    };
    const deps = { worker: this.options.worker, executor: this.options.executor, completer: this.completer, logger: this.options.logger, telemetry: this.telemetry, taskLogs: this.taskLogs };
    const done: Promise<void> = runTask(deps, running, freeSlot)
      .then((report) => this.options.onTaskDone?.(report))
      .catch(async (error: unknown) => {
        freeSlot();
        this.options.logger.error("Execution pipeline error", { result_id: task.resultId, error: errorMessage(error) });
        // Never leave the row RUNNING until its lease expires: record the crash as an infra error.
        const entry = { kind: "infra_error", message: `worker error while running the task: ${errorMessage(error)}`, attempt: task.attempts, worker_id: this.options.worker.workerId };
        await this.completer.failure({
          resultId: task.resultId,
          workerId: this.options.worker.workerId,
          attempt: task.attempts,
          error: entry,
          disposition: task.attempts < task.maxAttempts ? { type: "retry", retryDelaySeconds: this.options.worker.retryBaseSeconds } : { type: "terminal" },
          lastError: `infra_error: ${entry.message}`.slice(0, 1000),
          logsUri: null,
        });
      })
      .finally(() => {
        freeSlot();
        // The same row may have been claimed again (a later attempt): only remove our own entry.
        if (this.held.get(task.resultId) === running) this.held.delete(task.resultId);
        this.inFlight.delete(done);
      });
    this.inFlight.add(done);
  }

  /**
   * Shutdown: rows still in the buffer never started; they go back to READY at once (attempt and
   * worker_ids entry undone) rather than wait out their lease. When that write fails the rows
   * stay RUNNING until reclaim or dead-worker rescue returns them.
   */
  private async returnBuffered(): Promise<void> {
    const { sql, worker, logger } = this.options;
    const buffered = this.buffer.splice(0);
    for (const running of buffered) if (this.held.get(running.task.resultId) === running) this.held.delete(running.task.resultId);
    // A short-task batch's rows are READY already: its transaction simply leaves them out. One
    // whose batch is writing now is being claimed: it is given back below once that committed.
    const forgotten = new Set<RunningTask>();
    const writing = new Set<Promise<boolean>>();
    for (const running of buffered) {
      if (!(running.batch instanceof ShortBatch)) continue;
      if (running.batch.forget(running)) forgotten.add(running);
      else writing.add(running.batch.ended);
    }
    await Promise.all(writing);
    const rows = buffered.filter((running) => !forgotten.has(running) && running.batch === null);
    if (rows.length === 0) return;
    const ids = rows.map((r) => ({ resultId: r.task.resultId, attempt: r.task.attempts }));
    try {
      const returned = await withDbRetry(() => this.telemetry.db.run(null, () => taskReturnUnstarted(sql, { workerId: worker.workerId, rows: ids })), {
        attempts: 5,
        baseMs: 200,
        maxMs: 2_000,
        signal: this.force.signal,
      });
      logger.info("Returned claimed tasks that had not started", { count: returned.length });
    } catch (error) {
      logger.error("Could not return claimed tasks that had not started; they run again after their lease expires or this worker is declared dead", {
        result_ids: ids.map((r) => r.resultId),
        error: errorMessage(error),
      });
    }
  }

  private async drain(): Promise<void> {
    const { worker, logger } = this.options;
    const allDone = () => Promise.allSettled([...this.inFlight]);
    if (this.busy > 0) {
      const graceOver = AbortSignal.any([this.force.signal, AbortSignal.timeout(Math.max(1, worker.shutdownTimeoutMs))]);
      await Promise.race([allDone(), aborted(graceOver)]);
      if (this.busy > 0) {
        logger.warn("Stopping tasks still running at shutdown; they will run again", { count: this.busy });
        this.options.executor.shuttingDown?.();
        for (const running of this.held.values()) if (!running.finished) running.stop("shutdown");
      }
    }
    // Result writes retry through outages; bound that wait: FLUSH_DEADLINE_MS, or a few seconds
    // once a second signal has come (enough for a healthy database, short in an outage).
    const giveUp = new AbortController();
    const deadline = setTimeout(() => giveUp.abort(), FLUSH_DEADLINE_MS);
    let forcedDeadline: ReturnType<typeof setTimeout> | undefined;
    const onForce = () => (forcedDeadline = setTimeout(() => giveUp.abort(), FORCED_FLUSH_MS));
    if (this.force.signal.aborted) onForce();
    else this.force.signal.addEventListener("abort", onForce, { once: true });
    const settled = await Promise.race([
      allDone().then(() => this.completer.flush()).then(() => true),
      aborted(giveUp.signal).then(() => false),
    ]);
    clearTimeout(deadline);
    clearTimeout(forcedDeadline);
    this.force.signal.removeEventListener("abort", onForce);
    if (!settled) {
      logger.error("Gave up writing task results at shutdown; they go to the result journal");
      this.completer.abandon();
      this.batchGiveUp.abort();
      await allDone();
    }
  }

  /** Keeps the outcomes the completer could not write in the journal for the next start. */
  private journalUnwritten(): void {
    const { logger, worker } = this.options;
    const unwritten = this.completer.unwritten;
    this.unwrittenCount = unwritten.length;
    if (unwritten.length === 0) return;
    const resultIds = unwritten.map((u) => u.completion.resultId);
    try {
      const file = appendJournal(worker.journalDir, worker.workerId, unwritten);
      logger.error("Task results could not be written; they are in the result journal and are written at the next worker start", { file, count: unwritten.length, result_ids: resultIds });
    } catch (error) {
      logger.error("Task results could not be written, nor kept in the result journal; those rows stay RUNNING until they are reclaimed and run again", {
        journal_dir: worker.journalDir,
        result_ids: resultIds,
        error: errorMessage(error),
      });
    }
  }

  private startServices(listening: boolean): Promise<void>[] {
    const { sql, worker, logger } = this.options;
    const db = this.telemetry.db;
    const signal = this.services.signal;
    const loops: Promise<void>[] = [];
    if (worker.heartbeatSeconds > 0) {
      const intervalMs = worker.heartbeatSeconds * 1000;
      const lease = { workerId: worker.workerId, leaseSeconds: worker.leaseSeconds, intervalMs, signal, db };
      loops.push(every(intervalMs, signal, leaseHeartbeat(sql, logger, this.held, lease)));
    }
    // With LISTEN up a cancel normally arrives by NOTIFY; the poll catches the rest either way.
    loops.push(every(listening ? CANCEL_POLL_MS * 2 : CANCEL_POLL_MS, signal, cancelPoll(sql, logger, this.held, worker.workerId, db)));
    if (worker.reclaimIntervalSeconds > 0) {
      const reclaim = reclaimer(sql, logger, worker.leaseSeconds, db);
      loops.push(reclaim().then(() => every(worker.reclaimIntervalSeconds * 1000, signal, reclaim)));
    }
    loops.push(every(worker.registryHeartbeatSeconds * 1000, signal, this.liveness.heartbeatRound(signal)));
    loops.push(every(this.liveness.checkIntervalMs, signal, this.liveness.rescueRound()));
    const retention = this.options.retention;
    if (retention && retention.finishedOlderThanMs > 0) {
      const prune = retentionPruner(sql, logger, retention, db, signal);
      loops.push(prune().then(() => every(retention.intervalMs, signal, prune)));
    }
    const metrics = this.telemetry.metrics;
    if (metrics) {
      const collect = metricsCollector(sql, logger, metrics, db);
      loops.push(collect().then(() => every(this.options.collectIntervalMs ?? 5_000, signal, collect)));
    }
    return loops;
  }

  /** LISTEN for new work on our queues and for cancellations; a (re)connect triggers a claim. */
  private async listen(): Promise<{ unlisten(): Promise<void> }[]> {
    const { sql, worker, logger } = this.options;
    const queues = new Set(worker.queues);
    const results = await Promise.allSettled([
      sql.listen(TASKS_CHANNEL, (queue) => queues.has(queue) && this.wakeup.kick(), () => this.wakeup.kick()),
      sql.listen(CANCEL_CHANNEL, (resultId) => stopFor(this.held.get(resultId), "cancel", logger)),
    ]);
    const listeners = results.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
    const failed = results.find((result): result is PromiseRejectedResult => result.status === "rejected");
    if (!failed) return listeners;
    logger.warn("LISTEN failed; relying on polling", { error: errorMessage(failed.reason) });
    await Promise.allSettled(listeners.map((listener) => listener.unlisten()));
    return [];
  }

  private async register(): Promise<void> {
    try {
      // Keeps the health check's loop clock fresh while it waits for a previous run's deadline.
      await this.liveness.register(this.claiming.signal, () => (this.lastLoopAt = performance.now()));
    } catch (error) {
      this.options.logger.warn("Failed to register worker", { error: errorMessage(error) });
    }
  }

  private async deregister(): Promise<void> {
    if (!this.liveness.registered) return; // the row may still be a previous run's
    try {
      // Bounded: during an outage a stale registry row is harmless (it ages out as not live).
      const done = workerDeregister(this.options.sql, { workerId: this.options.identity.workerId });
      await Promise.race([done, aborted(AbortSignal.timeout(2_000)).then(() => Promise.reject(new Error("database did not answer within 2 s")))]);
    } catch (error) {
      this.options.logger.warn("Failed to remove the worker's registry row", { error: errorMessage(error) });
    }
  }
}
