// Shared by the worker benchmarks: bulk no-op tasks and percentiles.
import { closeDb, createDb, type Sql } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";

/**
 * Inserts `count` READY rows of `taskPath` in one statement (distinct specs and hashes); `kwargs`
 * for every row. With `delay`, each row's run_after is spread at random over
 * [fromMs, fromMs + spreadMs) from now; without it, run_after is NULL (due now).
 */
export async function enqueueNoops(
  sql: Sql, count: number, taskPath: string, kwargs: Record<string, string> = {},
  delay: { fromMs: number; spreadMs: number } | null = null,
): Promise<void> {
  await sql`
    insert into task_runs (backend_alias, queue_name, priority, spec_json, spec_hash, task_path, status, enqueued_at, run_after,
      attempts, max_attempts, timeout_seconds, concurrency_limit, wait_count, worker_ids, errors_json, metadata_json,
      created_at, updated_at, cancel_requested)
    select 'default', 'default', 0, jsonb_build_object('task_path', ${taskPath}::text, 'args', jsonb_build_array(i), 'kwargs', ${JSON.stringify(kwargs)}::text::jsonb),
      md5(random()::text || i) || md5(i::text), ${taskPath}::text, 'READY', clock_timestamp(),
      case when ${delay !== null} then clock_timestamp() + make_interval(secs => (${delay?.fromMs ?? 0} + random() * ${delay?.spreadMs ?? 0}) / 1000.0) end,
      0, 3, 900, 0, 0, '[]'::jsonb, '[]'::jsonb, '{}'::jsonb, now(), now(), false
    from generate_series(1, ${count}) as i`;
}

/** The p-th percentile of an ascending list (nearest rank); NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * Server counters read before and after a burn-down, to price it per task: WAL bytes
 * (pg_current_wal_lsn), statements (pg_stat_statements when the server preloads it, else null),
 * transactions (pg_stat_database xact_commit + xact_rollback of this database), task_runs row
 * writes (n_tup_ins / n_tup_upd / n_tup_hot_upd; HOT = no index entry written) and the calls of
 * the trigger functions (pg_stat_user_functions; needs track_functions = 'pl', which the caller
 * sets on the database). WAL and pg_stat_statements are server-wide: on a shared server other
 * sessions' work lands in them too (BENCH_PRIVATE_PG=1 in bench:worker starts a private server).
 */
export interface WriteCounters {
  walLsn: string;
  statements: number | null;
  transactions: number;
  inserts: number;
  updates: number;
  hotUpdates: number;
  triggerCalls: Record<string, number>;
}

export async function writeCountersRead(sql: Sql): Promise<WriteCounters> {
  await sql`select pg_stat_clear_snapshot()`; // stats views are cached per transaction
  const [row] = await sql<{ lsn: string; xacts: string; ins: string; upd: string; hot: string }[]>`
    select pg_current_wal_lsn()::text as lsn,
      (select (xact_commit + xact_rollback)::text from pg_stat_database where datname = current_database()) as xacts,
      coalesce(s.n_tup_ins, 0)::text as ins, coalesce(s.n_tup_upd, 0)::text as upd, coalesce(s.n_tup_hot_upd, 0)::text as hot
    from (select 1) one left join pg_stat_user_tables s on s.relid = 'task_runs'::regclass`;
  const functions = await sql<{ name: string; calls: string }[]>`
    select funcname as name, calls::text as calls from pg_stat_user_functions where funcname like 'reproq\\_%'`;
  let statements: number | null = null;
  try {
    const [s] = await sql<{ calls: string }[]>`
      select coalesce(sum(calls), 0)::text as calls from pg_stat_statements /* bench-probe */
      where dbid = (select oid from pg_database where datname = current_database())
        and query not like '%bench-probe%'`;
    statements = Number(s!.calls);
  } catch {
    statements = null; // extension absent or not preloaded
  }
  return {
    walLsn: row!.lsn,
    statements,
    transactions: Number(row!.xacts),
    inserts: Number(row!.ins),
    updates: Number(row!.upd),
    hotUpdates: Number(row!.hot),
    triggerCalls: Object.fromEntries(functions.map((f) => [f.name, Number(f.calls)])),
  };
}

/** One line per measure: the difference between two reads, per task. */
export async function writeCountersReport(sql: Sql, before: WriteCounters, after: WriteCounters, tasks: number): Promise<string> {
  const [wal] = await sql<{ bytes: string }[]>`select pg_wal_lsn_diff(${after.walLsn}::pg_lsn, ${before.walLsn}::pg_lsn)::text as bytes`;
  const per = (n: number) => (n / tasks).toFixed(2);
  const updates = after.updates - before.updates;
  const hot = after.hotUpdates - before.hotUpdates;
  const triggers = Object.entries(after.triggerCalls)
    .map(([name, calls]) => `${name} ${per(calls - (before.triggerCalls[name] ?? 0))}`)
    .join(", ");
  return [
    `WAL ${Math.round(Number(wal!.bytes) / tasks)} bytes/task`,
    after.statements === null || before.statements === null
      ? "statements: pg_stat_statements not loaded"
      : `${per(after.statements - before.statements)} statements/task`,
    `${per(after.transactions - before.transactions)} transactions/task`,
    `task_runs: ${per(after.inserts - before.inserts)} inserts, ${per(updates)} updates (${hot} HOT of ${updates}) per task`,
    `trigger function calls/task: ${triggers || "none"}`,
  ].join("; ");
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
export function withDjangoBenchDb<T>(baseDsn: string, name: string, fn: (sql: Sql, dsn: string) => Promise<T>): Promise<T> {
  return withBenchDatabase(name, async (sql, dsn) => {
    await sql`create table demoapp_note (id bigserial primary key, text text not null)`;
    return fn(sql, dsn);
  }, baseDsn);
}

/**
 * Runs `body` on a fresh migrated database named `name` (on `baseDsn`'s server: DATABASE_URL's by
 * default), dropped afterwards whatever happens; `body` gets a small pool to it and its DSN.
 */
export async function withBenchDatabase<T>(
  name: string,
  body: (sql: Sql, dsn: string) => Promise<T>,
  baseDsn = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
): Promise<T> {
  const admin = createDb({ dsn: baseDsn, env: process.env, poolSize: 1, connectTimeoutMs: 10_000, prepare: true });
  await admin`drop database if exists ${admin(name)} with (force)`;
  await admin`create database ${admin(name)}`;
  const dsn = baseDsn.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
  const sql = createDb({ dsn, env: process.env, poolSize: 2, connectTimeoutMs: 10_000, prepare: true });
  try {
    await migrate(sql);
    return await body(sql, dsn);
  } finally {
    await closeDb(sql);
    await admin`drop database if exists ${admin(name)} with (force)`;
    await closeDb(admin);
  }
}
