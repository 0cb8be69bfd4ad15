// The worker's background services. Each is a loop on an AbortSignal; a failed round is logged
// once per outage and retried at the next tick, never crashing the worker.
import type { RetentionConfig } from "../config/index.ts";
import type { Sql } from "../db/client.ts";
import { withDbRetry } from "../db/retryable.ts";
import type { Logger } from "../observability/logger.ts";
import type { DbOperations } from "../observability/db-operations.ts";
import { pruneCutoffRead, pruneFinishedTasks, taskCancelRequestedMany, taskHeartbeatMany, taskReclaimExpired } from "../queue/index.ts";
import { OutageTracker } from "./outage.ts";
import type { RunningTask } from "./pipeline.ts";

export { every } from "../abort.ts";

/**
 * Lease renewal for every running task in one statement. Rows missing from the answer were taken
 * over (reclaimed) — their executors are stopped and nothing is written for them. A database
 * error is not a lost lease: it is retried at the next round.
 */
export function leaseHeartbeat(
  sql: Sql,
  logger: Logger,
  running: ReadonlyMap<string, RunningTask>,
  options: { workerId: string; leaseSeconds: number; intervalMs: number; signal: AbortSignal; db: DbOperations },
) {
  const outage = new OutageTracker(logger, "Lease heartbeat");
  return async (): Promise<void> => {
    const resultIds = leasedIds(running);
    if (resultIds.length === 0) return;
    try {
      // Retried quickly (1 s, 2 s, … up to the interval): after an outage the lease must be
      // renewed before it runs out, not one whole interval later.
      const held = await withDbRetry(
        () => options.db.run("heartbeat", () => taskHeartbeatMany(sql, { resultIds, workerId: options.workerId, leaseSeconds: options.leaseSeconds })),
        { attempts: 6, baseMs: 1_000, maxMs: Math.max(1_000, options.intervalMs / 2), signal: options.signal, onRetry: (error) => outage.failed(error) },
      );
      outage.succeeded();
      const stillHeld = new Set(held.map((row) => row.resultId));
      for (const row of held) if (row.cancelRequested) stopFor(running.get(row.resultId), "cancel", logger);
      for (const id of resultIds) if (!stillHeld.has(id)) stopFor(running.get(id), "lease_lost", logger);
    } catch (error) {
      outage.failed(error);
    }
  };
}

/**
 * The ~1 s cancellation poll: the only path when LISTEN is off, and a safety net when it is on (a
 * NOTIFY sent while LISTEN reconnects is lost, and a retried row keeps its cancel_requested).
 */
export function cancelPoll(sql: Sql, logger: Logger, running: ReadonlyMap<string, RunningTask>, workerId: string, db: DbOperations) {
  return async (): Promise<void> => {
    const resultIds = leasedIds(running);
    if (resultIds.length === 0) return;
    try {
      for (const id of await db.run(null, () => taskCancelRequestedMany(sql, { resultIds, workerId }))) stopFor(running.get(id), "cancel", logger);
    } catch {
      // The heartbeat reports outages; a missed poll only delays cancellation.
    }
  };
}

/** The held rows that are leased (RUNNING); rows of an open short-task batch are READY, only locked. */
function leasedIds(running: ReadonlyMap<string, RunningTask>): string[] {
  const ids: string[] = [];
  for (const [id, task] of running) if (task.batch === null) ids.push(id);
  return ids;
}

export function stopFor(task: RunningTask | undefined, reason: "cancel" | "lease_lost", logger: Logger): void {
  // A finished task's row may already be written (not RUNNING): that is no lost lease.
  if (!task || task.abortReason !== null || task.finished) return;
  const log = logger.child({ result_id: task.task.resultId });
  if (reason === "cancel") log.warn("Remote cancellation requested");
  else log.error("Lease lost; stopping the task without recording a result");
  task.stop(reason);
}

/** Returns expired leases to READY (or FAILED when attempts are used up), in batches. */
export function reclaimer(sql: Sql, logger: Logger, leaseSeconds: number, db: DbOperations) {
  const outage = new OutageTracker(logger, "Reclaiming expired tasks");
  return async (): Promise<void> => {
    try {
      let requeued = 0;
      let failed = 0;
      for (;;) {
        const batch = await db.run("reclaim", () => taskReclaimExpired(sql, { leaseSeconds, limit: 500 }));
        requeued += batch.requeued;
        failed += batch.failed;
        if (batch.requeued + batch.failed < 500) break;
      }
      outage.succeeded();
      if (requeued + failed > 0) logger.info("Reclaimed expired tasks", { count: requeued + failed, requeued, failed });
    } catch (error) {
      outage.failed(error);
    }
  };
}

/**
 * Retention: deletes finished tasks older than the configured age, in committed batches, until
 * caught up. Only one worker prunes at a time: each batch takes the prune advisory lock with a
 * try, and a worker that finds it held leaves this round to the holder.
 */
export function retentionPruner(sql: Sql, logger: Logger, retention: RetentionConfig, db: DbOperations, signal: AbortSignal) {
  const outage = new OutageTracker(logger, "Pruning finished tasks");
  return async (): Promise<void> => {
    try {
      const started = performance.now();
      const cutoff = await db.run(null, () => pruneCutoffRead(sql, { olderThanMs: retention.finishedOlderThanMs }));
      const result = await db.run(null, () =>
        pruneFinishedTasks(sql, { cutoff, statuses: retention.statuses, batchSize: retention.batchSize, limit: 0, wait: false, signal }),
      );
      outage.succeeded();
      if (result.pruned > 0) {
        logger.info("Pruned finished tasks", {
          count: result.pruned,
          batches: result.batches,
          detached_children: result.detached,
          finished_before: cutoff.toISOString(),
          statuses: retention.statuses,
          duration_ms: Math.round(performance.now() - started),
        });
      } else if (result.busy) {
        logger.debug("Another process is pruning; skipping this retention round");
      }
    } catch (error) {
      outage.failed(error);
    }
  };
}
