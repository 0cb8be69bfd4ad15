// Database-wide numbers for the metrics collector. Each count is written so a partial index
// serves it (READY, RUNNING, WAITING), never a scan of the whole task_runs table.
import type { Queryable } from "../db/client.ts";

/** A worker counts as live when its registry heartbeat is this recent (Django uses the same). */
export const LIVE_WORKER_SECONDS = 120;

export interface QueueStats {
  ready: number;
  waiting: number;
  running: number;
}

// Counts READY, WAITING and RUNNING rows in all queues (one scalar subquery per status, each
// served by that status's partial index). Read-only.
export async function statsTaskCounts(sql: Queryable): Promise<QueueStats> {
  const [row] = await sql<QueueStats[]>`
    SELECT
      (SELECT count(*) FROM task_runs WHERE status = 'READY')::float8 AS ready,
      (SELECT count(*) FROM task_runs WHERE status = 'WAITING')::float8 AS waiting,
      (SELECT count(*) FROM task_runs WHERE status = 'RUNNING')::float8 AS running`;
  return row ?? { ready: 0, waiting: 0, running: 0 };
}

export interface WorkerStats {
  live: number;
  concurrency: number;
}

// Live workers (last_seen_at within LIVE_WORKER_SECONDS, database clock) and the sum of their
// concurrency. Read-only.
export async function statsLiveWorkers(sql: Queryable): Promise<WorkerStats> {
  const [row] = await sql<WorkerStats[]>`
    SELECT count(*)::float8 AS live, COALESCE(sum(concurrency), 0)::float8 AS concurrency
    FROM reproq_workers
    WHERE last_seen_at > NOW() - make_interval(secs => ${LIVE_WORKER_SECONDS})`;
  return row ?? { live: 0, concurrency: 0 };
}

// Number of paused queues. Read-only.
export async function statsPausedQueues(sql: Queryable): Promise<number> {
  const [row] = await sql<{ paused: number }[]>`SELECT count(*)::float8 AS paused FROM reproq_queue_controls WHERE paused = TRUE`;
  return row?.paused ?? 0;
}

// READY rows whose concurrency_key already has at least concurrency_limit RUNNING rows (so the
// claim skips them): one probe of idx_task_runs_ready_concurrency per running key, answered from
// the index (no READY heap reads). Read-only.
export async function statsConcurrencyBlocked(sql: Queryable): Promise<number> {
  const [row] = await sql<{ blocked: number }[]>`
    WITH running AS (
      SELECT concurrency_key, count(*) AS n
      FROM task_runs
      WHERE status = 'RUNNING' AND concurrency_key IS NOT NULL
      GROUP BY concurrency_key
    )
    SELECT COALESCE(sum(blocked.n), 0)::float8 AS blocked
    FROM running r
    CROSS JOIN LATERAL (
      SELECT count(*) AS n
      FROM task_runs t
      WHERE t.status = 'READY' AND t.concurrency_key IS NOT NULL
        AND t.concurrency_key = r.concurrency_key
        AND t.concurrency_limit > 0 AND t.concurrency_limit <= r.n
    ) blocked`;
  return row?.blocked ?? 0;
}

export interface QueuedTaskPath {
  taskPath: string;
  rows: number;
  /** Rows whose spec_json.task_path names another task than their task_path column. */
  mismatched: number;
}

// Queued (READY or WAITING) rows per task path (the column, else spec_json.task_path), with how
// many name another task in spec_json.task_path than in the column; the `limit` most common
// paths. Read-only; reads every queued row once (for `reproq doctor`, not for hot paths).
export async function statsQueuedTaskPaths(sql: Queryable, limit: number): Promise<QueuedTaskPath[]> {
  return sql<QueuedTaskPath[]>`
    SELECT COALESCE(NULLIF(task_path, ''), spec_json ->> 'task_path', '') AS "taskPath",
           count(*)::float8 AS rows,
           count(*) FILTER (WHERE task_path <> '' AND jsonb_typeof(spec_json -> 'task_path') = 'string'
                              AND spec_json ->> 'task_path' NOT IN ('', task_path))::float8 AS mismatched
    FROM task_runs
    WHERE status IN ('READY', 'WAITING')
    GROUP BY 1
    ORDER BY count(*) DESC, 1
    LIMIT ${limit}`;
}
