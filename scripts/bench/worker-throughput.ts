// bun run bench:worker [tasks] [concurrency] — burn-down of N no-op tasks (default 20,000) through
// the compiled worker with the `command` executor and a minimal /bin/sh executor, then
// enqueue→start latency on an idle worker (NOTIFY). Prints tasks/s and latency percentiles, and
// what the burn-down cost the server per task: WAL bytes, statements, transactions, task_runs row
// writes (HOT or not) and trigger function calls (scripts/bench/common.ts writeCountersRead).
// Needs DATABASE_URL (a role that may create databases) and dist/reproq. BENCH_PRIVATE_PG=1 runs
// against a private embedded PostgreSQL with pg_stat_statements preloaded instead (WAL and
// statement counts then hold only this bench's work; fsync off, full_page_writes on).
// BENCH_EXECUTOR=bun-inprocess runs a TypeScript no-op in the worker's process instead of /bin/sh
// (the write path without process spawns: seconds instead of minutes for 20,000 tasks).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeDb, createDb } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";
import { startEmbeddedServer } from "../../tests/helpers/db.ts";
import { enqueueNoops, percentile, writeCountersRead, writeCountersReport, type WriteCounters } from "./common.ts";

const root = join(import.meta.dir, "..", "..");
const binary = join(root, "dist", "reproq");
const executor = join(root, "tests", "helpers", "executors", "minimal.sh");
const total = Number(Bun.argv[2] ?? 20_000);
const concurrency = Number(Bun.argv[3] ?? 16);
const privateServer = process.env.BENCH_PRIVATE_PG === "1"
  ? await startEmbeddedServer({ extraFlags: ["-c", "shared_preload_libraries=pg_stat_statements", "-c", "full_page_writes=on"] })
  : null;
const baseDsn = privateServer?.dsn ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const name = `reproq_bench_${process.pid}`;
const inProcess = process.env.BENCH_EXECUTOR === "bun-inprocess";
const taskPath = inProcess ? "bench.noop" : "tasks.noop";
const executorArgs = (): string[] => {
  if (!inProcess) return ["--executor", "command", "--executor-command", `/bin/sh,${executor}`, "--allowed-task-modules", "*"];
  const tasksDir = mkdtempSync(join(tmpdir(), "reproq-bench-tasks-"));
  writeFileSync(join(tasksDir, "bench.ts"), "export function noop() {\n  return null;\n}\n");
  return ["--executor", "bun-inprocess", "--tasks-dir", tasksDir, "--allowed-task-modules", "bench."];
};

const admin = createDb({ dsn: baseDsn, env: process.env, poolSize: 1, connectTimeoutMs: 10_000, prepare: true });
await admin`create database ${admin(name)}`;
await admin`alter database ${admin(name)} set track_functions = 'pl'`;
const dsn = baseDsn.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
const sql = createDb({ dsn, env: process.env, poolSize: 4, connectTimeoutMs: 10_000, prepare: true });

function startWorker() {
  return Bun.spawn([binary, "worker", "--dsn", dsn, ...executorArgs(), "--concurrency", String(concurrency), "--log-level", process.env.BENCH_LOG_LEVEL ?? "warn", "--log-format", "json"], {
    stdout: process.env.BENCH_LOG_LEVEL ? Bun.file("/tmp/bench-worker.log") : "ignore", stderr: "inherit",
  });
}

try {
  await migrate(sql);
  await sql`create extension if not exists pg_stat_statements`.catch(() => {}); // counted only when preloaded
  await enqueueNoops(sql, total, taskPath);
  await sql`vacuum analyze task_runs`;
  const before = await settledCounters(sql);
  const started = performance.now();
  const worker = startWorker();
  for (;;) {
    const [row] = await sql<{ done: number }[]>`select /* bench-probe */ count(*)::int as done from task_runs where status = 'SUCCESSFUL'`;
    if ((row?.done ?? 0) >= total) break;
    await Bun.sleep(100);
  }
  const seconds = (performance.now() - started) / 1000;
  const after = await settledCounters(sql);
  console.log(`burn-down: ${total} no-op tasks, concurrency ${concurrency}, ${inProcess ? "bun-inprocess no-op" : "command executor (/bin/sh)"}: ${seconds.toFixed(1)} s, ${Math.round(total / seconds)} tasks/s`);
  console.log(`burn-down writes: ${await writeCountersReport(sql, before, after, total)}`);

  // Latency: one task at a time on the now idle worker.
  const latencies: number[] = [];
  for (let i = 0; i < 200; i++) {
    await enqueueNoops(sql, 1, taskPath);
    for (;;) {
      const [row] = await sql<{ ms: number | null }[]>`
        select extract(epoch from max(started_at) - max(enqueued_at)) * 1000 as ms from task_runs where result_id = (select max(result_id) from task_runs)`;
      if (row?.ms !== null && row?.ms !== undefined) {
        latencies.push(Number(row.ms));
        break;
      }
      await Bun.sleep(2);
    }
  }
  latencies.sort((a, b) => a - b);
  console.log(`enqueue→start (NOTIFY, idle worker, 200 samples): p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms`);
  worker.kill("SIGTERM");
  await worker.exited;
} finally {
  await closeDb(sql);
  await admin`drop database if exists ${admin(name)} with (force)`;
  await closeDb(admin);
  await privateServer?.stop();
}

/**
 * The write counters once they have settled: backends report their table counters to the stats
 * system when idle (up to ~10 s later), so read until two reads 1.5 s apart agree.
 */
async function settledCounters(sql: Parameters<typeof writeCountersRead>[0]): Promise<WriteCounters> {
  let counters = await writeCountersRead(sql);
  for (let waited = 0; waited < 15_000; waited += 1_500) {
    await Bun.sleep(1_500);
    const again = await writeCountersRead(sql);
    const settled = again.updates === counters.updates && again.inserts === counters.inserts;
    counters = again;
    if (settled) break;
  }
  return counters;
}
