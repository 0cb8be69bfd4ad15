// bun run scripts/bench/claim-backlog.ts — claim throughput against a small and a huge READY
// backlog (SPEC §10: at 1,000,000 READY rows ≥ 0.8 × the rate at 10,000, aging on).
//
// Creates a scratch database on DATABASE_URL (or REPROQ_BENCH_DSN), runs `reproq migrate`, loads
// the backlog with one INSERT … SELECT generate_series (every NOT NULL column filled; enqueued_at
// ascending like a queue filled over an hour; priorities 0–4), then for ~5 s per size loops:
// claim a batch of 32 (aging factor 60) → mark the rows SUCCESSFUL and enqueue 32 new ones, so the
// backlog stays the same size. The rate counts claimed rows per second of time spent inside
// taskClaimBatch (the loop rate, completion and refill included, is printed too). Drops the
// database at the end, also on failure.
//
// Options (env): BENCH_SECONDS (5), BENCH_BATCH (32), BENCH_SIZES ("10000,1000000").

import { closeDb, createDb, type Sql } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";
import { taskClaimBatch } from "../../src/queue/claim.ts";

const dsn = process.env.REPROQ_BENCH_DSN || process.env.DATABASE_URL;
if (!dsn) {
  console.error("set DATABASE_URL (or REPROQ_BENCH_DSN) to a PostgreSQL server the bench may create databases on");
  process.exit(2);
}
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const batch = Number(process.env.BENCH_BATCH ?? 32);
const sizes = (process.env.BENCH_SIZES ?? "10000,1000000").split(",").map(Number);
const params = { workerId: "bench", queues: ["default"], limit: batch, leaseSeconds: 300, priorityAgingFactor: 60 };

/** Appends `count` READY rows to the backlog; the newest is enqueued now, the rest spread back 1 h. */
async function enqueue(sql: Sql, count: number, tag: string): Promise<void> {
  await sql`
    INSERT INTO task_runs (
      backend_alias, queue_name, priority, run_after, spec_json, spec_hash, task_path, status, enqueued_at,
      attempts, max_attempts, timeout_seconds, concurrency_limit, wait_count, worker_ids, errors_json,
      metadata_json, created_at, updated_at, cancel_requested
    )
    SELECT 'default', 'default', ((g::bigint * 7919) % 5)::int, NULL,
           jsonb_build_object('task_path', 'bench.noop', 'args', jsonb_build_array(g), 'kwargs', '{}'::jsonb),
           md5(${tag} || g::text) || md5(g::text || ${tag}), 'bench.noop', 'READY',
           NOW() - make_interval(secs => 3600.0 * (${count} - g) / ${count}),
           0, 3, 900, 0, 0, '[]'::jsonb, '[]'::jsonb, '{}'::jsonb, NOW(), NOW(), false
    FROM generate_series(1, ${count}::int) AS g`;
}

async function measure(sql: Sql, size: number): Promise<{ claimRate: number; loopRate: number; p50: number }> {
  await sql`TRUNCATE task_runs`;
  const loadStart = performance.now();
  await enqueue(sql, size, `load-${size}`);
  await sql`VACUUM ANALYZE task_runs`;
  console.log(`  ${size.toLocaleString("en")} READY rows loaded in ${((performance.now() - loadStart) / 1000).toFixed(1)} s`);

  for (let i = 0; i < 20; i++) await cycle(sql, `warm-${size}-${i}`); // plans cached, pages warm
  let claimed = 0;
  let claimMs = 0;
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; performance.now() - started < seconds * 1000; i++) {
    const { rows, ms } = await cycle(sql, `run-${size}-${i}`);
    claimed += rows;
    claimMs += ms;
    latencies.push(ms);
  }
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const [ready] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM task_runs WHERE status = 'READY'`;
  if (ready!.n !== size) throw new Error(`backlog drifted: ${ready!.n} READY rows, expected ${size}`);
  return { claimRate: claimed / (claimMs / 1000), loopRate: claimed / elapsed, p50: latencies[latencies.length >> 1] ?? NaN };
}

/** One claim of `batch` rows, then complete them and enqueue as many (the backlog stays level). */
async function cycle(sql: Sql, tag: string): Promise<{ rows: number; ms: number }> {
  const t0 = performance.now();
  const tasks = await taskClaimBatch(sql, params);
  const ms = performance.now() - t0;
  if (tasks.length !== batch) throw new Error(`claimed ${tasks.length} rows, expected ${batch}`);
  await sql`
    UPDATE task_runs SET status = 'SUCCESSFUL', finished_at = NOW(), updated_at = NOW()
    WHERE result_id = ANY(${tasks.map((t) => t.resultId)}::bigint[])`;
  await enqueue(sql, batch, tag);
  return { rows: tasks.length, ms };
}

const admin = createDb({ dsn, env: process.env, poolSize: 1, connectTimeoutMs: 10_000, prepare: false });
const name = `reproq_bench_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
await admin`CREATE DATABASE ${admin(name)}`;
const url = new URL(dsn);
url.pathname = `/${name}`;
const sql = createDb({ dsn: url.toString(), env: process.env, poolSize: 2, connectTimeoutMs: 10_000, prepare: true });
try {
  await migrate(sql);
  console.log(`claim backlog benchmark: batch ${batch}, aging factor 60, ~${seconds} s per size (database ${name})`);
  const results: { size: number; claimRate: number; loopRate: number; p50: number }[] = [];
  for (const size of sizes) {
    const r = await measure(sql, size);
    results.push({ size, ...r });
    console.log(`  ${size.toLocaleString("en").padStart(9)} READY: ${r.claimRate.toFixed(0).padStart(6)} claimed rows/s ` +
      `(claim p50 ${r.p50.toFixed(2)} ms/batch; with completion + refill ${r.loopRate.toFixed(0)} rows/s)`);
  }
  if (results.length >= 2) {
    const ratio = results[results.length - 1]!.claimRate / results[0]!.claimRate;
    console.log(`  ratio ${results[results.length - 1]!.size.toLocaleString("en")} / ${results[0]!.size.toLocaleString("en")}: ` +
      `${ratio.toFixed(2)} (SPEC target ≥ 0.80) ${ratio >= 0.8 ? "PASS" : "FAIL"}`);
  }
} finally {
  await closeDb(sql, 1);
  await admin`DROP DATABASE IF EXISTS ${admin(name)} WITH (FORCE)`;
  await closeDb(admin, 1);
}
