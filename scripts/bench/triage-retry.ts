// bun run scripts/bench/triage-retry.ts [--dsn DSN] [--rows 50000] [--other 0] [--runs 3] [--tty] [--keep] [--binary PATH]
// Times `dist/reproq triage retry --all` over N FAILED rows (default 50,000), the way an operator
// runs it: a scratch database on the server (DSN, else DATABASE_URL) is created and migrated, the
// rows are seeded (tests/helpers/failed-seed.ts), the compiled binary retries them, and the wall
// time of the command is printed; repeated --runs times (rows reset to FAILED in between). With
// --tty the binary runs under script(1) so its progress bar is drawn on a real pseudo-terminal.
// For scale, the same rows are then reset to READY by one bare UPDATE (rolled back): the cost of
// writing the rows and their index entries that any retry pays, whatever the machine's load.
// --other N first fills the table with N SUCCESSFUL rows (a batch must not cost more on a
// bigger table). The scratch database is dropped at the end (--keep keeps it). --binary times another build
// (an older reproq, to compare).
import { parseArgs } from "node:util";
import { closeDb, createDb } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";
import { ensureBinary } from "../../tests/helpers/binary.ts";
import { seedFailedRows } from "../../tests/helpers/failed-seed.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    dsn: { type: "string" },
    rows: { type: "string" },
    other: { type: "string" },
    runs: { type: "string" },
    tty: { type: "boolean" },
    keep: { type: "boolean" },
    binary: { type: "string" },
  },
});
const baseDsn = values.dsn ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const rows = Number(values.rows ?? 50_000);
const runs = Number(values.runs ?? 3);
const binary = values.binary ?? ensureBinary();

const admin = createDb({ dsn: baseDsn, env: process.env, poolSize: 1, connectTimeoutMs: 10_000, prepare: true });
const scratch = `reproq_triage_bench_${process.pid}`;
await admin`create database ${admin(scratch)}`;
const url = new URL(baseDsn);
url.pathname = `/${scratch}`;
const dsn = url.toString();
const sql = createDb({ dsn, env: process.env, poolSize: 2, connectTimeoutMs: 10_000, prepare: true });

/** Runs the binary; returns its wall time in seconds and everything it printed. */
async function retryAll(): Promise<{ seconds: number; output: string; exitCode: number }> {
  const args = [binary, "triage", "retry", "--all", "--dsn", dsn];
  const argv = values.tty ? ["script", "-qec", args.map((a) => `'${a}'`).join(" "), "/dev/null"] : args;
  const started = performance.now();
  const child = Bun.spawn(argv, { env: { ...process.env, TERM: process.env.TERM ?? "xterm" }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { seconds: (performance.now() - started) / 1000, output: stdout + stderr, exitCode };
}

try {
  await migrate(sql);
  const seeded = performance.now();
  const other = Number(values.other ?? 0);
  if (other > 0) await seedFailedRows(sql, { count: other, status: "SUCCESSFUL" });
  const ids = await seedFailedRows(sql, { count: rows });
  await sql`vacuum analyze task_runs`;
  console.log(`seeded ${rows.toLocaleString("en-US")} FAILED rows${other > 0 ? ` (after ${other.toLocaleString("en-US")} SUCCESSFUL ones)` : ""} in ${((performance.now() - seeded) / 1000).toFixed(1)} s; binary ${binary}${values.tty ? " (under script: a terminal)" : ""}`);
  const times: number[] = [];
  for (let run = 1; run <= runs; run++) {
    const result = await retryAll();
    const [counted] = await sql<{ ready: number }[]>`select count(*)::int as ready from task_runs where status = 'READY'`;
    const ready = counted?.ready ?? 0;
    const lines = result.output.split(/\r?\n|\r/).map((l) => l.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "").trim()).filter((l) => l !== "");
    const progress = lines.filter((l) => l.startsWith("retrying")).length;
    console.log(`run ${run}: ${result.seconds.toFixed(2)} s  exit ${result.exitCode}  READY ${ready.toLocaleString("en-US")}  progress redraws ${progress}  last lines: ${lines.slice(-2).join(" | ")}`);
    times.push(result.seconds);
    // The next run starts from the same FAILED rows again.
    await sql`update task_runs set status = 'FAILED', failed_at = now(), finished_at = now() where result_id = any(${ids}::bigint[])`;
    await sql`vacuum analyze task_runs`;
  }
  times.sort((a, b) => a - b);
  console.log(`triage retry --all of ${rows.toLocaleString("en-US")} rows: best ${times[0]!.toFixed(2)} s, median ${times[Math.floor(times.length / 2)]!.toFixed(2)} s`);
  const floorStarted = performance.now();
  const rolledBack = new Error("rolled back on purpose");
  await sql
    .begin(async (tx) => {
      await tx`update task_runs set status = 'READY', run_after = now(), attempts = 0, failed_at = null, finished_at = null, updated_at = now() where status = 'FAILED'`;
      throw rolledBack; // the rows stay FAILED (--keep)
    })
    .catch((error: unknown) => {
      if (error !== rolledBack) throw error;
    });
  const load = (await Bun.file("/proc/loadavg").text().catch(() => "?")).split(" ").slice(0, 3).join(" ");
  console.log(`for scale: one bare UPDATE of the same rows took ${((performance.now() - floorStarted) / 1000).toFixed(2)} s; load average ${load}`);
} finally {
  await closeDb(sql, 1);
  if (!values.keep) await admin`drop database ${admin(scratch)}`;
  else console.log(`kept database ${scratch}`);
  await closeDb(admin, 1);
}
