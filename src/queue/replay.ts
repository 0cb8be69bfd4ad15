// Replay: a new READY copy of an existing row, as the Go worker's Replay does, but writing every
// NOT NULL column itself (Django's schema has no defaults) and reporting an active copy of the
// spec instead of hitting the unique index. A spec_hash (or a prefix of one) is first resolved to
// one row: Go silently took the highest id; here several runs, or several hashes, are ambiguous
// unless the caller asks for the latest run (the most recently finished one).

import type { Queryable, Sql } from "../db/client.ts";

/** The row to copy. */
export interface ReplaySource {
  resultId: string;
}

export interface ReplayOutcome {
  /** null: no such row. */
  sourceId: string | null;
  /** The source row's status (null when not found). */
  sourceStatus: string | null;
  /** The new READY row; null when not found or when `activeId` holds the spec. */
  newId: string | null;
  /** The READY/RUNNING row that already holds the spec_hash (the replay was not done); may be the source itself. */
  activeId: string | null;
}

/** A row whose spec_hash matched. */
export interface ReplayCandidate {
  resultId: string;
  status: string;
  finishedAt: Date | null;
  /** Trimmed (CHAR(64) pads with blanks). */
  specHash: string;
}

export interface ReplayCandidates {
  /** The newest run of each hash first, then most recently finished first (unfinished last), then highest id. */
  rows: ReplayCandidate[];
  /** Every matching row, beyond `rows`. */
  total: number;
  /** Distinct hashes among them. */
  hashes: number;
}

export type SpecHashResolution =
  | { kind: "none" }
  | { kind: "found"; candidate: ReplayCandidate }
  | { kind: "ambiguous"; reason: "runs" | "hashes"; candidates: ReplayCandidate[]; total: number; hashes: number };

/** How many candidates an ambiguity reports. */
export const REPLAY_CANDIDATES_SHOWN = 10;

// Reads up to `limit` rows whose spec_hash starts with `hashPrefix` (lower-case hex, no LIKE
// metacharacters; a full hash matches itself), ordered as ReplayCandidates.rows says, with the
// number of matches and of distinct hashes. Compares lower-cased, trimmed text, so CHAR(64)
// padding and the stored case do not matter. Locks nothing, changes nothing. task_runs has no
// index on spec_hash (Go's schema, Django's and ours), so this reads the whole table once.
export async function taskReplayCandidatesRead(sql: Queryable, params: { hashPrefix: string; limit: number }): Promise<ReplayCandidates> {
  const rows = await sql<{ result_id: string; status: string; finished_at: Date | null; spec_hash: string; total: number; hashes: number }[]>`
    with matched as (
      select result_id, status, finished_at, lower(rtrim(spec_hash)) as spec_hash,
             row_number() over (partition by lower(rtrim(spec_hash)) order by finished_at desc nulls last, result_id desc) as run
      from task_runs
      where lower(rtrim(spec_hash)) like ${`${params.hashPrefix}%`}
    )
    select result_id, status, finished_at, spec_hash,
           (select count(*) from matched)::int as total,
           (select count(distinct spec_hash) from matched)::int as hashes
    from matched
    order by run = 1 desc, finished_at desc nulls last, result_id desc
    limit ${params.limit}`;
  return {
    rows: rows.map((r) => ({ resultId: r.result_id, status: r.status, finishedAt: r.finished_at, specHash: r.spec_hash })),
    total: rows[0]?.total ?? 0,
    hashes: rows[0]?.hashes ?? 0,
  };
}

/**
 * The one row a spec_hash (or prefix) names: exactly one match; or, with `latest`, the most
 * recently finished run of a single hash. Several hashes are always ambiguous.
 */
export async function resolveSpecHash(sql: Queryable, params: { hashPrefix: string; latest: boolean }): Promise<SpecHashResolution> {
  const found = await taskReplayCandidatesRead(sql, { hashPrefix: params.hashPrefix, limit: REPLAY_CANDIDATES_SHOWN });
  const [first] = found.rows;
  if (!first) return { kind: "none" };
  if (found.hashes === 1 && (found.total === 1 || params.latest)) return { kind: "found", candidate: first };
  return { kind: "ambiguous", reason: found.hashes > 1 ? "hashes" : "runs", candidates: found.rows, total: found.total, hashes: found.hashes };
}

// Reads the source row and, unless a READY/RUNNING row already has its spec_hash, inserts a READY
// copy: spec, queue, priority, limits and keys copied; attempts, wait_count 0; errors/worker_ids
// '[]', metadata '{}'; no parent, workflow, run_after or expiry. Locks nothing. Not idempotent
// (each call adds a row). A concurrent insert of the same spec can still raise 23505: re-run it.
export async function taskReplayInsert(sql: Queryable, source: ReplaySource): Promise<ReplayOutcome> {
  const [row] = await sql<{ source_id: string | null; source_status: string | null; new_id: string | null; active_id: string | null }[]>`
    with source as (
      select * from task_runs where result_id = ${source.resultId}::bigint
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
           (select status from source) as source_status,
           (select result_id from inserted) as new_id,
           (select result_id from active) as active_id`;
  return {
    sourceId: row?.source_id ?? null,
    sourceStatus: row?.source_status ?? null,
    newId: row?.new_id ?? null,
    activeId: row?.active_id ?? null,
  };
}

/** taskReplayInsert, re-run when a concurrent insert of the same spec wins the unique index. */
export async function replayTask(sql: Sql, source: ReplaySource): Promise<ReplayOutcome> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await taskReplayInsert(sql, source);
    } catch (error) {
      if (attempt >= 3 || (error as { code?: string }).code !== "23505") throw error;
    }
  }
}
