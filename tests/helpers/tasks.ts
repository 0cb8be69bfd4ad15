// Fixtures for the completion, lease, workflow and registry tests: a database of either schema,
// task_runs rows with any state (parent, workflow, lease), a claim done by hand (the real claim
// lives in src/queue/claim.ts and is tested on its own) and readers that compare in SQL.

import { afterAll, beforeAll } from "bun:test";
import type { Queryable, Sql } from "../../src/db/client.ts";
import { randomHash } from "./catalog.ts";
import { createTestDatabase, type TestDatabase } from "./db.ts";

/** "django" = reproq-django's schema (no defaults, varchar spec_hash, identity PK) + `reproq migrate`. */
export type TaskSchema = "reproq" | "django";
export const TASK_SCHEMAS: readonly TaskSchema[] = ["reproq", "django"];

/** Registers beforeAll/afterAll in the current describe; the getter returns the pool. */
export function useTaskDatabase(schema: TaskSchema): () => Sql {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    // "django": reproq-django's tables plus `reproq migrate` (workflow_runs, rate_limits, indexes).
    db = await createTestDatabase({ flavour: schema === "django" ? "django-migrated" : "reproq" });
  });
  afterAll(() => db?.drop());
  return () => {
    if (!db) throw new Error("test database not created yet");
    return db.sql;
  };
}

export interface TaskRowOptions {
  queue?: string;
  status?: string;
  parentId?: string | null;
  workflowId?: string | null;
  waitCount?: number;
  attempts?: number;
  maxAttempts?: number;
  leasedBy?: string | null;
  /** leased_until = NOW() + this many seconds (negative: expired); null = NULL. */
  leaseInSeconds?: number | null;
  /** last_attempted_at = NOW() + this many seconds (usually negative); null = NULL. */
  lastAttemptedInSeconds?: number | null;
  metadata?: Record<string, unknown>;
  logsUri?: string | null;
  cancelRequested?: boolean;
}

/** Inserts a row filling every NOT NULL column (Django has no defaults). Returns its result_id. */
export async function insertTaskRow(sql: Queryable, row: TaskRowOptions = {}): Promise<string> {
  const spec = { task_path: "tasks.example.run", args: [], kwargs: {} };
  const [inserted] = await sql<{ result_id: string }[]>`
    insert into task_runs (
      backend_alias, queue_name, priority, run_after, spec_json, spec_hash, task_path, status,
      enqueued_at, last_attempted_at, attempts, max_attempts, timeout_seconds, concurrency_limit,
      parent_id, workflow_id, wait_count, worker_ids, errors_json, metadata_json, leased_by,
      leased_until, logs_uri, created_at, updated_at, cancel_requested
    ) values (
      'default', ${row.queue ?? "default"}, 0, null, ${sql.json(spec)}, ${randomHash()}, 'tasks.example.run',
      ${row.status ?? "READY"}, now(), ${secondsFromNow(sql, row.lastAttemptedInSeconds ?? null)},
      ${row.attempts ?? 0}, ${row.maxAttempts ?? 3}, 900, 0,
      ${row.parentId ?? null}::bigint, ${row.workflowId ?? null}::uuid, ${row.waitCount ?? 0},
      '[]'::jsonb, '[]'::jsonb, ${JSON.stringify(row.metadata ?? {})}::text::jsonb, ${row.leasedBy ?? null},
      ${secondsFromNow(sql, row.leaseInSeconds ?? null)}, ${row.logsUri ?? null}, now(), now(),
      ${row.cancelRequested ?? false}
    )
    returning result_id`;
  return inserted!.result_id;
}

function secondsFromNow(sql: Queryable, seconds: number | null) {
  return seconds === null ? sql`null::timestamptz` : sql`now() + make_interval(secs => ${seconds}::double precision)`;
}

/** What the claim does, by hand: RUNNING, leased to `workerId`, attempts + 1. */
export async function claimByHand(sql: Queryable, resultId: string, workerId: string, leaseSeconds = 300): Promise<void> {
  await sql`
    update task_runs set
      status = 'RUNNING', leased_by = ${workerId},
      leased_until = now() + make_interval(secs => ${leaseSeconds}::double precision),
      attempts = attempts + 1, started_at = coalesce(started_at, now()), last_attempted_at = now(),
      worker_ids = worker_ids || jsonb_build_array(${workerId}::text), updated_at = now()
    where result_id = ${resultId}::bigint`;
}

/** Inserts `count` rows and claims them for `workerId`. */
export async function insertClaimed(sql: Queryable, workerId: string, count = 1, row: TaskRowOptions = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = await insertTaskRow(sql, row);
    await claimByHand(sql, id, workerId);
    ids.push(id);
  }
  return ids;
}

export interface TaskRowState {
  status: string;
  attempts: number;
  wait_count: number;
  /** return_json::text; null = SQL NULL (jsonb null reads as "null"). */
  return_text: string | null;
  errors: Array<Record<string, unknown>>;
  metadata_text: string;
  last_error: string | null;
  logs_uri: string | null;
  leased_by: string | null;
  has_lease: boolean;
  /** Seconds since finished_at / failed_at / updated_at on the DB clock (null when NULL). */
  finished_age: number | null;
  failed_age: number | null;
  updated_age: number;
  /** Seconds from the DB clock to run_after (null when NULL). */
  run_after_in: number | null;
  /** Seconds from the DB clock to leased_until (null when NULL). */
  lease_in: number | null;
  cancel_requested: boolean;
}

/** The columns the tests assert on, with time comparisons done on the DB clock. */
export async function readTask(sql: Queryable, resultId: string): Promise<TaskRowState> {
  const [row] = await sql<TaskRowState[]>`
    select status, attempts, wait_count, return_json::text as return_text, errors_json as errors,
           metadata_json::text as metadata_text, last_error, logs_uri, leased_by,
           leased_until is not null as has_lease,
           extract(epoch from now() - finished_at)::float8 as finished_age,
           extract(epoch from now() - failed_at)::float8 as failed_age,
           extract(epoch from now() - updated_at)::float8 as updated_age,
           extract(epoch from run_after - now())::float8 as run_after_in,
           extract(epoch from leased_until - now())::float8 as lease_in,
           cancel_requested
    from task_runs where result_id = ${resultId}::bigint`;
  if (!row) throw new Error(`task ${resultId} not found`);
  return row;
}

/** The whole row as text: byte-level "nothing changed" comparisons. */
export async function taskRowText(sql: Queryable, resultId: string): Promise<string> {
  const [row] = await sql<{ line: string }[]>`select t::text as line from task_runs t where result_id = ${resultId}::bigint`;
  return row!.line;
}

export async function insertWorkflowRun(
  sql: Queryable,
  run: { workflowId?: string; expected: number; callbackResultId: string | null; status?: string },
): Promise<string> {
  const workflowId = run.workflowId ?? crypto.randomUUID();
  await sql`
    insert into workflow_runs (workflow_id, expected_count, success_count, failure_count, callback_result_id, status, created_at, updated_at)
    values (${workflowId}::uuid, ${run.expected}, 0, 0, ${run.callbackResultId}::bigint, ${run.status ?? "RUNNING"}, now(), now())`;
  return workflowId;
}

export async function readWorkflowRun(sql: Queryable, workflowId: string) {
  const [row] = await sql<{ status: string; success_count: number; failure_count: number }[]>`
    select status, success_count, failure_count from workflow_runs where workflow_id = ${workflowId}::uuid`;
  if (!row) throw new Error(`workflow ${workflowId} not found`);
  return row;
}

/** A chord as Django builds it: `members` READY group rows and a WAITING callback, all claimed by `workerId`. */
export async function insertChord(sql: Queryable, workerId: string, members: number) {
  const workflowId = crypto.randomUUID();
  const callback = await insertTaskRow(sql, { status: "WAITING", workflowId, waitCount: members });
  const group: string[] = [];
  for (let i = 0; i < members; i++) group.push(...(await insertClaimed(sql, workerId, 1, { workflowId })));
  await insertWorkflowRun(sql, { workflowId, expected: members, callbackResultId: callback });
  return { workflowId, callback, group };
}

/** A chain as Django builds it: the head claimed by `workerId`, the rest WAITING on their predecessor. */
export async function insertChain(sql: Queryable, workerId: string, length: number): Promise<string[]> {
  const workflowId = crypto.randomUUID();
  const ids = await insertClaimed(sql, workerId, 1, { workflowId });
  for (let i = 1; i < length; i++) {
    ids.push(await insertTaskRow(sql, { status: "WAITING", workflowId, waitCount: 1, parentId: ids[i - 1]! }));
  }
  return ids;
}

/** A DB-clock age (seconds) that is set and recent: the column was written by this test. */
export function isRecent(age: number | null): boolean {
  return age !== null && age >= 0 && age < 30;
}

/** insertTaskRow with this status and finished_at = NOW() - `finishedSecondsAgo` (null = NULL). */
export async function insertFinishedRow(sql: Queryable, status: string, finishedSecondsAgo: number | null, row: TaskRowOptions = {}): Promise<string> {
  const id = await insertTaskRow(sql, { ...row, status });
  await sql`update task_runs set finished_at = ${finishedSecondsAgo === null ? null : sql`now() - make_interval(secs => ${finishedSecondsAgo}::float8)`}
            where result_id = ${id}::bigint`;
  return id;
}
