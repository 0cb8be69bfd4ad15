// This worker's registry row as a lease on the worker itself (SPEC §4.4, §11). Every
// registry_heartbeat_seconds (H) the row gets last_seen_at = NOW() and alive_until = NOW() + N·H
// (N = dead_worker_heartbeats, 1.5 by default). Every H/6 the worker looks for other workers whose
// alive_until has passed and rescues their rows (queue/rescue.ts): a killed worker's tasks run
// again at most N·H + H/6 after its last renewal (50 s with the defaults, under two heartbeats).
//
// The other side of that promise: a worker that cannot renew its row (cut off from the database)
// stops its running tasks H/6 before its deadline, counted on this process's monotonic clock from
// when the last successful renewal was *sent* (the database stamped it later, so this errs early).
// A rescued row therefore never starts while its previous attempt can still be running, and this
// worker claims nothing until a renewal lands again. Those tasks are recorded as worker_lost
// (attempt counted, READY again) if the database comes back before another worker rescued them.
//
// A schema without alive_until (before migration 0010) keeps the old registry rows: no deadline,
// no rescue, no self-stop; rows of dead workers then wait for their leases to expire.
import type { Sql } from "../db/client.ts";
import { dbErrorCode, isRetryableDbError, withDbRetry } from "../db/retryable.ts";
import { errorMessage } from "../errors.ts";
import type { DbOperations } from "../observability/db-operations.ts";
import type { Logger } from "../observability/logger.ts";
import { workerHeartbeat, workerRegister, workerRescueDead, type WorkerDeadline, type WorkerIdentity } from "../queue/index.ts";
import { takeOverPreviousRun } from "./previous-run.ts";

const UNDEFINED_COLUMN = "42703";
const RESCUE_BATCH = 20;

export interface LivenessOptions {
  sql: Sql;
  logger: Logger;
  identity: WorkerIdentity;
  db: DbOperations;
  heartbeatSeconds: number;
  deadWorkerHeartbeats: number;
  /** Stops every running task: other workers may declare this one dead any moment now. */
  onLost: () => void;
}

/** The three durations of the scheme, in milliseconds. */
export function livenessTimings(heartbeatSeconds: number, deadWorkerHeartbeats: number) {
  const deadAfterMs = heartbeatSeconds * deadWorkerHeartbeats * 1000;
  const checkMs = (heartbeatSeconds * 1000) / 6;
  return { deadAfterMs, checkMs, stopOwnTasksAfterMs: deadAfterMs - checkMs };
}

export class Liveness {
  /** This run registered its row (only then is the row its own to delete at exit). */
  registered = false;
  private withDeadline = true;
  private lostAt: number | null = null;
  private stopTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly timings: ReturnType<typeof livenessTimings>;

  constructor(private readonly options: LivenessOptions) {
    this.timings = livenessTimings(options.heartbeatSeconds, options.deadWorkerHeartbeats);
  }

  /** How often the rescue round should run. */
  get checkIntervalMs(): number {
    return this.timings.checkMs;
  }

  /** The registry row could not be renewed in time: this worker's tasks were stopped; claim nothing. */
  get lost(): boolean {
    return this.lostAt !== null;
  }

  /**
   * The first registration (errors are the caller's to report), after taking over a previous run
   * of this worker id that died without deregistering (previous-run.ts). `tick` is called about
   * once a second while that waits.
   */
  async register(signal: AbortSignal, tick: () => void = () => {}): Promise<void> {
    if (this.withDeadline) {
      try {
        const { sql, logger, identity } = this.options;
        await takeOverPreviousRun({ sql, logger, workerId: identity.workerId }, signal, tick);
      } catch (error) {
        if (dbErrorCode(error) !== UNDEFINED_COLUMN) throw error;
        this.noDeadline(error);
      }
    }
    if (signal.aborted) return; // stopped while waiting: leave the previous run's row alone
    await this.renew((deadline) => workerRegister(this.options.sql, { ...this.options.identity, ...deadline }));
    this.registered = true;
  }

  /** One registry heartbeat, retried through outages until it lands or `signal` aborts. */
  heartbeatRound(signal: AbortSignal): () => Promise<void> {
    const { logger, db, sql, identity } = this.options;
    let warned = false;
    const warnOnce = (error: unknown): void => {
      if (!warned) logger.warn("Failed to update worker heartbeat", { error: errorMessage(error) });
      warned = true;
    };
    const retryMs = Math.max(100, Math.min(5_000, this.timings.checkMs));
    return async () => {
      try {
        const recreated = await withDbRetry(
          () => db.run(null, () => this.renew((deadline) => workerHeartbeat(sql, { ...identity, ...deadline }))),
          { attempts: Number.POSITIVE_INFINITY, baseMs: Math.min(500, retryMs), maxMs: retryMs, signal, onRetry: warnOnce },
        );
        warned = false;
        this.registered = true; // the row is this run's now, even if the first registration failed
        if (recreated) logger.warn("This worker's registry row was gone (deleted, or this worker was declared dead); registered again");
      } catch (error) {
        if (!signal.aborted) warnOnce(error);
      }
    };
  }

  /** Declares dead workers dead and requeues their rows; silent in an outage (the claim loop reports those). */
  rescueRound(): () => Promise<void> {
    const { logger, db, sql, identity } = this.options;
    let reported = false;
    return async () => {
      if (!this.withDeadline) return;
      try {
        for (;;) {
          const rescued = await db.run(null, () => workerRescueDead(sql, { workerId: identity.workerId, limit: RESCUE_BATCH }));
          for (const dead of rescued) {
            logger.warn("Declared a worker dead; its running tasks were requeued", {
              dead_worker_id: dead.workerId,
              last_seen_at: dead.lastSeenAt.toISOString(),
              requeued: dead.requeued,
              failed: dead.failed,
            });
          }
          reported = false;
          if (rescued.length < RESCUE_BATCH) return;
        }
      } catch (error) {
        if (dbErrorCode(error) === UNDEFINED_COLUMN) this.noDeadline(error);
        else if (!reported && !isRetryableDbError(error)) {
          logger.warn("Looking for dead workers failed", { error: errorMessage(error) });
          reported = true;
        }
      }
    };
  }

  stop(): void {
    clearTimeout(this.stopTimer);
  }

  /** Runs a registry write with this worker's deadline; falls back to none on a schema without it. */
  private async renew<T>(write: (deadline: WorkerDeadline) => Promise<T>): Promise<T> {
    const sentAt = performance.now();
    const aliveSeconds = this.timings.deadAfterMs / 1000;
    if (!this.withDeadline) return write({ aliveSeconds: null });
    let result: T;
    try {
      result = await write({ aliveSeconds });
    } catch (error) {
      if (dbErrorCode(error) !== UNDEFINED_COLUMN) throw error;
      this.noDeadline(error);
      return write({ aliveSeconds: null });
    }
    this.renewed(sentAt);
    return result;
  }

  private renewed(sentAt: number): void {
    if (!this.withDeadline) return;
    clearTimeout(this.stopTimer);
    const delayMs = sentAt + this.timings.stopOwnTasksAfterMs - performance.now();
    this.stopTimer = setTimeout(() => this.lose(sentAt), Math.max(0, delayMs));
    if (this.lostAt !== null) {
      const seconds = Math.round((performance.now() - this.lostAt) / 100) / 10;
      this.options.logger.info("Registry heartbeat renewed; claiming tasks again", { lost_seconds: seconds });
      this.lostAt = null;
    }
  }

  private lose(lastSentAt: number): void {
    if (this.lostAt !== null) return;
    this.lostAt = performance.now();
    this.options.logger.error("Lost the registry heartbeat; stopping running tasks before other workers declare this worker dead", {
      seconds_since_renewal: Math.round((this.lostAt - lastSentAt) / 100) / 10,
      dead_after_seconds: this.timings.deadAfterMs / 1000,
    });
    this.options.onLost();
  }

  private noDeadline(error: unknown): void {
    if (!this.withDeadline) return;
    this.withDeadline = false;
    clearTimeout(this.stopTimer);
    this.options.logger.warn("reproq_workers has no alive_until column (run `reproq migrate`): dead workers are not detected; their tasks wait for their leases to expire", {
      error: errorMessage(error),
    });
  }
}
