// `reproq worker` as a user runs it: the compiled binary, a real Postgres, real executor processes.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrate } from "../../src/db/migrate.ts";
import { createTestDatabase, type Flavour, type TestDatabase } from "../helpers/db.ts";
import { baseWorkerArgs, enqueue, startWorker, statusCounts, stopWorker, waitFor } from "../helpers/worker.ts";
import { expectQuick } from "../helpers/timing.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const databases: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

async function database(flavour: Flavour = "reproq"): Promise<TestDatabase> {
  const db = await createTestDatabase({ flavour, label: `worker_${flavour}` });
  if (flavour === "django") await migrate(db.sql);
  databases.push(db);
  return db;
}

interface Row {
  result_id: string;
  status: string;
  attempts: number;
  return_text: string | null;
  last_error: string | null;
  kinds: string[];
  leased_by: string | null;
  logs_uri: string | null;
}

async function rows(db: TestDatabase): Promise<Map<string, Row>> {
  const found = await db.sql<Row[]>`
    select result_id, status, attempts, return_json::text as return_text, last_error, leased_by, logs_uri,
           coalesce((select array_agg(e->>'kind') from jsonb_array_elements(errors_json) e), '{}') as kinds
    from task_runs order by result_id`;
  return new Map(found.map((row) => [row.result_id, row]));
}

const idle = (db: TestDatabase) => async () => {
  const counts = await statusCounts(db.sql);
  return !counts.READY && !counts.RUNNING;
};

describe.each(["reproq", "django"] as const)("worker on the %s schema", (flavour) => {
  test("runs each kind of task and records the outcome the spec's table gives", async () => {
    const db = await database(flavour);
    const ids = await enqueue(db.sql, [
      { kwargs: { mode: "success" } },
      { kwargs: { mode: "raise", message: "boom" }, maxAttempts: 1 },
      { kwargs: { mode: "noise" } },
      { kwargs: { mode: "nan" } },
      { kwargs: { mode: "garbage" }, maxAttempts: 1 },
      { kwargs: { mode: "exit", code: 3 }, maxAttempts: 1 },
      { kwargs: { mode: "sleep", seconds: 30 }, timeoutSeconds: 1, maxAttempts: 1 },
      { taskPath: "evil.tasks.run" },
      { kwargs: { mode: "raise", message: "again" }, maxAttempts: 2 },
    ]);
    const logsDir = mkdtempSync(join(tmpdir(), "reproq-task-logs-"));
    const worker = startWorker([...baseWorkerArgs(db.dsn), "--concurrency", "4", "--retry-base-seconds", "0.2", "--retry-jitter", "0", "--logs-dir", logsDir]);
    await waitFor(idle(db), { timeoutMs: 40_000, what: "all tasks to finish" });
    expect(await stopWorker(worker)).toBe(0);

    const byId = await rows(db);
    const get = (index: number) => byId.get(ids[index] as string) as Row;
    expect(get(0)).toMatchObject({ status: "SUCCESSFUL", attempts: 1, leased_by: null });
    expect(JSON.parse(get(0).return_text ?? "null")).toMatchObject({ task_path: "tasks.fake", attempt: 1, payload_flag: "--payload-stdin", result_id: ids[0] });
    expect(get(1)).toMatchObject({ status: "FAILED", attempts: 1, kinds: ["app_error"] });
    expect(get(1).last_error).toContain("boom");
    expect(get(2)).toMatchObject({ status: "SUCCESSFUL" });
    expect(get(3)).toMatchObject({ status: "SUCCESSFUL" });
    expect(get(4)).toMatchObject({ status: "FAILED", kinds: ["app_error"] });
    expect(get(4).last_error).toContain("stdout");
    expect(get(5)).toMatchObject({ status: "FAILED", kinds: ["app_error"] });
    expect(get(5).last_error).toContain("exit code 3");
    expect(get(6)).toMatchObject({ status: "FAILED", kinds: ["timeout"] });
    expect(get(7)).toMatchObject({ status: "FAILED", attempts: 1, kinds: ["security_violation"] });
    // The Go worker's wording first, then what the list holds and the setting that changes it.
    expect(get(7).last_error).toBe(
      "security violation: unauthorized task module path: evil.tasks.run (allowed_task_modules is tasks.; " +
        "to run it, add its module to worker.allowed_task_modules (--allowed-task-modules, ALLOWED_TASK_MODULES))",
    );
    expect(get(8)).toMatchObject({ status: "FAILED", attempts: 2, kinds: ["app_error", "app_error"] });
    // logs_dir: one private file per attempt, its path in logs_uri; none for rejected rows.
    expect(get(2).logs_uri).toBe(join(logsDir, `task-${ids[2]}-attempt-1.log`));
    expect(statSync(get(2).logs_uri as string).mode & 0o777).toBe(0o600);
    expect(readFileSync(get(2).logs_uri as string, "utf8")).toStartWith("STDOUT:\nINFO starting task");
    expect(get(7).logs_uri).toBeNull();

    const [registry] = await db.sql<{ n: number }[]>`select count(*)::int as n from reproq_workers`;
    expect(registry?.n).toBe(0); // deregistered on a clean exit
    expect(worker.logs.some((line) => line.msg === "Starting reproq worker")).toBe(true);
  });
});

describe("wake-up, cancellation and shutdown", () => {
  test("NOTIFY starts an enqueued task at once and a delayed task close to its run_after", async () => {
    const db = await database();
    // Polling alone would take up to 60 s: the worker must be woken by NOTIFY.
    const worker = startWorker([...baseWorkerArgs(db.dsn), "--poll-min-backoff", "60s", "--poll-max-backoff", "60s"]);
    await waitFor(async () => worker.logs.some((line) => line.msg === "Starting reproq worker"), { what: "worker start" });
    await Bun.sleep(300);
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const [id] = await enqueue(db.sql, [{ kwargs: { mode: "success" } }]);
      const started = await waitFor(async () => {
        const [row] = await db.sql<{ ms: number | null }[]>`
          select extract(epoch from started_at - enqueued_at) * 1000 as ms from task_runs where result_id = ${id as string}`;
        return row?.ms ?? null;
      }, { intervalMs: 10, what: "task start" });
      latencies.push(Number(started));
    }
    expectQuick(Math.max(...latencies), 500, "the slowest NOTIFY wake-up"); // not the 60 s poll

    const [delayed] = await enqueue(db.sql, [{ kwargs: { mode: "success" }, runAfterSeconds: 2 }]);
    const lateness = await waitFor(async () => {
      const [row] = await db.sql<{ ms: number | null }[]>`
        select extract(epoch from started_at - run_after) * 1000 as ms from task_runs where result_id = ${delayed as string}`;
      return row?.ms ?? null;
    }, { intervalMs: 20, what: "delayed task start" });
    expect(Number(lateness)).toBeGreaterThanOrEqual(0);
    expectQuick(Number(lateness), 500, "a delayed task's lateness"); // not the 60 s poll
    expect(await stopWorker(worker)).toBe(0);
  });

  test("a cancellation request stops a running task within about a second", async () => {
    const db = await database();
    const [id] = await enqueue(db.sql, [{ kwargs: { mode: "sleep", seconds: 60 } }]);
    const worker = startWorker([...baseWorkerArgs(db.dsn), "--heartbeat-seconds", "60"]);
    await waitFor(async () => (await statusCounts(db.sql)).RUNNING === 1, { what: "task running" });
    await Bun.sleep(300);
    const requested = performance.now();
    await db.sql`update task_runs set cancel_requested = true where result_id = ${id as string}`;
    await waitFor(async () => (await statusCounts(db.sql)).FAILED === 1, { timeoutMs: 30_000, what: "cancelled" });
    expectQuick(performance.now() - requested, 1_500, "a cancellation"); // not the 60 s task
    const row = (await rows(db)).get(id as string);
    expect(row).toMatchObject({ status: "FAILED", kinds: ["cancelled"], last_error: "Task cancelled by request" });
    expect(await stopWorker(worker)).toBe(0);
  });

  test("SIGTERM: a short task finishes, a long one is requeued with its attempt given back, nothing stays RUNNING", async () => {
    const db = await database();
    const [short, long] = await enqueue(db.sql, [{ kwargs: { mode: "sleep", seconds: 1.5 } }, { kwargs: { mode: "hang" } }]);
    const worker = startWorker([...baseWorkerArgs(db.dsn), "--concurrency", "2", "--shutdown-timeout", "3s"]);
    await waitFor(async () => (await statusCounts(db.sql)).RUNNING === 2, { what: "both running" });
    const started = performance.now();
    expect(await stopWorker(worker)).toBe(0);
    expectQuick(performance.now() - started, 3_000, "the 3 s shutdown timeout"); // not the hanging task
    const byId = await rows(db);
    expect(byId.get(short as string)).toMatchObject({ status: "SUCCESSFUL", attempts: 1 });
    expect(byId.get(long as string)).toMatchObject({ status: "READY", attempts: 0, kinds: ["shutdown"], leased_by: null });
    expect((await statusCounts(db.sql)).RUNNING).toBeUndefined();
  });

  test("kill -9 mid-task: another worker reclaims the row after the lease and completes it", async () => {
    const db = await database();
    const [id] = await enqueue(db.sql, [{ kwargs: { mode: "sleep", seconds: 1 } }]);
    const leaseArgs = ["--lease-seconds", "2", "--heartbeat-seconds", "1", "--reclaim-interval-seconds", "1"];
    const first = startWorker([...baseWorkerArgs(db.dsn), ...leaseArgs, "--worker-id", "doomed"]);
    await waitFor(async () => (await statusCounts(db.sql)).RUNNING === 1, { what: "task running" });
    first.signal("SIGKILL");
    await first.exited;
    const second = startWorker([...baseWorkerArgs(db.dsn), ...leaseArgs, "--worker-id", "rescuer"]);
    await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === 1, { timeoutMs: 30_000, what: "reclaimed and completed" });
    expect(await stopWorker(second)).toBe(0);
    const row = (await rows(db)).get(id as string);
    expect(row).toMatchObject({ status: "SUCCESSFUL", attempts: 2, kinds: ["lease_expiry"] });
  });

  test("listen off (PgBouncer mode): polling still runs tasks and cancellation still arrives within seconds", async () => {
    const db = await database();
    const worker = startWorker([...baseWorkerArgs(db.dsn), "--no-listen", "--no-prepare", "--poll-max-backoff", "300ms", "--concurrency", "2"]);
    const [quick, slow] = await enqueue(db.sql, [{ kwargs: { mode: "success" } }, { kwargs: { mode: "sleep", seconds: 60 } }]);
    await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === 1, { what: "polled task done" });
    await waitFor(async () => (await statusCounts(db.sql)).RUNNING === 1, { what: "slow task running" });
    const requested = performance.now();
    await db.sql`update task_runs set cancel_requested = true where result_id = ${slow as string}`;
    await waitFor(async () => (await statusCounts(db.sql)).FAILED === 1, { timeoutMs: 30_000, what: "cancelled by the poll" });
    expectQuick(performance.now() - requested, 1_500, "a cancellation found by polling"); // not the 60 s task
    expect((await rows(db)).get(quick as string)).toMatchObject({ status: "SUCCESSFUL" });
    expect((await rows(db)).get(slow as string)).toMatchObject({ status: "FAILED", kinds: ["cancelled"] });
    expect(await stopWorker(worker)).toBe(0);
  });

  test("a second SIGTERM skips the shutdown wait", async () => {
    const db = await database();
    await enqueue(db.sql, [{ kwargs: { mode: "sleep", seconds: 60 } }]);
    const worker = startWorker([...baseWorkerArgs(db.dsn), "--shutdown-timeout", "120s"]);
    await waitFor(async () => (await statusCounts(db.sql)).RUNNING === 1, { what: "task running" });
    const started = performance.now();
    worker.signal("SIGTERM");
    await waitFor(async () => worker.logs.some((line) => line.msg === "Shutdown requested, waiting for tasks..."), { what: "first signal seen" });
    worker.signal("SIGTERM");
    expect(await worker.exited).toBe(0);
    expectQuick(performance.now() - started, 2_000, "a second SIGTERM"); // not the 120 s shutdown_timeout
    const counts = await statusCounts(db.sql);
    expect(counts.RUNNING).toBeUndefined();
    expect(counts.READY).toBe(1); // requeued as `shutdown`, attempt given back
  });
});

describe("output over the capture limits", () => {
  test("the task log keeps the head and the tail (where the error is) around a marker saying how much was dropped", async () => {
    const db = await database();
    const traceback = "Traceback (most recent call last):\nValueError: the real error\n";
    const [id] = await enqueue(db.sql, [{
      kwargs: { mode: "flood", stream: "stderr", bytes: 1024 * 1024, head: "starting the task\n", tail: traceback, envelope: false, code: 1 },
      maxAttempts: 1,
    }]);
    const logsDir = mkdtempSync(join(tmpdir(), "reproq-task-logs-"));
    const worker = startWorker([...baseWorkerArgs(db.dsn), "--logs-dir", logsDir, "--max-stderr-bytes", "4096"]);
    await waitFor(idle(db), { timeoutMs: 30_000, what: "the task to finish" });
    expect(await stopWorker(worker)).toBe(0);

    const row = (await rows(db)).get(id as string) as Row;
    expect(row).toMatchObject({ status: "FAILED", kinds: ["app_error"] });
    const log = readFileSync(row.logs_uri as string, "utf8");
    const dropped = "starting the task\n".length + 1024 * 1024 + 1 + traceback.length - 4096;
    expect(log).toStartWith("STDOUT:\n\nSTDERR:\nstarting the task\nxxxx");
    expect(log).toContain(`\n… [TRUNCATED: ${dropped} bytes dropped (max_stderr_bytes)] …\n`);
    expect(log).toEndWith(`x\n${traceback}`);
  });
});
