// The dead-letter queue: FAILED rows listed, inspected, retried (with the chain descendants they
// failed) or discarded (→ CANCELLED), and failures summarised. Retry never hits the unique
// active-spec index: a row whose spec_hash is already READY/RUNNING elsewhere is skipped and
// reported with the id of that active row.

import type { Queryable, Sql } from "../db/client.ts";

/** Which FAILED rows a bulk operation touches; no field = every FAILED row. */
export interface FailedFilter {
  resultId?: string;
  queue?: string;
  taskPath?: string;
}

export interface FailedTaskRow {
  result_id: string;
  queue_name: string;
  task_path: string;
  status: string;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  failed_at: Date | null;
  last_attempted_at: Date | null;
  finished_at: Date | null;
}

export interface TaskDetailRow extends FailedTaskRow {
  spec_hash: string;
  spec_json: unknown;
  errors_json: unknown;
  logs_uri: string | null;
  worker_ids: unknown;
  enqueued_at: Date;
}

export interface FailureSummaryRow {
  task_path: string;
  exception_class: string;
  count: number;
  first_seen: Date | null;
  last_seen: Date | null;
}

export interface RetrySkip {
  resultId: string;
  /** The READY/RUNNING row that already holds the spec_hash (null: skipped for its parent). */
  activeId: string | null;
  /**
   * A dependency_failed chain step whose parent has not finished (FAILED, WAITING, READY or
   * RUNNING): making it READY would run it before its dependency. Retrying the parent restores it.
   */
  parent: { resultId: string; status: string } | null;
}

export interface RetryOutcome {
  retried: string[];
  skipped: RetrySkip[];
  /** dependency_failed chain descendants put back to WAITING. */
  restored: string[];
}

function filterSql(sql: Queryable, filter: FailedFilter) {
  return sql`
    ${filter.resultId === undefined ? sql`` : sql`and result_id = ${filter.resultId}::bigint`}
    ${filter.queue === undefined ? sql`` : sql`and queue_name = ${filter.queue}`}
    ${filter.taskPath === undefined ? sql`` : sql`and coalesce(nullif(task_path, ''), spec_json->>'task_path') = ${filter.taskPath}`}`;
}

// Reads FAILED rows matching `filter`, newest failure first (Go's order), at most `limit`.
// No locks, no writes.
export async function taskListFailed(sql: Queryable, params: FailedFilter & { limit: number }): Promise<FailedTaskRow[]> {
  return sql<FailedTaskRow[]>`
    select result_id, queue_name, coalesce(nullif(task_path, ''), spec_json->>'task_path', '') as task_path, status,
           attempts, max_attempts, last_error, failed_at, last_attempted_at, finished_at
    from task_runs
    where status = 'FAILED' ${filterSql(sql, params)}
    order by failed_at desc nulls last, finished_at desc nulls last, result_id desc
    limit ${params.limit}`;
}

// Reads one row of any status with its spec, errors and logs path (the caller checks the status).
// No locks, no writes. Returns null when the id does not exist.
export async function taskReadDetail(sql: Queryable, params: { resultId: string }): Promise<TaskDetailRow | null> {
  const [row] = await sql<TaskDetailRow[]>`
    select result_id, queue_name, coalesce(nullif(task_path, ''), spec_json->>'task_path', '') as task_path, status,
           attempts, max_attempts, last_error, failed_at, last_attempted_at, finished_at,
           rtrim(spec_hash) as spec_hash, spec_json, errors_json, logs_uri, worker_ids, enqueued_at
    from task_runs where result_id = ${params.resultId}::bigint`;
  return row ?? null;
}

// Reads the status of one row; null when the id does not exist. No locks, no writes.
export async function taskReadStatus(sql: Queryable, params: { resultId: string }): Promise<string | null> {
  const [row] = await sql<{ status: string }[]>`select status from task_runs where result_id = ${params.resultId}::bigint`;
  return row?.status ?? null;
}

// Locks the FAILED rows matching `filter` (ascending id) and resets each to READY exactly as Go's
// triage retry does (run_after NOW(), attempts 0, run/lease/result columns NULL, cancel_requested
// false; errors_json, worker_ids, logs_uri kept) — unless its spec_hash is already READY/RUNNING,
// or another candidate with the same hash (the highest id wins) is retried, or it is a
// dependency_failed chain step whose parent has not finished: those are skipped.
// Returns retried and skipped ids. Idempotent (a retried row is no longer FAILED). A concurrent
// insert of the same spec between the check and the write raises 23505: re-run the statement.
export async function taskRetryFailed(sql: Queryable, filter: FailedFilter): Promise<Omit<RetryOutcome, "restored">> {
  const rows = await sql<{ result_id: string; retried: boolean; active_id: string | null; parent_id: string | null; parent_status: string | null }[]>`
    with candidate as materialized (
      select result_id, spec_hash, parent_id, errors_json->-1->>'kind' = 'dependency_failed' as dependency_failed
      from task_runs
      where status = 'FAILED' ${filterSql(sql, filter)}
      order by result_id
      for update
    ),
    blocked as (
      select c.result_id, p.result_id as parent_id, p.status as parent_status
      from candidate c join task_runs p on p.result_id = c.parent_id
      where c.dependency_failed and p.status in ('FAILED', 'WAITING', 'READY', 'RUNNING')
    ),
    chosen as (
      select distinct on (c.spec_hash) c.result_id
      from candidate c
      where not exists (select 1 from blocked b where b.result_id = c.result_id)
        and not exists (select 1 from task_runs a where a.spec_hash = c.spec_hash and a.status in ('READY', 'RUNNING'))
      order by c.spec_hash, c.result_id desc
    ),
    retried as (
      update task_runs t set
        status = 'READY', run_after = now(), attempts = 0,
        started_at = null, last_attempted_at = null, finished_at = null, return_json = null,
        last_error = null, failed_at = null, leased_until = null, leased_by = null,
        cancel_requested = false, updated_at = now()
      from chosen
      where t.result_id = chosen.result_id
      returning t.result_id, t.spec_hash
    )
    select c.result_id,
           exists (select 1 from retried r where r.result_id = c.result_id) as retried,
           coalesce(
             (select max(r.result_id) from retried r where r.spec_hash = c.spec_hash and r.result_id <> c.result_id),
             (select min(a.result_id) from task_runs a where a.spec_hash = c.spec_hash and a.status in ('READY', 'RUNNING'))
           ) as active_id,
           b.parent_id, b.parent_status
    from candidate c left join blocked b on b.result_id = c.result_id
    order by c.result_id`;
  return {
    retried: rows.filter((r) => r.retried).map((r) => r.result_id),
    skipped: rows
      .filter((r) => !r.retried)
      .map((r) => ({
        resultId: r.result_id,
        activeId: r.parent_id === null ? r.active_id : null,
        parent: r.parent_id === null ? null : { resultId: r.parent_id, status: r.parent_status ?? "" },
      })),
  };
}

// Locks the FAILED chain descendants of `parentIds` (recursive over parent_id) whose last
// errors_json entry is the `dependency_failed` written when their parent failed, and puts them
// back to WAITING (finished_at, failed_at, last_error NULL; wait_count and errors_json kept).
// Returns their ids. Idempotent. The reverse of taskFailDescendantsMany (workflows.ts).
export async function taskRestoreDependentsMany(sql: Queryable, params: { parentIds: readonly string[] }): Promise<string[]> {
  if (params.parentIds.length === 0) return [];
  const rows = await sql<{ result_id: string }[]>`
    with recursive descendant as (
      select result_id from task_runs
      where parent_id = any(${params.parentIds}::bigint[]) and status = 'FAILED'
        and errors_json->-1->>'kind' = 'dependency_failed'
      union -- not UNION ALL: ends even on a (corrupt) parent_id cycle
      select c.result_id from task_runs c join descendant d on c.parent_id = d.result_id
      where c.status = 'FAILED' and c.errors_json->-1->>'kind' = 'dependency_failed'
    ),
    locked as materialized (
      select t.result_id from task_runs t join descendant d on d.result_id = t.result_id
      where t.status = 'FAILED'
      order by t.result_id
      for update of t
    )
    update task_runs t set
      status = 'WAITING', finished_at = null, failed_at = null, last_error = null, updated_at = now()
    from locked
    where t.result_id = locked.result_id and t.status = 'FAILED'
    returning t.result_id`;
  return rows.map((r) => r.result_id).sort((a, b) => Number(BigInt(a) - BigInt(b)));
}

const UNIQUE_VIOLATION = "23505";

/**
 * Retry as one transaction: reset the matching FAILED rows, then restore the chain descendants
 * they failed. A unique violation (a copy of the spec was inserted concurrently) re-runs the
 * transaction, which then sees that copy and skips the row.
 */
export async function retryFailedTasks(sql: Sql, filter: FailedFilter): Promise<RetryOutcome> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await sql.begin(async (tx) => {
        const outcome = await taskRetryFailed(tx, filter);
        const restored = await taskRestoreDependentsMany(tx, { parentIds: outcome.retried });
        // A chain step skipped for its FAILED parent is back to WAITING when that parent was retried.
        const back = new Set(restored);
        return { retried: outcome.retried, skipped: outcome.skipped.filter((s) => !back.has(s.resultId)), restored };
      });
    } catch (error) {
      if (attempt >= 3 || (error as { code?: string }).code !== UNIQUE_VIOLATION) throw error;
    }
  }
}

// Locks nothing beyond the rows it writes: FAILED rows matching `filter` become CANCELLED with
// last_error = `reason` (finished_at kept, NOW() when NULL). Returns their ids. Idempotent.
export async function taskDiscardFailed(sql: Queryable, params: FailedFilter & { reason: string }): Promise<string[]> {
  const rows = await sql<{ result_id: string }[]>`
    update task_runs set
      status = 'CANCELLED', finished_at = coalesce(finished_at, now()), last_error = ${params.reason},
      run_after = null, leased_until = null, leased_by = null, updated_at = now()
    where status = 'FAILED' ${filterSql(sql, params)}
    returning result_id`;
  return rows.map((r) => r.result_id).sort((a, b) => Number(BigInt(a) - BigInt(b)));
}

// Reads FAILED rows grouped by task path and the exception class of their last errors_json entry
// (its kind when there is no class): count, first and last failure time. Most frequent first.
// No locks, no writes.
export async function taskSummarizeFailures(sql: Queryable): Promise<FailureSummaryRow[]> {
  return sql<FailureSummaryRow[]>`
    select coalesce(nullif(task_path, ''), spec_json->>'task_path', '') as task_path,
           coalesce(nullif(errors_json->-1->>'exception_class', ''), nullif(errors_json->-1->>'kind', ''), '') as exception_class,
           count(*)::int as count,
           min(coalesce(failed_at, finished_at, updated_at)) as first_seen,
           max(coalesce(failed_at, finished_at, updated_at)) as last_seen
    from task_runs
    where status = 'FAILED'
    group by 1, 2
    order by count desc, last_seen desc nulls last, 1, 2`;
}
