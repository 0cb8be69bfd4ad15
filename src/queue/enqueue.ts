// Inserting a READY task the way reproq-django's backend does (django-contract §2.1), with dedup
// of active identical specs. Every NOT NULL column is written explicitly, so the INSERT works on
// Django's schema (no column defaults) as well as ours and the Go worker's.
//
// Dedup is race-safe on every schema: a transaction-scoped advisory lock on the spec hash
// serialises our own enqueuers (Django's schema has no unique index), and ON CONFLICT DO NOTHING
// covers writers that do not take the lock when the unique partial index exists.

import type { Queryable, Sql } from "../db/client.ts";
import { canonicalJson, sha256Hex, type TaskSpec } from "../spec/index.ts";

export interface EnqueueRow {
  backendAlias: string;
  queueName: string;
  priority: number;
  /** Python isoformat text (the spec's run_after), or null for "now". */
  runAfter: string | null;
  /** The canonical JSON of the spec: stored as jsonb, hashed into specHash. */
  specText: string;
  specHash: string;
  taskPath: string;
  maxAttempts: number;
  timeoutSeconds: number;
  lockKey: string | null;
  concurrencyKey: string | null;
  concurrencyLimit: number;
}

/** The row for a spec built as reproq-django's backend builds it (canonical text and its hash). */
export function enqueueRowFromSpec(spec: TaskSpec, backendAlias = "default"): EnqueueRow {
  const specText = canonicalJson(spec);
  return {
    backendAlias,
    queueName: spec.queue_name,
    priority: spec.priority,
    runAfter: spec.run_after,
    specText,
    specHash: sha256Hex(specText),
    taskPath: spec.task_path,
    maxAttempts: spec.exec.max_attempts,
    timeoutSeconds: spec.exec.timeout_seconds,
    lockKey: spec.lock_key,
    concurrencyKey: spec.concurrency_key,
    concurrencyLimit: spec.concurrency_limit,
  };
}

export interface EnqueueResult {
  resultId: string;
  /** false: an active (READY/RUNNING) row with the same spec_hash already existed. */
  created: boolean;
}

/** A task_runs row as `reproq enqueue --json` prints it. */
export interface TaskRunRow {
  result_id: string;
  backend_alias: string;
  queue_name: string;
  priority: number;
  run_after: Date | null;
  spec_json: unknown;
  spec_hash: string;
  task_path: string | null;
  status: string;
  enqueued_at: Date;
  attempts: number;
  max_attempts: number;
  timeout_seconds: number;
  lock_key: string | null;
  concurrency_key: string | null;
  concurrency_limit: number;
  expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/**
 * Returns the active row with the same spec_hash, or inserts a new READY row. One transaction:
 * lock the hash, look, insert. Should the insert still conflict (a writer that skips the lock),
 * the winner is looked up again; a winner that finished in between means we insert after all.
 */
export async function taskEnqueue(sql: Sql, row: EnqueueRow): Promise<EnqueueResult> {
  return sql.begin(async (tx) => {
    await taskLockSpecHash(tx, { specHash: row.specHash });
    for (let round = 0; round < 5; round++) {
      const existing = await taskFindActiveBySpecHash(tx, { specHash: row.specHash });
      if (existing !== null) return { resultId: existing, created: false };
      const inserted = await taskInsertReady(tx, row);
      if (inserted !== null) return { resultId: inserted, created: true };
    }
    throw new Error(`could not enqueue spec ${row.specHash}: it kept conflicting with an active row that then vanished`);
  });
}

// Takes a transaction-scoped advisory lock on the spec hash (released at commit/rollback);
// changes nothing; returns nothing. Idempotent within a transaction.
export async function taskLockSpecHash(sql: Queryable, params: { specHash: string }): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${params.specHash}, 0))`;
}

// Locks nothing; returns the lowest result_id of a READY or RUNNING row with this spec_hash
// (CHAR(64) blank-padding compares equal), or null. Read-only.
export async function taskFindActiveBySpecHash(sql: Queryable, params: { specHash: string }): Promise<string | null> {
  const rows = await sql<{ result_id: string }[]>`
    select result_id from task_runs
    where spec_hash = ${params.specHash} and status in ('READY', 'RUNNING')
    order by result_id
    limit 1
  `;
  return rows[0]?.result_id ?? null;
}

// Inserts one READY row with every NOT NULL column given (times from the database clock);
// returns its result_id, or null when a unique index (the active-spec one) rejected it. Not
// idempotent: each call that succeeds adds a row.
export async function taskInsertReady(sql: Queryable, row: EnqueueRow): Promise<string | null> {
  // Spec and run_after are bound as text and cast: postgres.js would store a string bound as
  // jsonb as a JSON string, and would send a timestamptz parameter through Date (milliseconds).
  const rows = await sql<{ result_id: string }[]>`
    insert into task_runs (
      backend_alias, queue_name, priority, run_after, spec_json, spec_hash, task_path, status,
      enqueued_at, attempts, max_attempts, timeout_seconds, lock_key, concurrency_key,
      concurrency_limit, wait_count, worker_ids, errors_json, metadata_json, expires_at,
      created_at, updated_at, cancel_requested
    ) values (
      ${row.backendAlias}, ${row.queueName}, ${row.priority}, ${row.runAfter}::text::timestamptz,
      ${row.specText}::text::jsonb, ${row.specHash}, ${row.taskPath}, 'READY',
      now(), 0, ${row.maxAttempts}, ${row.timeoutSeconds}, ${row.lockKey}, ${row.concurrencyKey},
      ${row.concurrencyLimit}, 0, '[]'::jsonb, '[]'::jsonb, '{}'::jsonb, null,
      now(), now(), false
    )
    on conflict do nothing
    returning result_id
  `;
  return rows[0]?.result_id ?? null;
}

// Locks nothing, changes nothing; returns the database clock plus `seconds`, in UTC, as Python's
// datetime.isoformat() writes it (`2026-01-01T12:00:00.123456+00:00`; no fraction when zero).
export async function clockIsoAfter(sql: Queryable, params: { seconds: number }): Promise<string> {
  const rows = await sql<{ at: string }[]>`
    select to_char(
      (now() + make_interval(secs => ${params.seconds})) at time zone 'UTC',
      'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'
    ) as at
  `;
  const at = rows[0]?.at;
  if (at === undefined) throw new Error("the database returned no time");
  return at.replace(".000000+", "+");
}

// Locks nothing, changes nothing; returns the task_runs row (spec_hash trimmed), or null.
export async function taskGet(sql: Queryable, params: { resultId: string }): Promise<TaskRunRow | null> {
  const rows = await sql<TaskRunRow[]>`
    select
      result_id, backend_alias, queue_name, priority, run_after, spec_json, rtrim(spec_hash) as spec_hash,
      task_path, status, enqueued_at, attempts, max_attempts, timeout_seconds, lock_key,
      concurrency_key, concurrency_limit, expires_at, created_at, updated_at
    from task_runs
    where result_id = ${params.resultId}
  `;
  return rows[0] ?? null;
}
