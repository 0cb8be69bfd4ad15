// Shared by the worker benchmarks: bulk no-op tasks and percentiles.
import { closeDb, createDb, type Sql } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";

/** Inserts `count` READY rows of `taskPath` in one statement (distinct specs and hashes). */
export async function enqueueNoops(sql: Sql, count: number, taskPath: string): Promise<void> {
  await sql`
    insert into task_runs (backend_alias, queue_name, priority, spec_json, spec_hash, task_path, status, enqueued_at,
      attempts, max_attempts, timeout_seconds, concurrency_limit, wait_count, worker_ids, errors_json, metadata_json,
      created_at, updated_at, cancel_requested)
    select 'default', 'default', 0, jsonb_build_object('task_path', ${taskPath}::text, 'args', jsonb_build_array(i), 'kwargs', '{}'::jsonb),
      md5(random()::text || i) || md5(i::text), ${taskPath}::text, 'READY', clock_timestamp(), 0, 3, 900, 0, 0,
      '[]'::jsonb, '[]'::jsonb, '{}'::jsonb, now(), now(), false
    from generate_series(1, ${count}) as i`;
}

/** The p-th percentile of an ascending list (nearest rank); NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Finished tasks (SUCCESSFUL or FAILED). */
export async function countDone(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from task_runs where status in ('SUCCESSFUL', 'FAILED')`;
  return row?.n ?? 0;
}

/** Waits until `count` tasks have finished; throws if any failed. */
export async function waitDone(sql: Sql, count: number, what: string): Promise<void> {
  const deadline = performance.now() + 600_000;
  while ((await countDone(sql)) < count) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
  const [failed] = await sql<{ n: number }[]>`select count(*)::int as n from task_runs where status = 'FAILED'`;
  if ((failed?.n ?? 0) > 0) throw new Error(`${failed?.n} task(s) failed; see task_runs.errors_json`);
}

/** The median of a list; NaN when empty. */
export const median = (numbers: number[]): number => {
  const sorted = [...numbers].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

/** Runs `fn` against a fresh, migrated database `name` (with the djangoproj demo table), dropped after. */
export async function withDjangoBenchDb<T>(baseDsn: string, name: string, fn: (sql: Sql, dsn: string) => Promise<T>): Promise<T> {
  const admin = createDb({ dsn: baseDsn, env: process.env, poolSize: 1, connectTimeoutMs: 10_000, prepare: true });
  await admin`drop database if exists ${admin(name)} with (force)`;
  await admin`create database ${admin(name)}`;
  const dsn = baseDsn.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
  const sql = createDb({ dsn, env: process.env, poolSize: 2, connectTimeoutMs: 10_000, prepare: true });
  try {
    await migrate(sql);
    await sql`create table demoapp_note (id bigserial primary key, text text not null)`;
    return await fn(sql, dsn);
  } finally {
    await closeDb(sql);
    await admin`drop database if exists ${admin(name)} with (force)`;
    await closeDb(admin);
  }
}
