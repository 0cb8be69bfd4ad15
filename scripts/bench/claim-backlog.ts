// bun run scripts/bench/claim-backlog.ts — claim throughput against a small and a huge READY
// backlog (issue 17: at 1,000,000 READY rows ≥ 0.9 × the rate at 10,000, aging on; SPEC §10 0.8),
// then the same with analytics readers (REPEATABLE READ count(*) of task_runs every 100 ms).
//
// Creates scratch databases on DATABASE_URL (or REPROQ_BENCH_DSN), runs `reproq migrate`, loads
// the backlog with one INSERT … SELECT generate_series (every NOT NULL column filled; enqueued_at
// ascending like a queue filled over an hour; priorities 0–4), then for ~5 s per size loops:
// claim a batch of 32 (aging factor 60) → mark the rows SUCCESSFUL and enqueue 32 new ones, so the
// backlog stays the same size. The rate counts claimed rows per second of time spent inside
// taskClaimBatch (the loop rate, completion and refill included, is printed too). Each size has
// its own database, loaded once; BENCH_ROUNDS (3) rounds alternate the sizes and the medians are
// compared. Drops the databases at the end, also on failure.
//
// Each size is measured three times: alone; with BENCH_READERS (4) readers that each run
// count(*) in its own REPEATABLE READ transaction every 100 ms ("short"); and with readers that
// each keep ONE REPEATABLE READ transaction open for the whole measurement and count every 100 ms
// in it ("held": the snapshot pins the xmin horizon, so no row version claimed meanwhile can be
// pruned). Ratios are against the same size alone, and 1,000,000 alone against 10,000 alone.
//
// Options (env): BENCH_SECONDS (5), BENCH_BATCH (32), BENCH_SIZES ("10000,1000000"),
// BENCH_READERS (4; 0 skips the reader runs).

import postgres from "postgres";
import { closeDb, createDb, type Sql } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";
import { claimSettingsApply, taskClaimBatch } from "../../src/queue/claim.ts";
import { taskClaimPick } from "../../src/queue/claim-pick.ts";

const dsn = process.env.REPROQ_BENCH_DSN || process.env.DATABASE_URL;
if (!dsn) {
  console.error("set DATABASE_URL (or REPROQ_BENCH_DSN) to a PostgreSQL server the bench may create databases on");
  process.exit(2);
}
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const batch = Number(process.env.BENCH_BATCH ?? 32);
const sizes = (process.env.BENCH_SIZES ?? "10000,1000000").split(",").map(Number);
const readers = Number(process.env.BENCH_READERS ?? 4);
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

async function load(sql: Sql, size: number): Promise<void> {
  await sql`TRUNCATE task_runs`;
  const loadStart = performance.now();
  await enqueue(sql, size, `load-${size}`);
  await sql`VACUUM ANALYZE task_runs`;
  console.log(`  ${size.toLocaleString("en")} READY rows loaded in ${((performance.now() - loadStart) / 1000).toFixed(1)} s`);
}

type ReaderMode = "none" | "short" | "held";

/** `count` readers counting task_runs every 100 ms until stop() (see the top of the file). */
function startReaders(sql: Sql, count: number, mode: ReaderMode): { stop: () => Promise<number> } {
  let running = mode !== "none";
  let counts = 0;
  const loops = Array.from({ length: mode === "none" ? 0 : count }, async () => {
    const conn = await sql.reserve();
    try {
      while (running) {
        if (mode === "held") await conn`BEGIN ISOLATION LEVEL REPEATABLE READ`;
        do {
          if (mode === "short") await conn`BEGIN ISOLATION LEVEL REPEATABLE READ`;
          await conn`SELECT count(*) FROM task_runs`;
          if (mode === "short") await conn`COMMIT`;
          counts++;
          await Bun.sleep(100);
        } while (running && mode === "held");
        if (mode === "held") await conn`COMMIT`;
      }
    } finally {
      conn.release();
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return counts;
    },
  };
}

async function measure(sql: Sql, size: number, mode: ReaderMode): Promise<{ claimRate: number; loopRate: number; p50: number; counts: number; pages: number }> {
  // Dead row versions of the previous run go first, so each run starts from the same table.
  await sql`VACUUM task_runs`;
  for (let i = 0; i < 20; i++) await cycle(sql, `warm-${size}-${mode}-${i}`); // plans cached, pages warm
  const reading = startReaders(sql, readers, mode);
  let claimed = 0;
  let claimMs = 0;
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; performance.now() - started < seconds * 1000; i++) {
    const { rows, ms } = await cycle(sql, `run-${size}-${mode}-${i}`);
    claimed += rows;
    claimMs += ms;
    latencies.push(ms);
  }
  const elapsed = (performance.now() - started) / 1000;
  const pages = await pickPages(size); // while the readers still read
  const counts = await reading.stop();
  latencies.sort((a, b) => a - b);
  const [ready] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM task_runs WHERE status = 'READY'`;
  if (ready!.n !== size) throw new Error(`backlog drifted: ${ready!.n} READY rows, expected ${size}`);
  return { claimRate: claimed / (claimMs / 1000), loopRate: claimed / elapsed, p50: latencies[latencies.length >> 1] ?? NaN, counts, pages };
}

/**
 * Shared buffers one pick statement touches right now (EXPLAIN (ANALYZE, BUFFERS) of a real
 * claim's pick, in a transaction rolled back): the server-side work of a claim, which CPU
 * contention from the readers does not change but dead row versions at the head of the READY
 * index do.
 */
async function pickPages(size: number): Promise<number> {
  const url = dbs.find((d) => d.size === size)!.url;
  let captured: { query: string; parameters: unknown[] } | undefined;
  const probe = postgres(url, {
    max: 1, onnotice: () => {},
    debug: (_conn, query, parameters) => {
      if (query.includes("WITH RECURSIVE")) captured = { query, parameters: [...parameters] };
    },
  });
  let pages = NaN;
  try {
    await probe.begin(async (tx) => {
      await claimSettingsApply(tx);
      await taskClaimPick(tx, params);
      const [row] = await tx.unsafe(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${captured!.query}`, captured!.parameters as never[]);
      const plan = (row!["QUERY PLAN"] as { Plan: { "Shared Hit Blocks": number; "Shared Read Blocks": number } }[])[0]!.Plan;
      pages = plan["Shared Hit Blocks"] + plan["Shared Read Blocks"];
      throw new Error("rollback");
    });
  } catch (err) {
    if (!String(err).includes("rollback")) throw err;
  } finally {
    await probe.end({ timeout: 1 });
  }
  return pages;
}

let cycles = 0;

/** One claim of `batch` rows, then complete them and enqueue as many (the backlog stays level). */
async function cycle(sql: Sql, tag: string): Promise<{ rows: number; ms: number }> {
  tag = `${tag}-${cycles++}`; // unique across rounds: the new rows' spec_hash must not repeat
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

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const admin = createDb({ dsn, env: process.env, poolSize: 1, connectTimeoutMs: 10_000, prepare: false });
const prefix = `reproq_bench_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
// One database per size, loaded once, so the rounds can alternate sizes: on a busy machine both
// sizes then see the same load, and the ratio (from medians) is fairer than two back-to-back runs.
const dbs: { size: number; name: string; url: string; sql: Sql }[] = [];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN;
try {
  for (const size of sizes) {
    const name = `${prefix}_${size}`;
    await admin`CREATE DATABASE ${admin(name)}`;
    const url = new URL(dsn);
    url.pathname = `/${name}`;
    const sql = createDb({ dsn: url.toString(), env: process.env, poolSize: 2 + readers, connectTimeoutMs: 10_000, prepare: true });
    dbs.push({ size, name, url: url.toString(), sql });
    await migrate(sql);
    await load(sql, size);
  }
  console.log(`claim backlog benchmark: batch ${batch}, aging factor 60, ~${seconds} s per run, ${rounds} rounds alternating sizes (medians)`);
  const modes: ReaderMode[] = readers > 0 ? ["none", "short", "held"] : ["none"];
  const rates = new Map<string, number[]>();
  const pagesByKey = new Map<string, number[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const { size, sql } of dbs) {
      for (const mode of modes) {
        const r = await measure(sql, size, mode);
        const key = `${size}/${mode}`;
        rates.set(key, [...(rates.get(key) ?? []), r.claimRate]);
        const label = mode === "none" ? "alone" : `${readers} readers, ${mode}`;
        pagesByKey.set(key, [...(pagesByKey.get(key) ?? []), r.pages]);
        console.log(`  round ${round}: ${size.toLocaleString("en").padStart(9)} READY, ${label.padEnd(16)}: ${r.claimRate.toFixed(0).padStart(6)} claimed rows/s ` +
          `(claim p50 ${r.p50.toFixed(2)} ms/batch; pick ${r.pages} pages; with completion + refill ${r.loopRate.toFixed(0)} rows/s${mode === "none" ? "" : `; ${r.counts} counts`})`);
      }
    }
  }
  console.log("medians:");
  for (const { size } of dbs) {
    const alone = median(rates.get(`${size}/none`)!);
    const pagesOf = (mode: ReaderMode) => median(pagesByKey.get(`${size}/${mode}`)!).toFixed(0);
    const withReaders = modes.slice(1).map((mode) => `${mode} readers ${median(rates.get(`${size}/${mode}`)!).toFixed(0)} (${(median(rates.get(`${size}/${mode}`)!) / alone).toFixed(2)} × alone, pick ${pagesOf(mode)} pages)`);
    console.log(`  ${size.toLocaleString("en").padStart(9)} READY: alone ${alone.toFixed(0)} claimed rows/s (pick ${pagesOf("none")} pages)${withReaders.length ? `; ${withReaders.join("; ")}` : ""}`);
  }
  if (dbs.length >= 2) {
    const first = dbs[0]!.size;
    const last = dbs[dbs.length - 1]!.size;
    const ratio = median(rates.get(`${last}/none`)!) / median(rates.get(`${first}/none`)!);
    console.log(`  ratio ${last.toLocaleString("en")} / ${first.toLocaleString("en")} READY (alone): ${ratio.toFixed(2)} (target ≥ 0.90) ${ratio >= 0.9 ? "PASS" : "FAIL"}`);
  }
} finally {
  for (const { name, sql } of dbs) {
    await closeDb(sql, 1);
    await admin`DROP DATABASE IF EXISTS ${admin(name)} WITH (FORCE)`;
  }
  await closeDb(admin, 1);
}
