// bun run bench:worker [tasks] [concurrency] — burn-down of N no-op tasks (default 20,000) through
// the compiled worker with the `command` executor and a minimal /bin/sh executor, then
// enqueue→start latency on an idle worker (NOTIFY). Prints tasks/s and latency percentiles.
// Needs DATABASE_URL (a role that may create databases) and dist/reproq.
import { join } from "node:path";
import { closeDb, createDb } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";
import { enqueueNoops, percentile } from "./common.ts";

const root = join(import.meta.dir, "..", "..");
const binary = join(root, "dist", "reproq");
const executor = join(root, "tests", "helpers", "executors", "minimal.sh");
const total = Number(Bun.argv[2] ?? 20_000);
const concurrency = Number(Bun.argv[3] ?? 16);
const baseDsn = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const name = `reproq_bench_${process.pid}`;

const admin = createDb({ dsn: baseDsn, env: process.env, poolSize: 1, connectTimeoutMs: 10_000, prepare: true });
await admin`create database ${admin(name)}`;
const dsn = baseDsn.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
const sql = createDb({ dsn, env: process.env, poolSize: 4, connectTimeoutMs: 10_000, prepare: true });

function startWorker() {
  return Bun.spawn([binary, "worker", "--dsn", dsn, "--executor", "command", "--executor-command", `/bin/sh,${executor}`,
    "--allowed-task-modules", "*", "--concurrency", String(concurrency), "--log-level", process.env.BENCH_LOG_LEVEL ?? "warn", "--log-format", "json"], {
    stdout: process.env.BENCH_LOG_LEVEL ? Bun.file("/tmp/bench-worker.log") : "ignore", stderr: "inherit",
  });
}

try {
  await migrate(sql);
  await enqueueNoops(sql, total, "tasks.noop");
  const started = performance.now();
  const worker = startWorker();
  for (;;) {
    const [row] = await sql<{ done: number }[]>`select count(*)::int as done from task_runs where status = 'SUCCESSFUL'`;
    if ((row?.done ?? 0) >= total) break;
    await Bun.sleep(100);
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`burn-down: ${total} no-op tasks, concurrency ${concurrency}, command executor (/bin/sh): ${seconds.toFixed(1)} s, ${Math.round(total / seconds)} tasks/s`);

  // Latency: one task at a time on the now idle worker.
  const latencies: number[] = [];
  for (let i = 0; i < 200; i++) {
    await enqueueNoops(sql, 1, "tasks.noop");
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
}
