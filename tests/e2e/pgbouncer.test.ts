// The compiled worker and doctor behind a real PgBouncer. In transaction pooling mode prepared
// statements and LISTEN cross from one client to another: with default settings the worker must
// notice the pooler at start-up and switch both off (one warning), run every task exactly once,
// and stop promptly; an explicit `--prepare` is refused with the flags to use. Session pooling and
// direct connections are not flagged. Each task appends to a ledger (fake executor "ledger" mode).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBinary } from "../helpers/binary.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { PGBOUNCER, startPgBouncer, type PgBouncer } from "../helpers/pgbouncer.ts";
import { describeWithTools } from "../helpers/tools.ts";
import { baseWorkerArgs, enqueue, startWorker, statusCounts, stopWorker, waitFor, type WorkerProcess } from "../helpers/worker.ts";

setDefaultTimeout(90_000);

const TASKS = 300;
const scratch = mkdtempSync(join(tmpdir(), "reproq-pgbouncer-"));
const databases: TestDatabase[] = [];
const workers: WorkerProcess[] = [];
let transaction: PgBouncer | undefined;
let session: PgBouncer | undefined;

beforeAll(async () => {
  if (!PGBOUNCER) return;
  [transaction, session] = await Promise.all([startPgBouncer("transaction"), startPgBouncer("session")]);
});

afterAll(async () => {
  for (const worker of workers) if (worker.proc.exitCode === null) worker.proc.kill("SIGKILL");
  await Promise.all(databases.map((db) => db.drop()));
  await Promise.all([transaction?.stop(), session?.stop()]);
  rmSync(scratch, { recursive: true, force: true });
});

async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase({ flavour: "reproq" });
  databases.push(db);
  return db;
}

function warningsAbout(worker: WorkerProcess, word: string): Record<string, unknown>[] {
  return worker.logs.filter((line) => String(line.level).toLowerCase() === "warn" && String(line.msg ?? "").includes(word));
}

interface DoctorJson {
  ok: boolean;
  checks: { name: string; status: string; detail: string }[];
}

async function doctorPooler(dsn: string, extra: string[] = [], env: Record<string, string> = {}): Promise<{ exitCode: number; check: DoctorJson["checks"][number] | undefined }> {
  const result = await runBinary(["doctor", "--dsn", dsn, "--json", ...extra], { env });
  const report = JSON.parse(result.stdout) as DoctorJson;
  return { exitCode: result.exitCode, check: report.checks.find((check) => check.name === "connection pooler") };
}

describeWithTools(["pgbouncer"], "PgBouncer in transaction pooling mode", () => {
  test(`default settings: the pooler is detected, ${TASKS} tasks succeed exactly once, SIGTERM with tasks running stops promptly`, async () => {
    const db = await database();
    const ledger = join(scratch, "ledger.txt");
    const ids = await enqueue(db.sql, Array.from({ length: TASKS }, () => ({ kwargs: { mode: "ledger", first_seconds: 0, later_seconds: 0 } })));
    const worker = startWorker([...baseWorkerArgs(transaction!.dsnFor(db.name)), "--concurrency", "8", "--claim-batch-size", "8"], { LEDGER_FILE: ledger });
    workers.push(worker);
    await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === TASKS || worker.proc.exitCode !== null, { timeoutMs: 75_000, intervalMs: 250, what: `${TASKS} SUCCESSFUL rows` });
    expect(worker.proc.exitCode, `${worker.stderr()}\n${JSON.stringify(worker.logs.slice(-5))}`).toBeNull();
    // SIGTERM while tasks run: they finish, the worker exits promptly, nothing stays RUNNING.
    const busy = await enqueue(db.sql, Array.from({ length: 8 }, () => ({ kwargs: { mode: "ledger", first_seconds: 1, later_seconds: 0 } })));
    ids.push(...busy);
    await waitFor(async () => ((await statusCounts(db.sql)).RUNNING ?? 0) >= 4, { timeoutMs: 20_000, what: "busy tasks RUNNING" });
    const started = performance.now();
    const code = await stopWorker(worker, 20_000);
    const stopMs = performance.now() - started;
    console.log(`stop after SIGTERM: ${Math.round(stopMs)} ms`);
    expect(code).toBe(0);
    expect(stopMs).toBeLessThan(10_000);

    expect(await statusCounts(db.sql)).toEqual({ SUCCESSFUL: TASKS + busy.length });
    const ends = readFileSync(ledger, "utf8").trim().split("\n").filter((line) => line.startsWith("end "));
    const perTask = new Map<string, number>();
    for (const line of ends) {
      const id = line.split(" ")[1]!;
      perTask.set(id, (perTask.get(id) ?? 0) + 1);
    }
    expect([...perTask.keys()].sort()).toEqual([...ids].sort());
    expect([...perTask.values()].filter((count) => count !== 1)).toEqual([]);
    const attempts = await db.sql<{ attempts: number }[]>`select attempts from task_runs where attempts <> 1`;
    expect([...attempts]).toEqual([]);

    const warnings = warningsAbout(worker, "transaction pooler");
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]!.msg)).toContain("--no-prepare --no-listen");
    expect(worker.logs.some((line) => line.msg === "Starting reproq worker" && line.listen === false)).toBe(true);
    // Session parameters do not stay with a transaction pooler's connections: claims are transactions.
    expect(worker.logs.some((line) => line.msg === "Starting reproq worker" && line.claim_mode === "transaction")).toBe(true);
  });

  test("an explicit --prepare is refused (exit 2) naming the flags to use; nothing is claimed", async () => {
    const db = await database();
    await enqueue(db.sql, [{ kwargs: { mode: "success" } }]);
    const result = await runBinary([...baseWorkerArgs(transaction!.dsnFor(db.name)), "--prepare"], { timeoutMs: 30_000 });
    expect(result.exitCode).toBe(2);
    expect(result.stdout + result.stderr).toContain("--no-prepare --no-listen");
    expect(await statusCounts(db.sql)).toEqual({ READY: 1 });
  });

  test("an explicit REPROQ_LISTEN=true is refused too", async () => {
    const db = await database();
    const result = await runBinary(baseWorkerArgs(transaction!.dsnFor(db.name)), { env: { REPROQ_LISTEN: "true" }, timeoutMs: 30_000 });
    expect(result.exitCode).toBe(2);
    expect(result.stdout + result.stderr).toContain("REPROQ_LISTEN");
  });

  test("migrate refuses to run through it (exit 2): its session-level lock would stay behind on a pooled connection", async () => {
    const db = await createTestDatabase();
    databases.push(db);
    const result = await runBinary(["migrate", "--dsn", transaction!.dsnFor(db.name)], { timeoutMs: 30_000 });
    expect(result.exitCode).toBe(2);
    expect(result.stdout + result.stderr).toContain("reproq migrate holds a session-level lock");
    const tables = await db.sql`select 1 from pg_tables where tablename = 'task_runs'`;
    expect(tables.length).toBe(0);
    const dryRun = await runBinary(["migrate", "--dry-run", "--dsn", transaction!.dsnFor(db.name)], { timeoutMs: 30_000 });
    expect(dryRun.exitCode).toBe(0);
  });

  test("doctor reports the transaction pooler: warn with defaults (switched off), fail with explicit --prepare", async () => {
    const db = await database();
    const defaults = await doctorPooler(transaction!.dsnFor(db.name));
    expect(defaults.check?.status).toBe("warn");
    expect(defaults.check?.detail).toContain("transaction pooler");
    expect(defaults.check?.detail).toContain("--no-prepare --no-listen");
    const explicit = await doctorPooler(transaction!.dsnFor(db.name), ["--prepare"]);
    expect(explicit.check?.status).toBe("fail");
    expect(explicit.exitCode).toBe(1);
    const safe = await doctorPooler(transaction!.dsnFor(db.name), ["--no-prepare"], { REPROQ_LISTEN: "false" });
    expect(safe.check?.status).toBe("ok");
    expect(safe.check?.detail).toContain("transaction pooler");
  });
});

describeWithTools(["pgbouncer"], "not flagged", () => {
  for (const via of ["session-mode PgBouncer", "a direct connection"] as const) {
    test(`${via}: no pooler warning, LISTEN stays on, doctor says no transaction pooler`, async () => {
      const db = await database();
      const dsn = via === "a direct connection" ? db.dsn : session!.dsnFor(db.name);
      await enqueue(db.sql, Array.from({ length: 5 }, () => ({ kwargs: { mode: "success" } })));
      const worker = startWorker(baseWorkerArgs(dsn));
      workers.push(worker);
      await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === 5, { timeoutMs: 30_000, what: "5 SUCCESSFUL rows" });
      expect(await stopWorker(worker, 20_000)).toBe(0);
      expect(warningsAbout(worker, "pooler")).toEqual([]);
      // PgBouncer refuses statement_timeout as a startup parameter: said once, bound kept client-side.
      expect(warningsAbout(worker, "statement_timeout")).toHaveLength(via === "session-mode PgBouncer" ? 1 : 0);
      expect(worker.logs.some((line) => line.msg === "Starting reproq worker" && line.listen === true)).toBe(true);
      // PgBouncer refuses the claim session's startup parameters too: claims run as transactions, said once.
      const viaPooler = via === "session-mode PgBouncer";
      expect(worker.logs.some((line) => line.msg === "Starting reproq worker" && line.claim_mode === (viaPooler ? "transaction" : "single-statement"))).toBe(true);
      expect(worker.logs.filter((line) => String(line.msg).startsWith("Claims run as transactions")).map((line) => line.level)).toEqual(viaPooler ? ["INFO"] : []);
      const { check } = await doctorPooler(dsn);
      expect(check?.status).toBe("ok");
      expect(check?.detail).toContain("no transaction pooler");
    });
  }
});

describeWithTools(["pgbouncer"], "reproq beat through PgBouncer in transaction pooling mode", () => {
  async function addPeriodic(db: TestDatabase, name: string): Promise<void> {
    await db.sql`
      insert into periodic_tasks (name, cron_expr, task_path, payload_json, queue_name, priority, max_attempts,
        concurrency_key, concurrency_limit, last_run_at, next_run_at, enabled, created_at, updated_at)
      values (${name}, '* * * * *', 'myapp.tasks.tick', '{"args":[],"kwargs":{}}'::jsonb, 'default', 0, 3, null, 0, null,
        date_trunc('second', now()) - interval '30 minutes', true, now(), now())`;
  }

  test("default settings: prepared statements switched off with a warning; due rows enqueued once", async () => {
    const db = await database();
    for (const name of ["a", "b", "c"]) await addPeriodic(db, name);
    const run = await runBinary(["beat", "--once", "--dsn", transaction!.dsnFor(db.name), "--log-format", "json"], { timeoutMs: 30_000 });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    const warnings = run.stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => String(line.level).toLowerCase() === "warn" && String(line.msg).includes("prepared statements switched off"));
    expect(warnings).toHaveLength(1);
    const rows = await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs where task_path = 'myapp.tasks.tick'`;
    expect(rows[0]?.n).toBe(3);
  });

  test("an explicit --prepare is refused (exit 2) naming the flag to use; nothing is enqueued", async () => {
    const db = await database();
    await addPeriodic(db, "a");
    const run = await runBinary(["beat", "--once", "--prepare", "--dsn", transaction!.dsnFor(db.name)], { timeoutMs: 30_000 });
    expect(run.exitCode).toBe(2);
    expect(run.stdout + run.stderr).toContain("--no-prepare");
    const rows = await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs`;
    expect(rows[0]?.n).toBe(0);
  });
});
