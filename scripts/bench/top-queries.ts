// bun run scripts/bench/top-queries.ts [--dsn DSN] [--generate N] [--runs N] [--keep]
// Times the `reproq top` data layer: one overview refresh (wall time of its parallel reads, and
// each read alone), the task list's first page for a queue + status, failure groups, workers,
// periodic and rate limits. Read-only on the given database (DSN, else DATABASE_URL); with
// --generate N it instead creates a scratch database on that server, fills task_runs with N rows
// (tests/helpers/dashboard-seed.ts generateDashboardRows), measures, and drops it (--keep keeps it).
import { parseArgs } from "node:util";
import { TOP_SESSION_SETTINGS } from "../../src/cli/top.ts";
import { closeDb, createDb } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";
import { createDashboardSource } from "../../src/tui/data.ts";
import { generateDashboardRows } from "../../tests/helpers/dashboard-seed.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { dsn: { type: "string" }, generate: { type: "string" }, runs: { type: "string" }, keep: { type: "boolean" } },
});
const baseDsn = values.dsn ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const runs = Number(values.runs ?? 5);
const generate = values.generate === undefined ? 0 : Number(values.generate);

let dsn = baseDsn;
let scratch: string | null = null;
const admin = generate > 0 ? createDb({ dsn: baseDsn, env: process.env, poolSize: 1, connectTimeoutMs: 10_000, prepare: true }) : null;
if (admin) {
  scratch = `reproq_top_bench_${process.pid}`;
  await admin`create database ${admin(scratch)}`;
  const url = new URL(baseDsn);
  url.pathname = `/${scratch}`;
  dsn = url.toString();
}
// The session settings `reproq top` connects with (statement_timeout, jit off).
const sql = createDb({ dsn, env: process.env, poolSize: 5, connectTimeoutMs: 10_000, prepare: true, sessionSettings: TOP_SESSION_SETTINGS });
try {
  if (generate > 0) {
    await migrate(sql);
    const started = performance.now();
    await generateDashboardRows(sql, generate);
    console.log(`generated ${generate.toLocaleString("en-US")} rows + VACUUM ANALYZE in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  const source = createDashboardSource(sql, { readOnly: true, ownsPool: false });

  async function measure(label: string, key: string, call: () => Promise<unknown>): Promise<void> {
    await call(); // warm-up: connections, prepared statements
    const samples: Record<string, number[]> = {};
    for (let i = 0; i < runs; i++) {
      await call();
      for (const [k, v] of Object.entries(source.lastQueryMs)) if (k === key || k.startsWith(`${key}.`)) (samples[k] ??= []).push(v);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(`${label.padEnd(40)} median ${median(samples[key]!).toFixed(1).padStart(7)} ms  best ${Math.min(...samples[key]!).toFixed(1).padStart(7)} ms`);
    for (const [k, xs] of Object.entries(samples)) if (k !== key) console.log(`  ${k.padEnd(38)} median ${median(xs).toFixed(1).padStart(7)} ms`);
  }

  console.log(`runs per method: ${runs} (after one warm-up); times are wall clock of the database calls`);
  await measure("overview (parallel reads)", "overview", () => source.overview());
  await measure("tasks(first queue, FAILED, 50)", "tasks", async () => {
    const o = await source.overview();
    return source.tasks({ queue: o.queues[0]?.queue, status: "FAILED" }, { offset: 0, limit: 50 });
  });
  await measure("tasks(first queue, SUCCESSFUL, 50)", "tasks", async () => {
    const o = await source.overview();
    return source.tasks({ queue: o.queues[0]?.queue, status: "SUCCESSFUL" }, { offset: 0, limit: 50 });
  });
  await measure("tasks(first queue, READY in claim order, 50)", "tasks", async () => {
    const o = await source.overview();
    return source.tasks({ queue: o.queues[0]?.queue, status: "READY" }, { offset: 0, limit: 50 });
  });
  await measure("tasks(all queues, SCHEDULED, 50)", "tasks", () => source.tasks({ status: "SCHEDULED" }, { offset: 0, limit: 50 }));
  await measure("failureGroups", "failureGroups", () => source.failureGroups());
  await measure("workers", "workers", () => source.workers());
  await measure("periodic", "periodic", () => source.periodic());
  await measure("rateLimits", "rateLimits", () => source.rateLimits());
} finally {
  await closeDb(sql, 1);
  if (admin && scratch) {
    if (values.keep) console.log(`kept database ${scratch}`);
    else await admin`drop database if exists ${admin(scratch)} with (force)`;
    await closeDb(admin, 1);
  }
}
