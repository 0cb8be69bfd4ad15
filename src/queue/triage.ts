// The dead-letter queue: FAILED rows listed, inspected and summarised, and the filter the bulk
// operations share. Retry lives in triage-retry.ts, discard in triage-discard.ts.

import type { Queryable } from "../db/client.ts";

/** Which FAILED rows a bulk operation touches; no field = every FAILED row. */
export interface FailedFilter {
  resultId?: string;
  /** Exactly these rows (the dashboard's bulk actions: the ids its preview counted). */
  resultIds?: readonly string[];
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

/** `and …` conditions on unqualified task_runs columns for `filter`. */
export function filterSql(sql: Queryable, filter: FailedFilter) {
  return sql`
    ${filter.resultId === undefined ? sql`` : sql`and result_id = ${filter.resultId}::bigint`}
    ${filter.resultIds === undefined ? sql`` : sql`and result_id = any(${filter.resultIds}::bigint[])`}
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
