// bun run bench:ts [tasks] [concurrency] [kinds] — TypeScript no-op tasks through the compiled
// worker: a burn-down of N tasks (default 20,000) per executor kind (default "bun-inprocess,bun"),
// then enqueue→start latency on the idle worker (NOTIFY, 200 samples). Each kind gets a fresh
// database. Needs DATABASE_URL (a role that may create databases) and dist/reproq.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeDb, createDb, type Sql } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";
import { enqueueNoops, percentile } from "./common.ts";

const root = join(import.meta.dir, "..", "..");
// REPROQ_BENCH_BINARY: another build to measure (e.g. the previous commit's, for a before/after in one run).
const binary = process.env.REPROQ_BENCH_BINARY ?? join(root, "dist", "reproq");
const total = Number(Bun.argv[2] ?? 20_000);
const concurrency = Number(Bun.argv[3] ?? 16);
const kinds = (Bun.argv[4] ?? "bun-inprocess,bun").split(",");
const baseDsn = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const LATENCY_SAMPLES = 200;

const tasksDir = mkdtempSync(join(tmpdir(), "reproq-bench-tasks-"));
writeFileSync(join(tasksDir, "bench.ts"), "export function noop() {\n  return null;\n}\n");

async function benchKind(kind: string): Promise<void> {
  const name = `reproq_bench_ts_${process.pid}_${kind.replace("-", "_")}`;
  const admin = createDb({ dsn: baseDsn, env: process.env, poolSize: 1, connectTimeoutMs: 10_000, prepare: true });
  await admin`create database ${admin(name)}`;
  const dsn = baseDsn.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
  const sql = createDb({ dsn, env: process.env, poolSize: 4, connectTimeoutMs: 10_000, prepare: true });
  let worker: ReturnType<typeof Bun.spawn> | undefined;
  try {
    await migrate(sql);
    await enqueueNoops(sql, total, "bench.noop");
    const started = performance.now();
    worker = Bun.spawn([binary, "worker", "--dsn", dsn, "--executor", kind, "--tasks-dir", tasksDir, "--allowed-task-modules", "bench.",
      "--concurrency", String(concurrency), "--log-level", "warn", "--log-format", "json"], { stdout: "ignore", stderr: "inherit" });
    for (;;) {
      const [row] = await sql<{ done: number; failed: number }[]>`
        select count(*) filter (where status = 'SUCCESSFUL')::int as done, count(*) filter (where status = 'FAILED')::int as failed from task_runs`;
      if ((row?.failed ?? 0) > 0) throw new Error(`${row?.failed} tasks failed`);
      if ((row?.done ?? 0) >= total) break;
      await Bun.sleep(100);
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`${kind}: burn-down of ${total} no-op tasks, concurrency ${concurrency}: ${seconds.toFixed(1)} s, ${Math.round(total / seconds)} tasks/s`);

    const latencies: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      await enqueueNoops(sql, 1, "bench.noop");
      for (;;) {
        const [row] = await sql<{ ms: number | null }[]>`
          select extract(epoch from started_at - enqueued_at) * 1000 as ms from task_runs where result_id = (select max(result_id) from task_runs)`;
        if (row?.ms !== null && row?.ms !== undefined) {
          latencies.push(Number(row.ms));
          break;
        }
        await Bun.sleep(2);
      }
    }
    latencies.sort((a, b) => a - b);
    console.log(`${kind}: enqueue→start (NOTIFY, idle worker, ${LATENCY_SAMPLES} samples): p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms`);
  } finally {
    worker?.kill("SIGTERM");
    await worker?.exited;
    await closeDb(sql);
    await admin`drop database if exists ${admin(name)} with (force)`;
    await closeDb(admin);
  }
}

try {
  for (const kind of kinds) await benchKind(kind);
} finally {
  rmSync(tasksDir, { recursive: true, force: true });
}
