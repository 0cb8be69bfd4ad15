// Replay: a new READY copy of an existing row (by id, or the latest row of a spec_hash), as the Go
// worker's Replay/ReplayBySpecHash do, but writing every NOT NULL column itself (Django's schema
// has no defaults) and reporting an active copy of the spec instead of hitting the unique index.

import type { Queryable, Sql } from "../db/client.ts";

/** Exactly one of the two. `specHash` is compared in SQL, so CHAR(64) padding does not matter. */
export type ReplaySource = { resultId: string } | { specHash: string };

export interface ReplayOutcome {
  /** null: no such row. */
  sourceId: string | null;
  /** The new READY row; null when not found or when `activeId` holds the spec. */
  newId: string | null;
  /** The READY/RUNNING row that already holds the spec_hash (the replay was not done). */
  activeId: string | null;
}

// Reads the source row (latest by result_id for a hash) and, unless a READY/RUNNING row already
// has its spec_hash, inserts a READY copy: spec, queue, priority, limits and keys copied; attempts,
// wait_count 0; errors/worker_ids '[]', metadata '{}'; no parent, workflow, run_after or expiry.
// Locks nothing. Not idempotent (each call adds a row). A concurrent insert of the same spec can
// still raise 23505: re-run the statement.
export async function taskReplayInsert(sql: Queryable, source: ReplaySource): Promise<ReplayOutcome> {
  const where = "resultId" in source
    ? sql`where result_id = ${source.resultId}::bigint`
    : sql`where spec_hash = ${source.specHash} order by result_id desc limit 1`;
  const [row] = await sql<{ source_id: string | null; new_id: string | null; active_id: string | null }[]>`
    with source as (
      select * from task_runs ${where}
    ),
    active as (
      select min(a.result_id) as result_id
      from task_runs a join source s on a.spec_hash = s.spec_hash
      where a.status in ('READY', 'RUNNING')
    ),
    inserted as (
      insert into task_runs (
        backend_alias, queue_name, priority, run_after, spec_json, spec_hash, task_path, status,
        enqueued_at, started_at, last_attempted_at, finished_at, attempts, max_attempts, timeout_seconds,
        lock_key, concurrency_key, concurrency_limit, parent_id, workflow_id, wait_count,
        worker_ids, return_json, errors_json, metadata_json, last_error, failed_at, leased_until,
        leased_by, logs_uri, artifacts_uri, expires_at, created_at, updated_at, cancel_requested
      )
      select
        s.backend_alias, s.queue_name, s.priority, null, s.spec_json, s.spec_hash,
        coalesce(nullif(s.task_path, ''), s.spec_json->>'task_path'), 'READY',
        now(), null, null, null, 0, s.max_attempts, s.timeout_seconds,
        s.lock_key, s.concurrency_key, s.concurrency_limit, null, null, 0,
        '[]'::jsonb, null, '[]'::jsonb, '{}'::jsonb, null, null, null,
        null, null, null, null, now(), now(), false
      from source s
      where not exists (select 1 from active where active.result_id is not null)
      returning result_id
    )
    select (select result_id from source) as source_id,
           (select result_id from inserted) as new_id,
           (select result_id from active) as active_id`;
  return { sourceId: row?.source_id ?? null, newId: row?.new_id ?? null, activeId: row?.active_id ?? null };
}

/** taskReplayInsert, re-run once when a concurrent insert of the same spec wins the unique index. */
export async function replayTask(sql: Sql, source: ReplaySource): Promise<ReplayOutcome> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await taskReplayInsert(sql, source);
    } catch (error) {
      if (attempt >= 3 || (error as { code?: string }).code !== "23505") throw error;
    }
  }
}
