// Shared by the worker benchmarks: bulk no-op tasks and percentiles.
import { closeDb, createDb, type Sql } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";

/** Inserts `count` READY rows of `taskPath` in one statement (distinct specs and hashes); `kwargs` for every row. */
export async function enqueueNoops(sql: Sql, count: number, taskPath: string, kwargs: Record<string, string> = {}): Promise<void> {
  await sql`
    insert into task_runs (backend_alias, queue_name, priority, spec_json, spec_hash, task_path, status, enqueued_at,
      attempts, max_attempts, timeout_seconds, concurrency_limit, wait_count, worker_ids, errors_json, metadata_json,
      created_at, updated_at, cancel_requested)
    select 'default', 'default', 0, jsonb_build_object('task_path', ${taskPath}::text, 'args', jsonb_build_array(i), 'kwargs', ${JSON.stringify(kwargs)}::text::jsonb),
      md5(random()::text || i) || md5(i::text), ${taskPath}::text, 'READY', clock_timestamp(), 0, 3, 900, 0, 0,
      '[]'::jsonb, '[]'::jsonb, '{}'::jsonb, now(), now(), false
    from generate_series(1, ${count}) as i`;
}

/** The p-th percentile of an ascending list (nearest rank); NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * Runs `body` on a fresh migrated database named `name` (created from DATABASE_URL's server),
 * dropped afterwards whatever happens; `body` gets a small pool to it and its DSN.
 */
export async function withBenchDatabase(name: string, body: (sql: Sql, dsn: string) => Promise<void>): Promise<void> {
  const baseDsn = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const admin = createDb({ dsn: baseDsn, env: process.env, poolSize: 1, connectTimeoutMs: 10_000, prepare: true });
  await admin`create database ${admin(name)}`;
  const dsn = baseDsn.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
  const sql = createDb({ dsn, env: process.env, poolSize: 2, connectTimeoutMs: 10_000, prepare: true });
  try {
    await migrate(sql);
    await body(sql, dsn);
  } finally {
    await closeDb(sql);
    await admin`drop database if exists ${admin(name)} with (force)`;
    await closeDb(admin);
  }
}
