// Shared set-up for the claim tests (claim*.test.ts): databases of both schema flavours, bulk row
// inserts that fill every NOT NULL column (Django's schema has no defaults), rate limits, pauses.

import { createDb, type Queryable, type Sql } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";
import { CLAIM_SESSION_SETTINGS } from "../../src/queue/claim.ts";
import type { ClaimParams } from "../../src/queue/types.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

/** "reproq": created by `reproq migrate`; "django": Django's migration, then `reproq migrate`. */
export const FLAVOURS = ["reproq", "django"] as const;
export type ClaimFlavour = (typeof FLAVOURS)[number];

/** A 2-connection pool whose sessions carry the claim settings (a worker's claim session). */
export function claimSession(dsn: string): Sql {
  return createDb({ dsn, env: {}, poolSize: 2, connectTimeoutMs: 10_000, prepare: true, sessionSettings: CLAIM_SESSION_SETTINGS });
}

export async function openDatabase(flavour: ClaimFlavour): Promise<TestDatabase> {
  const db = await createTestDatabase({ flavour });
  if (flavour === "django") await migrate(db.sql);
  return db;
}

export interface RowSpec {
  queue?: string;
  priority?: number;
  /** enqueued_at = NOW() − ageSeconds (default 0); ignored when enqueuedAt is given. */
  ageSeconds?: number;
  enqueuedAt?: Date;
  /** run_after = NOW() + runAfterSeconds; null/undefined = NULL. */
  runAfterSeconds?: number | null;
  lockKey?: string | null;
  concurrencyKey?: string | null;
  concurrencyLimit?: number;
  taskPath?: string;
  attempts?: number;
  maxAttempts?: number;
  specHash?: string;
}

/** Inserts the rows (READY) in order, one statement; returns their result_ids in the same order. */
export async function insertRows(sql: Queryable, rows: readonly RowSpec[]): Promise<string[]> {
  const col = <T>(f: (r: RowSpec, i: number) => T): T[] => rows.map(f);
  const stamp = Date.now().toString(36);
  const inserted = await sql<{ result_id: string }[]>`
    INSERT INTO task_runs (
      backend_alias, queue_name, priority, run_after, spec_json, spec_hash, task_path, status,
      enqueued_at, attempts, max_attempts, timeout_seconds, lock_key, concurrency_key,
      concurrency_limit, wait_count, worker_ids, errors_json, metadata_json, created_at, updated_at,
      cancel_requested
    )
    SELECT 'default', r.queue, r.priority,
           CASE WHEN r.run_after_s IS NULL THEN NULL ELSE NOW() + make_interval(secs => r.run_after_s) END,
           jsonb_build_object('task_path', r.task_path, 'args', jsonb_build_array(r.ord), 'kwargs', '{}'::jsonb),
           r.spec_hash, r.task_path, 'READY',
           COALESCE(r.enqueued_at, NOW() - make_interval(secs => r.age_s)), r.attempts, r.max_attempts, 900,
           r.lock_key, r.concurrency_key, r.concurrency_limit, 0, '[]'::jsonb, '[]'::jsonb, '{}'::jsonb,
           NOW(), NOW(), false
    FROM unnest(
      ${col((r) => r.queue ?? "default")}::text[], ${col((r) => r.priority ?? 0)}::int[],
      ${col((r) => r.runAfterSeconds ?? null)}::float8[], ${col((r) => r.taskPath ?? "tasks.example.run")}::text[],
      ${col((r, i) => r.specHash ?? `${stamp}-${i}-${crypto.randomUUID()}`.slice(0, 64))}::text[],
      ${col((r) => r.enqueuedAt?.toISOString() ?? null)}::timestamptz[], ${col((r) => r.ageSeconds ?? 0)}::float8[],
      ${col((r) => r.attempts ?? 0)}::int[], ${col((r) => r.maxAttempts ?? 3)}::int[],
      ${col((r) => r.lockKey ?? null)}::text[], ${col((r) => r.concurrencyKey ?? null)}::text[],
      ${col((r) => r.concurrencyLimit ?? 0)}::int[]
    ) WITH ORDINALITY AS r(queue, priority, run_after_s, task_path, spec_hash, enqueued_at, age_s, attempts,
                           max_attempts, lock_key, concurrency_key, concurrency_limit, ord)
    ORDER BY r.ord
    RETURNING result_id`;
  return inserted.map((r) => r.result_id);
}

/** Upserts a rate_limits row; lastRefilledSecondsAgo moves last_refilled_at into the past. */
export async function setRateLimit(
  sql: Queryable,
  key: string,
  opts: { rate: number; burst: number; current?: number; lastRefilledSecondsAgo?: number },
): Promise<void> {
  await sql`
    INSERT INTO rate_limits (key, tokens_per_second, burst_size, current_tokens, last_refilled_at)
    VALUES (${key}, ${opts.rate}, ${opts.burst}, ${opts.current ?? opts.burst},
            NOW() - make_interval(secs => ${opts.lastRefilledSecondsAgo ?? 0}::float8))
    ON CONFLICT (key) DO UPDATE SET tokens_per_second = EXCLUDED.tokens_per_second,
      burst_size = EXCLUDED.burst_size, current_tokens = EXCLUDED.current_tokens,
      last_refilled_at = EXCLUDED.last_refilled_at`;
}

export async function setPaused(sql: Queryable, queue: string, paused: boolean): Promise<void> {
  await sql`
    INSERT INTO reproq_queue_controls (queue_name, paused, paused_at, reason, created_at, updated_at)
    VALUES (${queue}, ${paused}, CASE WHEN ${paused}::bool THEN NOW() END, 'test', NOW(), NOW())
    ON CONFLICT (queue_name) DO UPDATE SET paused = EXCLUDED.paused, paused_at = EXCLUDED.paused_at,
      updated_at = NOW()`;
}

/** Marks rows finished the way a completion would (enough for the claim's RUNNING counts). */
export async function finishRows(sql: Queryable, ids: readonly string[]): Promise<void> {
  await sql`
    UPDATE task_runs SET status = 'SUCCESSFUL', finished_at = NOW(), updated_at = NOW()
    WHERE result_id = ANY(${[...ids]}::bigint[])`;
}

export function claimParams(overrides: Partial<ClaimParams> = {}): ClaimParams {
  return { workerId: "worker-a", queues: ["default"], limit: 10, leaseSeconds: 60, priorityAgingFactor: 0, ...overrides };
}

/**
 * Empties task_runs, pauses and rate limits (the seeded global row back to rate 0) between tests.
 * TRUNCATE, not DELETE: on our schema the self-referencing parent_id FK has only a partial index,
 * so DELETE checks every deleted row with a scan of the table (quadratic on big tables).
 */
export async function resetTables(sql: Queryable): Promise<void> {
  await sql`TRUNCATE task_runs`;
  await sql`DELETE FROM reproq_queue_controls`;
  await sql`DELETE FROM rate_limits WHERE key <> 'global'`;
  await setRateLimit(sql, "global", { rate: 0, burst: 1, current: 0 });
}
