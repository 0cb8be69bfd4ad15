// Rescue of a dead worker's rows: a registry row whose alive_until has passed belongs to a worker
// that stopped renewing it (killed, frozen, cut off; a cut-off worker stops its own tasks before
// the deadline). Any live worker may declare it dead; SKIP LOCKED on the registry row makes one
// of them do it. Its RUNNING rows go back to READY (or FAILED when out of attempts, with the same
// propagation as any terminal failure) long before their leases would expire. Lock order: registry
// rows, then task rows in ascending result_id, then what propagation locks (workflows.ts).

import type { Queryable, Sql } from "../db/client.ts";
import { runningRowReleased, utcNowText } from "./fragments.ts";
import { workerDeleteMany, workerLockDeadMany, type DeadWorker } from "./registry.ts";
import { taskPropagateTerminalFailure, type FinishedTask } from "./workflows.ts";

export interface RescuedWorker extends DeadWorker {
  /** Rows with attempts left, READY again now. */
  requeued: number;
  /** Rows out of attempts (or whose cancellation was requested), FAILED (`worker_lost`). */
  failed: number;
}

export type LostTask = FinishedTask & { leasedBy: string; failed: boolean };

// Locks the RUNNING rows leased by `workerIds` (ascending result_id); READY at NOW() when attempts <
// max_attempts and no cancellation was requested, else FAILED (worker_lost). Appends a worker_lost
// entry naming the dead worker and `rescuerId`, clears the lease; the attempt stays consumed. The
// workers' registry rows must be locked by the caller (their last_seen_at goes into the message).
// Returns the rows. Idempotent (a rescued row is no longer RUNNING).
export async function taskRequeueWorkerLostMany(sql: Queryable, params: { workerIds: readonly string[]; rescuerId: string }): Promise<LostTask[]> {
  if (params.workerIds.length === 0) return [];
  const rows = await sql<{ result_id: string; workflow_id: string | null; leased_by: string; status: string }[]>`
    with lost as materialized (
      select t.result_id, t.leased_by, t.attempts,
             t.attempts >= t.max_attempts or t.cancel_requested as exhausted,
             format('worker %s stopped renewing its registry heartbeat (last seen %s) and was declared dead by worker %s',
                    t.leased_by, to_char(w.last_seen_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), ${params.rescuerId}::text) as message
      from task_runs t
      join reproq_workers w on w.worker_id = t.leased_by
      where t.status = 'RUNNING' and t.leased_by = any(${params.workerIds}::text[])
      order by t.result_id
      for update of t
    )
    update task_runs t set ${runningRowReleased(sql)},
      last_error = case when e.exhausted then 'worker_lost: ' || e.message end,
      errors_json = t.errors_json || jsonb_build_array(jsonb_build_object(
        'kind', 'worker_lost',
        'message', e.message,
        'at', ${utcNowText(sql)},
        'attempt', e.attempts,
        'worker_id', e.leased_by))
    from lost e
    where t.result_id = e.result_id
    returning t.result_id, t.workflow_id, e.leased_by, t.status`;
  return rows.map((r) => ({ resultId: r.result_id, workflowId: r.workflow_id, leasedBy: r.leased_by, failed: r.status === "FAILED" }));
}

/**
 * Declares up to `limit` dead workers dead in one transaction: requeues their RUNNING rows
 * (worker_lost, naming `workerId` as the rescuer), fails those out of attempts with chain/chord
 * propagation, and deletes their registry rows. Never `workerId` itself, unless `own` is set:
 * then only `workerId`, whose previous run died (a worker starting under the same id). Workers
 * another rescuer is handling are skipped.
 */
export async function workerRescueDead(sql: Sql, params: { workerId: string; limit: number; own?: boolean }): Promise<RescuedWorker[]> {
  const filter = params.own ? { onlyWorkerId: params.workerId } : { exceptWorkerId: params.workerId };
  return sql.begin(async (tx) => {
    const dead = await workerLockDeadMany(tx, { ...filter, limit: params.limit });
    if (dead.length === 0) return [];
    const workerIds = dead.map((w) => w.workerId);
    const lost = await taskRequeueWorkerLostMany(tx, { workerIds, rescuerId: params.workerId });
    await taskPropagateTerminalFailure(tx, lost.filter((task) => task.failed));
    await workerDeleteMany(tx, { workerIds });
    return dead.map((worker) => {
      const mine = lost.filter((task) => task.leasedBy === worker.workerId);
      const failed = mine.filter((task) => task.failed).length;
      return { ...worker, requeued: mine.length - failed, failed };
    });
  });
}
