// bun run bench:ts [tasks] [concurrency] [kinds] — TypeScript no-op tasks through the compiled
// worker: a burn-down of N tasks (default 20,000) per executor kind (default "bun-inprocess,bun"),
// then enqueue→handler-start latency on the idle worker (NOTIFY, 200 samples: the handler returns
// the wall clock when it starts; the latency is that minus enqueued_at, same host). The burn-down
// also prints what it cost per task: the worker's statements by operation (its
// reproq_db_operation_duration_seconds counts: claim, completion, heartbeat), rows written (from
// pg_stat_database), WAL bytes (pg_current_wal_lsn difference: server-wide, so other activity on
// the server inflates it) and the worker's CPU time.
// Each kind gets a fresh database. Needs DATABASE_URL (a role that may create databases) and dist/reproq.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeDb, createDb, type Sql } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";
import { enqueueNoops, percentile } from "./common.ts";

const root = join(import.meta.dir, "..", "..");
// REPROQ_BENCH_BINARY: another build to measure (e.g. an earlier commit's, for a before/after in one run).
const binary = process.env.REPROQ_BENCH_BINARY ?? join(root, "dist", "reproq");
const total = Number(Bun.argv[2] ?? 20_000);
const concurrency = Number(Bun.argv[3] ?? 16);
const kinds = (Bun.argv[4] ?? "bun-inprocess,bun").split(",");
const baseDsn = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const LATENCY_SAMPLES = 200;

const tasksDir = mkdtempSync(join(tmpdir(), "reproq-bench-tasks-"));
writeFileSync(
  join(tasksDir, "bench.ts"),
  "export function noop() {\n  return null;\n}\nexport function stamp() {\n  return performance.timeOrigin + performance.now();\n}\n",
);

interface DbCounters {
  tuplesWritten: number;
  walBytes: number;
}

/** The worker's statements so far by operation, from its /metrics. */
async function statementsByOperation(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^reproq_db_operation_duration_seconds_count\{operation="([a-z_]+)"\} (\d+)/gm)) {
    counts[match[1]!] = Number(match[2]);
  }
  return counts;
}

function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/** User + system CPU time of a process so far (Linux /proc; NaN elsewhere). */
function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in 100 Hz ticks
  } catch {
    return Number.NaN;
  }
}

/** Rows written in this database; WAL position of the server. */
async function dbCounters(sql: Sql): Promise<DbCounters> {
  const [row] = await sql<{ tuples: string; wal: string }[]>`
    select (tup_inserted + tup_updated + tup_deleted)::text as tuples,
      pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text as wal
    from pg_stat_database where datname = current_database()`;
  return { tuplesWritten: Number(row?.tuples ?? 0), walBytes: Number(row?.wal ?? 0) };
}

async function benchKind(kind: string): Promise<void> {
  const name = `reproq_bench_ts_${process.pid}_${kind.replace("-", "_")}`;
  const admin = createDb({ dsn: baseDsn, env: process.env, poolSize: 1, connectTimeoutMs: 10_000, prepare: true });
  await admin`create database ${admin(name)}`;
  const dsn = baseDsn.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
  const sql = createDb({ dsn, env: process.env, poolSize: 1, connectTimeoutMs: 10_000, prepare: true });
  let worker: ReturnType<typeof Bun.spawn> | undefined;
  try {
    await migrate(sql);
    await enqueueNoops(sql, total, "bench.noop");
    await sql`select pg_stat_force_next_flush()`;
    await Bun.sleep(1_100); // pg_stat_database lags a backend's counters by up to a second
    const before = await dbCounters(sql);
    const started = performance.now();
    const port = freePort();
    worker = Bun.spawn([binary, "worker", "--dsn", dsn, "--executor", kind, "--tasks-dir", tasksDir, "--allowed-task-modules", "bench.",
      "--concurrency", String(concurrency), "--log-level", "warn", "--log-format", "json", "--metrics-addr", `127.0.0.1:${port}`],
      { stdout: "ignore", stderr: "inherit" });
    for (;;) {
      const [row] = await sql<{ done: number; failed: number }[]>`
        select count(*) filter (where status = 'SUCCESSFUL')::int as done, count(*) filter (where status = 'FAILED')::int as failed from task_runs`;
      if ((row?.failed ?? 0) > 0) throw new Error(`${row?.failed} tasks failed`);
      if ((row?.done ?? 0) >= total) break;
      await Bun.sleep(100);
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`${kind}: burn-down of ${total} no-op tasks, concurrency ${concurrency}: ${seconds.toFixed(1)} s, ${Math.round(total / seconds)} tasks/s`);
    const walAfter = (await dbCounters(sql)).walBytes;
    const cpuMs = processCpuMs(worker.pid);
    const operations = await statementsByOperation(port);
    // The worker's counters reach pg_stat_database when its connections close.
    worker.kill("SIGTERM");
    await worker.exited;
    worker = undefined;
    // Its backends flush their counters as they exit: wait until they have.
    for (let i = 0; i < 100; i++) {
      const [others] = await sql<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`;
      if (others?.n === 0) break;
      await Bun.sleep(100);
    }
    await Bun.sleep(1_100);
    const after = await dbCounters(sql);
    const perTask = (n: number) => (n / total).toFixed(3);
    const statements = Object.values(operations).reduce((a, b) => a + b, 0);
    const byOperation = Object.entries(operations).map(([operation, n]) => `${operation} ${perTask(n)}`).join(", ");
    console.log(
      `${kind}: per task: ${(statements / total).toFixed(3)} worker statements (${byOperation}), ${perTask(after.tuplesWritten - before.tuplesWritten)} rows written, ` +
        `${Math.round((walAfter - before.walBytes) / total)} WAL bytes (server-wide), ${Math.round((cpuMs * 1000) / total)} µs worker CPU (incl. startup)`,
    );
    worker = Bun.spawn([binary, "worker", "--dsn", dsn, "--executor", kind, "--tasks-dir", tasksDir, "--allowed-task-modules", "bench.",
      "--concurrency", String(concurrency), "--log-level", "warn", "--log-format", "json"], { stdout: "ignore", stderr: "inherit" });
    await Bun.sleep(1_000);

    const latencies: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      await enqueueNoops(sql, 1, "bench.stamp");
      for (;;) {
        const [row] = await sql<{ ms: number | null }[]>`
          select (return_json::text)::float8 - extract(epoch from enqueued_at) * 1000 as ms
          from task_runs where result_id = (select max(result_id) from task_runs) and status = 'SUCCESSFUL'`;
        if (row?.ms !== null && row?.ms !== undefined) {
          latencies.push(Number(row.ms));
          break;
        }
        await Bun.sleep(2);
      }
    }
    latencies.sort((a, b) => a - b);
    console.log(`${kind}: enqueue→handler start (NOTIFY, idle worker, ${LATENCY_SAMPLES} samples): p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms`);
    await delayedLatency(sql, kind);
  } finally {
    worker?.kill("SIGTERM");
    await worker?.exited;
    await closeDb(sql);
    await admin`drop database if exists ${admin(name)} with (force)`;
    await closeDb(admin);
  }
}

/** Handler start − run_after (ms, ascending) of the delayed stamp tasks, once all `count` have run. */
async function delayedStarts(sql: Sql, count: number): Promise<number[]> {
  for (;;) {
    const rows = await sql<{ ms: number }[]>`
      select (return_json::text)::float8 - extract(epoch from run_after) * 1000 as ms
      from task_runs where run_after is not null and status = 'SUCCESSFUL'`;
    if (rows.length >= count) return rows.map((row) => Number(row.ms)).sort((a, b) => a - b);
    await Bun.sleep(20);
  }
}

const DELAYED_SAMPLES = 100;
const DELAYED_BURST = 2_000;

/**
 * How late a delayed task starts: handler start − run_after, on the idle worker of the latency
 * phase. One at a time (each due 100–600 ms after it is enqueued), then a burst of 2,000 enqueued
 * at once and due over the following 1–3 s (the worker must wake for each due time, not only on
 * NOTIFY or its poll).
 */
async function delayedLatency(sql: Sql, kind: string): Promise<void> {
  await sql`delete from task_runs where run_after is not null`;
  const single: number[] = [];
  for (let i = 0; i < DELAYED_SAMPLES; i++) {
    await enqueueNoops(sql, 1, "bench.stamp", {}, { fromMs: 100, spreadMs: 500 });
    const [late] = await delayedStarts(sql, 1);
    single.push(late ?? Number.NaN);
    await sql`delete from task_runs where run_after is not null`;
  }
  single.sort((a, b) => a - b);
  await enqueueNoops(sql, DELAYED_BURST, "bench.stamp", {}, { fromMs: 1_000, spreadMs: 2_000 });
  const burst = await delayedStarts(sql, DELAYED_BURST);
  const line = (values: number[]) =>
    `p50 ${percentile(values, 50).toFixed(1)} ms, p95 ${percentile(values, 95).toFixed(1)} ms, p99 ${percentile(values, 99).toFixed(1)} ms, max ${values.at(-1)?.toFixed(1)} ms`;
  console.log(`${kind}: delayed task, run_after → handler start, one at a time (${DELAYED_SAMPLES}, due 0.1–0.6 s after enqueue): ${line(single)}`);
  console.log(`${kind}: delayed task, run_after → handler start, burst of ${DELAYED_BURST} due over 1–3 s: ${line(burst)}`);
}

try {
  for (const kind of kinds) await benchKind(kind);
} finally {
  rmSync(tasksDir, { recursive: true, force: true });
}
