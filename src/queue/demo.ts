// Statements used by `reproq demo` to seed a scratch database with workflows and a periodic task
// as reproq-django would, and to read its progress. Nothing here runs against a user's tables:
// the demo creates its own database (db/scratch.ts).

import type { Queryable } from "../db/client.ts";
import type { EnqueueRow } from "./enqueue.ts";

export interface WorkflowMemberRow extends EnqueueRow {
  status: "READY" | "WAITING";
  parentId: string | null;
  workflowId: string | null;
  waitCount: number;
}

// Inserts one row of a chain or chord (READY head/member or WAITING step/callback) with every
// NOT NULL column given; returns its result_id. Not idempotent.
export async function taskInsertWorkflowMember(sql: Queryable, row: WorkflowMemberRow): Promise<string> {
  const rows = await sql<{ result_id: string }[]>`
    insert into task_runs (
      backend_alias, queue_name, priority, run_after, spec_json, spec_hash, task_path, status,
      enqueued_at, attempts, max_attempts, timeout_seconds, lock_key, concurrency_key,
      concurrency_limit, parent_id, workflow_id, wait_count, worker_ids, errors_json, metadata_json,
      expires_at, created_at, updated_at, cancel_requested
    ) values (
      ${row.backendAlias}, ${row.queueName}, ${row.priority}, ${row.runAfter}::text::timestamptz,
      ${row.specText}::text::jsonb, ${row.specHash}, ${row.taskPath}, ${row.status},
      now(), 0, ${row.maxAttempts}, ${row.timeoutSeconds}, ${row.lockKey}, ${row.concurrencyKey},
      ${row.concurrencyLimit}, ${row.parentId}::bigint, ${row.workflowId}::uuid, ${row.waitCount},
      '[]'::jsonb, '[]'::jsonb, '{}'::jsonb, null, now(), now(), false
    )
    returning result_id`;
  const id = rows[0]?.result_id;
  if (id === undefined) throw new Error("insert returned no row");
  return id;
}

// Inserts a RUNNING workflow_runs row (a chord: `expected` members, then the callback). Not idempotent.
export async function workflowRunInsert(sql: Queryable, params: { workflowId: string; expected: number; callbackResultId: string | null }): Promise<void> {
  await sql`
    insert into workflow_runs (workflow_id, expected_count, success_count, failure_count, callback_result_id, status, created_at, updated_at)
    values (${params.workflowId}::uuid, ${params.expected}, 0, 0, ${params.callbackResultId}::bigint, 'RUNNING', now(), now())`;
}

// Inserts or replaces a periodic task due now (next_run_at = NOW()). Idempotent per name.
export async function periodicTaskUpsertDueNow(sql: Queryable, params: {
  name: string; cronExpr: string; taskPath: string; payloadJson: string; queueName: string; maxAttempts: number;
}): Promise<void> {
  await sql`
    insert into periodic_tasks (name, cron_expr, task_path, payload_json, queue_name, priority, max_attempts, next_run_at, enabled, created_at, updated_at)
    values (${params.name}, ${params.cronExpr}, ${params.taskPath}, ${params.payloadJson}::text::jsonb, ${params.queueName}, 0,
            ${params.maxAttempts}, now(), true, now(), now())
    on conflict (name) do update set cron_expr = excluded.cron_expr, task_path = excluded.task_path,
      payload_json = excluded.payload_json, queue_name = excluded.queue_name, max_attempts = excluded.max_attempts,
      next_run_at = now(), enabled = true, updated_at = now()`;
}

export interface DemoProgress {
  /** status → rows. */
  counts: Record<string, number>;
  /** Rows per task_path that reached SUCCESSFUL. */
  succeededByTask: Record<string, number>;
  /** Seconds from the first enqueue to the last finish (0 when nothing finished). */
  busySeconds: number;
  /** Rows created by beat from periodic_tasks so far. */
  periodicRuns: number;
  /** enqueue → start latency of started rows, milliseconds. */
  startLatencyP50Ms: number | null;
  startLatencyP99Ms: number | null;
}

// Read-only: counts by status, successes per task path, busy time and periodic runs.
export async function demoProgressRead(sql: Queryable, params: { periodicTaskPath: string }): Promise<DemoProgress> {
  const [byStatus, byTask, [times]] = await Promise.all([
    sql<{ status: string; n: number }[]>`select status, count(*)::int as n from task_runs group by status`,
    sql<{ task_path: string; n: number }[]>`
      select coalesce(task_path, spec_json->>'task_path') as task_path, count(*)::int as n
      from task_runs where status = 'SUCCESSFUL' group by 1`,
    sql<{ busy: number | null; periodic: number; p50: number | null; p99: number | null }[]>`
      select extract(epoch from max(finished_at) - min(enqueued_at))::float8 as busy,
             count(*) filter (where coalesce(task_path, spec_json->>'task_path') = ${params.periodicTaskPath})::int as periodic,
             (percentile_cont(0.5) within group (order by extract(epoch from started_at - greatest(enqueued_at, coalesce(run_after, enqueued_at)))))::float8 * 1000 as p50,
             (percentile_cont(0.99) within group (order by extract(epoch from started_at - greatest(enqueued_at, coalesce(run_after, enqueued_at)))))::float8 * 1000 as p99
      from task_runs`,
  ]);
  return {
    counts: Object.fromEntries(byStatus.map((r) => [r.status, r.n])),
    succeededByTask: Object.fromEntries(byTask.map((r) => [r.task_path, r.n])),
    busySeconds: Math.max(0, times?.busy ?? 0),
    periodicRuns: times?.periodic ?? 0,
    startLatencyP50Ms: times?.p50 ?? null,
    startLatencyP99Ms: times?.p99 ?? null,
  };
}
