// Queue controls (reproq_queue_controls) and the per-queue overview for `reproq queue ls`.
// The claim skips queues whose row has paused = true. Django creates this table without column
// defaults, so every upsert names every NOT NULL column (paused, created_at, updated_at).

import type { Queryable } from "../db/client.ts";

export interface QueueControlRow {
  queueName: string;
  paused: boolean;
  pausedAt: Date | null;
  reason: string | null;
}

export interface QueueOverviewRow {
  queueName: string;
  ready: number;
  running: number;
  waiting: number;
  failed: number;
  successful: number;
  cancelled: number;
  /** Seconds since the oldest READY row was enqueued (DB clock); null when none is READY. */
  oldestReadySeconds: number | null;
  paused: boolean;
  pausedAt: Date | null;
  reason: string | null;
}

// Upserts the queue's row as paused. Keeps the original paused_at when it was already paused;
// the reason is replaced (NULL when none is given). Locks one row; idempotent. Returns the row.
export async function queuePause(sql: Queryable, params: { queueName: string; reason: string | null }): Promise<QueueControlRow> {
  const [row] = await sql<QueueControlRow[]>`
    insert into reproq_queue_controls as c (queue_name, paused, paused_at, reason, created_at, updated_at)
    values (${params.queueName}, true, now(), ${params.reason}, now(), now())
    on conflict (queue_name) do update set
      paused = true,
      paused_at = case when c.paused then coalesce(c.paused_at, excluded.paused_at) else excluded.paused_at end,
      reason = excluded.reason,
      updated_at = excluded.updated_at
    returning queue_name as "queueName", paused, paused_at as "pausedAt", reason`;
  return row!;
}

// Upserts the queue's row as not paused (paused_at and reason cleared). Locks one row;
// idempotent. Returns the row.
export async function queueResume(sql: Queryable, params: { queueName: string }): Promise<QueueControlRow> {
  const [row] = await sql<QueueControlRow[]>`
    insert into reproq_queue_controls as c (queue_name, paused, paused_at, reason, created_at, updated_at)
    values (${params.queueName}, false, null, null, now(), now())
    on conflict (queue_name) do update set
      paused = false, paused_at = null, reason = null, updated_at = excluded.updated_at
    returning queue_name as "queueName", paused, paused_at as "pausedAt", reason`;
  return row!;
}

// Every known queue (named by a task_runs row, a control row, or a registered worker's queues)
// with per-status counts, the oldest READY age and its pause state, ordered by name. Locks
// nothing. Cost: one scan of task_runs grouped by queue_name (the counts need every row; on a
// very large table this is a sequential or (queue_name, status) index scan per call).
export async function queueOverview(sql: Queryable): Promise<QueueOverviewRow[]> {
  return sql<QueueOverviewRow[]>`
    with counts as (
      select queue_name,
             count(*) filter (where status = 'READY')::int as ready,
             count(*) filter (where status = 'RUNNING')::int as running,
             count(*) filter (where status = 'WAITING')::int as waiting,
             count(*) filter (where status = 'FAILED')::int as failed,
             count(*) filter (where status = 'SUCCESSFUL')::int as successful,
             count(*) filter (where status = 'CANCELLED')::int as cancelled,
             min(enqueued_at) filter (where status = 'READY') as oldest_ready
      from task_runs
      group by queue_name
    ), names as (
      select queue_name from counts
      union
      select queue_name from reproq_queue_controls
      union
      select jsonb_array_elements_text(queues) from reproq_workers where jsonb_typeof(queues) = 'array'
    )
    select n.queue_name as "queueName",
           coalesce(k.ready, 0) as ready, coalesce(k.running, 0) as running,
           coalesce(k.waiting, 0) as waiting, coalesce(k.failed, 0) as failed,
           coalesce(k.successful, 0) as successful, coalesce(k.cancelled, 0) as cancelled,
           -- GREATEST ignores NULLs, so "no READY row" must stay NULL explicitly.
           case when k.oldest_ready is null then null
                else greatest(0, extract(epoch from now() - k.oldest_ready))::float8 end as "oldestReadySeconds",
           coalesce(c.paused, false) as paused, c.paused_at as "pausedAt", c.reason
    from names n
    left join counts k on k.queue_name = n.queue_name
    left join reproq_queue_controls c on c.queue_name = n.queue_name
    order by n.queue_name`;
}
