// Leases on RUNNING rows: renewal by the holder (heartbeat), the cheap cancellation poll, and
// reclaim of rows whose holder stopped renewing. Every time comes from the DB clock. Task rows
// are locked in ascending result_id order, like every multi-row write (see workflows.ts).

import type { Queryable, Sql } from "../db/client.ts";
import { runningRowReleased, utcNowText } from "./fragments.ts";
import { taskPropagateTerminalFailure, type FinishedTask } from "./workflows.ts";

export interface HeartbeatParams {
  resultIds: readonly string[];
  workerId: string;
  leaseSeconds: number;
}

export interface LeaseRenewal {
  resultId: string;
  cancelRequested: boolean;
}

export interface ReclaimParams {
  /** A RUNNING row with no leased_until counts as expired once its last claim is this old. */
  leaseSeconds: number;
  /** Most rows per call; the caller repeats until a call reclaims nothing. */
  limit: number;
}

export interface ReclaimResult {
  /** Rows with attempts left, READY again now. */
  requeued: number;
  /** Rows out of attempts, FAILED (`lease_expiry`) with chain/chord propagation. */
  failed: number;
}

const LEASE_EXPIRY_MESSAGE = "Worker heartbeat lost or process crashed";

// Locks this worker's RUNNING rows among `resultIds`; leased_until = NOW() + lease (an expired but
// not yet reclaimed lease is renewed too). Returns the renewed rows with cancel_requested; an id
// missing from the result lost its lease. Idempotent.
export async function taskHeartbeatMany(sql: Queryable, params: HeartbeatParams): Promise<LeaseRenewal[]> {
  if (params.resultIds.length === 0) return [];
  const rows = await sql<{ result_id: string; cancel_requested: boolean }[]>`
    with locked as materialized (
      select result_id
      from task_runs
      where result_id = any(${params.resultIds}::bigint[])
        and leased_by = ${params.workerId}
        and status = 'RUNNING'
      order by result_id
      for update
    )
    update task_runs t set
      leased_until = now() + make_interval(secs => ${params.leaseSeconds}::double precision),
      updated_at = now()
    from locked
    where t.result_id = locked.result_id
    returning t.result_id, t.cancel_requested`;
  return rows.map((r) => ({ resultId: r.result_id, cancelRequested: r.cancel_requested }));
}

// Reads (no locks) which of this worker's RUNNING rows among `resultIds` have cancel_requested.
// Returns their ids. Read-only: a primary-key probe per id, cheap enough for a ~1 s poll.
export async function taskCancelRequestedMany(sql: Queryable, params: { resultIds: readonly string[]; workerId: string }): Promise<string[]> {
  if (params.resultIds.length === 0) return [];
  const rows = await sql<{ result_id: string }[]>`
    select result_id
    from task_runs
    where result_id = any(${params.resultIds}::bigint[])
      and leased_by = ${params.workerId}
      and status = 'RUNNING'
      and cancel_requested
    order by result_id`;
  return rows.map((r) => r.result_id);
}

/**
 * Reclaims up to `limit` expired RUNNING rows in one transaction (any worker may run it;
 * concurrent reclaimers skip each other's rows): READY when attempts remain, else FAILED with the
 * same chain/chord propagation as a terminal failure.
 */
export async function taskReclaimExpired(sql: Sql, params: ReclaimParams): Promise<ReclaimResult> {
  return sql.begin(async (tx) => {
    const rows = await taskLeaseExpireBatch(tx, params);
    const failed = rows.filter((r) => r.failed);
    await taskPropagateTerminalFailure(tx, failed);
    return { requeued: rows.length - failed.length, failed: failed.length };
  });
}

// Locks (SKIP LOCKED) up to `limit` RUNNING rows whose lease expired, or that have no lease and
// were last claimed more than leaseSeconds ago; READY at NOW() when attempts < max_attempts and no
// cancellation was requested, else FAILED (lease_expiry); appends a lease_expiry entry either way and clears the lease. The attempt
// stays consumed. Returns the rows. Idempotent (a reclaimed row is no longer RUNNING).
export async function taskLeaseExpireBatch(sql: Queryable, params: ReclaimParams): Promise<(FinishedTask & { failed: boolean })[]> {
  const rows = await sql<{ result_id: string; workflow_id: string | null; status: string }[]>`
    with expired as materialized (
      -- A row whose cancellation was requested is not run again: its worker died, so it is stopped.
      select result_id, attempts >= max_attempts or cancel_requested as exhausted
      from task_runs
      where status = 'RUNNING'
        and (leased_until < now()
             -- A NULL lease (older workers, manual edits) was never reclaimed by Go: give it the
             -- lease length from its last claim.
             or (leased_until is null
                 and coalesce(last_attempted_at, updated_at)
                     < now() - make_interval(secs => ${params.leaseSeconds}::double precision)))
      limit ${params.limit}::int
      for update skip locked
    )
    update task_runs t set ${runningRowReleased(sql)},
      last_error = case when e.exhausted then ${"lease_expiry: " + LEASE_EXPIRY_MESSAGE}::text end,
      errors_json = t.errors_json || jsonb_build_array(jsonb_build_object(
        'kind', 'lease_expiry',
        'message', ${LEASE_EXPIRY_MESSAGE}::text,
        'at', ${utcNowText(sql)}))
    from expired e
    where t.result_id = e.result_id
    returning t.result_id, t.workflow_id, t.status`;
  return rows.map((r) => ({ resultId: r.result_id, workflowId: r.workflow_id, failed: r.status === "FAILED" }));
}

/**
 * RUNNING rows leased by `workerId` that are not among `knownIds`: claims that committed although
 * their answer never reached the worker (the connection died after COMMIT), so nothing runs them.
 * They go back to READY now as if never claimed: the attempt and the worker_ids entry the claim
 * added are given back, the lease cleared. Only the claiming worker may call this, with every row
 * it runs in `knownIds`, and only when none of its claims can still commit. Returns their ids.
 */
export async function taskReleaseUnseenClaims(sql: Queryable, params: { workerId: string; knownIds: readonly string[] }): Promise<string[]> {
  const rows = await sql<{ result_id: string }[]>`
    with unseen as materialized (
      select result_id from task_runs
      where status = 'RUNNING' and leased_by = ${params.workerId}
        and result_id <> all(${params.knownIds}::bigint[])
      order by result_id
      for update
    )
    update task_runs t set
      status = 'READY',
      run_after = now(),
      attempts = greatest(t.attempts - 1, 0),
      worker_ids = case when jsonb_array_length(t.worker_ids) > 0
                        then t.worker_ids - (jsonb_array_length(t.worker_ids) - 1) else t.worker_ids end,
      leased_until = null,
      leased_by = null,
      updated_at = now()
    from unseen u
    where t.result_id = u.result_id
    returning t.result_id::text as result_id`;
  return rows.map((r) => r.result_id);
}
