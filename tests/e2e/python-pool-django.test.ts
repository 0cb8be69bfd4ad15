// `reproq worker --executor python-pool` against REAL Django (Debian's python3-django 3.2) and a
// real DB driver (psycopg2): the compiled binary runs the same tasks of the project in
// tests/helpers/executors/djangoproj once with `--executor python` (one interpreter per task) and
// once with `--executor python-pool` (forked from a warm pool that ran django.setup()) and once
// with `--pool-mode persistent` (long-lived children of that pool), and the outcomes must match. The project's AppConfig.ready() runs a query, so the process that runs
// django.setup() holds an open connection: the pool must close it before forking, and every task
// must get a Postgres connection of its own.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { EXECUTORS_DIR } from "../helpers/executors/index.ts";
import { enqueue, startWorker, statusCounts, stopWorker, waitFor, type EnqueueRow, type WorkerProcess } from "../helpers/worker.ts";
import { describeWithTools, SYSTEM_PYTHON } from "../helpers/tools.ts";
import { pgrep } from "../helpers/processes.ts";

setDefaultTimeout(360_000);

const PYTHON = SYSTEM_PYTHON;
const PROJECT_DIR = join(EXECUTORS_DIR, "djangoproj");
const MODULE = "djangoproj.reproq_executor";
const BENCH_TASKS = 30;
const CONCURRENCY = 4;

const databases: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

/** python-pool-persistent: `--executor python-pool --pool-mode persistent`. */
type Kind = "python" | "python-pool" | "python-pool-persistent";

function workerArgs(dsn: string, kind: Kind): string[] {
  return [
    "worker", "--dsn", dsn,
    ...(kind === "python-pool-persistent" ? ["--executor", "python-pool", "--pool-mode", "persistent"] : ["--executor", kind]),
    "--python-bin", PYTHON, "--executor-module", MODULE,
    "--allowed-task-modules", "demoapp.",
    "--poll-min-backoff", "50ms", "--poll-max-backoff", "500ms",
    "--retry-base-seconds", "0.2", "--retry-jitter", "0",
    "--concurrency", String(CONCURRENCY), "--log-format", "json",
  ];
}

function logged(worker: WorkerProcess, msg: string): Record<string, unknown>[] {
  return worker.logs.filter((line) => line.msg === msg);
}

const idle = (db: TestDatabase) => async () => {
  const counts = await statusCounts(db.sql);
  return !counts.READY && !counts.RUNNING;
};

interface Row {
  result_id: string;
  status: string;
  attempts: number;
  ret: unknown;
  errors: { kind: string; exception_class?: string; message?: string; exit_code?: number | null }[];
  metadata: Record<string, unknown>;
  started_at: Date | null;
  finished_at: Date | null;
}

async function rowsById(db: TestDatabase, ids: string[]): Promise<Row[]> {
  const found = await db.sql<Row[]>`
    select result_id::text as result_id, status, attempts, return_json as ret, errors_json as errors,
           metadata_json as metadata, started_at, finished_at
    from task_runs where result_id::text = any(${ids}::text[])`;
  const byId = new Map(found.map((row) => [row.result_id, row]));
  return ids.map((id) => {
    const row = byId.get(id);
    if (!row) throw new Error(`task ${id} not found`);
    return row;
  });
}

/** The functional batch: label → task. Labels are what the two kinds are compared by. */
const FUNCTIONAL: Record<string, EnqueueRow> = {
  add: { taskPath: "demoapp.tasks.add", kwargs: { a: 2, b: 3 } },
  add_float: { taskPath: "demoapp.tasks.add", kwargs: { a: -1, b: 0.5 } },
  note_alpha: { taskPath: "demoapp.tasks.write_note", kwargs: { text: "alpha" } },
  note_beta: { taskPath: "demoapp.tasks.write_note", kwargs: { text: "beta" } },
  boom: { taskPath: "demoapp.tasks.boom", kwargs: {}, maxAttempts: 2 },
  sleep: { taskPath: "demoapp.tasks.sleep", kwargs: { s: 0.2 } },
  settings: { taskPath: "demoapp.tasks.settings_module", kwargs: {} },
  metadata: { taskPath: "demoapp.tasks.tag_metadata", kwargs: { tag: "t1" } },
  missing: { taskPath: "demoapp.tasks.does_not_exist", kwargs: {}, maxAttempts: 1 },
  timeout: { taskPath: "demoapp.tasks.sleep", kwargs: { s: 30 }, timeoutSeconds: 2, maxAttempts: 1 },
};

interface RunOutcome {
  kind: Kind;
  /** label → comparable outcome (status, attempts, return, error kinds and classes). */
  summary: Record<string, unknown>;
  connectionPids: number[];
  setupLog: { os_pid: number; backend_pid: number }[];
  tasksPerSecond: number;
}

async function runKind(kind: Kind): Promise<RunOutcome> {
  const db = await createTestDatabase({ flavour: "reproq", label: `pp_django_${kind.replaceAll("-", "_")}` });
  databases.push(db);
  await db.sql`create table demoapp_note (id bigserial primary key, text text not null)`;
  await db.sql`create table demoapp_setup_log (os_pid int not null, backend_pid int not null)`;
  const worker = startWorker(workerArgs(db.dsn, kind), {
    DJANGO_SETTINGS_MODULE: "djangoproj.settings",
    PYTHONPATH: PROJECT_DIR,
    DATABASE_URL: db.dsn,
  });
  let outcome: RunOutcome;
  try {
    if (kind !== "python") {
      const ready = await waitFor(async () => logged(worker, "Python pool ready")[0], { timeoutMs: 30_000, what: "the pool to be ready" });
      // The pool ran django.setup() and imported the database backend and driver (there AppConfig.ready()
      // had already connected); ready() logged the pool's own connection.
      expect(ready).toMatchObject({ django: true, databases: ["default"] });
      const poolPid = Number(ready.pool_pid);
      const setup = await db.sql<{ os_pid: number; backend_pid: number }[]>`select os_pid, backend_pid from demoapp_setup_log`;
      expect(setup.map((row) => row.os_pid)).toEqual([poolPid]);
      // ... and closed it before reporting ready (so before any fork). An unclosed connection
      // stays idle forever; the short wait only covers the backend's own exit.
      const stillOpen = async () => (await db.sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where pid = ${setup[0]?.backend_pid ?? -1}`)[0]?.n;
      await waitFor(async () => (await stillOpen()) === 0, { timeoutMs: 3_000, what: "the pool's own connection to be closed" }).catch(() => {});
      expect(await stillOpen()).toBe(0);
    }

    // 1. The functional batch.
    const labels = Object.keys(FUNCTIONAL);
    const ids = await enqueue(db.sql, labels.map((label) => FUNCTIONAL[label] as EnqueueRow));
    await waitFor(idle(db), { timeoutMs: 90_000, what: `the functional batch (${kind})` });
    const rows = await rowsById(db, ids);
    const byLabel = Object.fromEntries(labels.map((label, index) => [label, rows[index] as Row]));
    const get = (label: string) => byLabel[label] as Row;

    expect(get("add")).toMatchObject({ status: "SUCCESSFUL", attempts: 1, ret: 5 });
    expect(get("add_float")).toMatchObject({ status: "SUCCESSFUL", ret: -0.5 });
    expect(get("sleep")).toMatchObject({ status: "SUCCESSFUL", ret: 0.2 });
    expect(get("settings")).toMatchObject({ status: "SUCCESSFUL", ret: "djangoproj.settings" });
    // A takes_context task: the executor passes --result-id and --attempt through and writes
    // metadata_json itself (through Django's connection) while the worker holds the row.
    expect(get("metadata")).toMatchObject({ status: "SUCCESSFUL", ret: get("metadata").result_id, metadata: { tag: "t1", attempt: 1 } });
    // Notes written through the ORM, with the ids the tasks returned.
    const notes = await db.sql<{ id: string; text: string }[]>`select id::text as id, text from demoapp_note order by text`;
    expect(notes.map((note) => note.text)).toEqual(["alpha", "beta"]);
    expect(get("note_alpha")).toMatchObject({ status: "SUCCESSFUL", ret: Number(notes[0]?.id) });
    expect(get("note_beta")).toMatchObject({ status: "SUCCESSFUL", ret: Number(notes[1]?.id) });
    // A task exception: retried, then FAILED, each attempt an app_error with the class and message.
    expect(get("boom")).toMatchObject({ status: "FAILED", attempts: 2 });
    expect(get("boom").errors.map((e) => [e.kind, e.exception_class, e.message, e.exit_code])).toEqual([
      ["app_error", "ValueError", "boom from a real Django task", 1],
      ["app_error", "ValueError", "boom from a real Django task", 1],
    ]);
    expect(get("missing")).toMatchObject({ status: "FAILED", attempts: 1 });
    expect(get("missing").errors.map((e) => [e.kind, e.exception_class])).toEqual([["app_error", "ImportError"]]);
    expect(get("timeout")).toMatchObject({ status: "FAILED", attempts: 1 });
    expect(get("timeout").errors.map((e) => e.kind)).toEqual(["timeout"]);

    const summary: Record<string, unknown> = {};
    for (const label of labels) {
      const row = get(label);
      summary[label] = {
        status: row.status,
        attempts: row.attempts,
        // Note ids depend on which write_note committed first; compare the note each id names.
        ret: label === "metadata" ? "<result_id>" : label.startsWith("note_") ? notes.find((note) => Number(note.id) === row.ret)?.text : row.ret,
        errors: row.errors.map((e) => ({ kind: e.kind, exception_class: e.exception_class ?? null, message: e.kind === "timeout" ? "<timeout>" : e.message ?? null })),
        metadata: row.metadata,
      };
    }

    // 2. One Postgres connection per task: CONCURRENCY tasks that hold their connection open at the
    //    same time must report different backend pids.
    const connIds = await enqueue(db.sql, Array.from({ length: CONCURRENCY }, () => ({ taskPath: "demoapp.tasks.which_db_connection", kwargs: { hold: 2 } })));
    await waitFor(idle(db), { timeoutMs: 60_000, what: `the connection batch (${kind})` });
    const connRows = await rowsById(db, connIds);
    for (const row of connRows) expect(row).toMatchObject({ status: "SUCCESSFUL", attempts: 1 });
    const starts = connRows.map((row) => (row.started_at as Date).getTime());
    const ends = connRows.map((row) => (row.finished_at as Date).getTime());
    expect(Math.max(...starts)).toBeLessThan(Math.min(...ends)); // they really overlapped
    const connectionPids = connRows.map((row) => row.ret as number);
    for (const pid of connectionPids) expect(pid).toBeGreaterThan(0);
    expect(new Set(connectionPids).size).toBe(CONCURRENCY);

    // 3. Throughput: BENCH_TASKS `add` tasks at CONCURRENCY, the worker already warm.
    const t0 = performance.now();
    const benchIds = await enqueue(db.sql, Array.from({ length: BENCH_TASKS }, (_, i) => ({ taskPath: "demoapp.tasks.add", kwargs: { a: i, b: 1 } })));
    await waitFor(idle(db), { timeoutMs: 120_000, intervalMs: 20, what: `the benchmark batch (${kind})` });
    const seconds = (performance.now() - t0) / 1000;
    const benchRows = await rowsById(db, benchIds);
    expect(benchRows.map((row) => [row.status, row.ret])).toEqual(Array.from({ length: BENCH_TASKS }, (_, i) => ["SUCCESSFUL", i + 1]));
    const tasksPerSecond = BENCH_TASKS / seconds;
    console.log(`real Django (${kind}): ${BENCH_TASKS} add tasks at concurrency ${CONCURRENCY} in ${seconds.toFixed(2)} s = ${tasksPerSecond.toFixed(1)} tasks/s`);

    if (kind !== "python") {
      // Every task ran in the one pool: no fallback, no restart, no replacement.
      expect(logged(worker, "Python pool disabled; running each task as its own process")).toEqual([]);
      expect(logged(worker, "Python pool exited unexpectedly")).toEqual([]);
      expect(logged(worker, "Python pool replaced")).toEqual([]);
    }
    const setupLog = [...(await db.sql<{ os_pid: number; backend_pid: number }[]>`select os_pid, backend_pid from demoapp_setup_log`)];
    outcome = { kind, summary, connectionPids, setupLog, tasksPerSecond };
  } finally {
    expect(await stopWorker(worker)).toBe(0);
  }
  expect(logged(worker, "Worker stopped").length).toBe(1);
  // Nothing of the project is left running: no pool, no executor child.
  await waitFor(async () => pgrep("djangoproj").length === 0, { timeoutMs: 5_000, what: "djangoproj processes to exit" }).catch(() => {});
  expect(pgrep("djangoproj")).toEqual([]);
  return outcome;
}

describeWithTools(["django", "psycopg2"], "python-pool with a real Django project (python3-django + psycopg2)", () => {
  test("python and python-pool give the same results; the pool runs django.setup() once and every task has its own connection", async () => {
    const spawned = await runKind("python");
    const pooled = await runKind("python-pool");
    const persistent = await runKind("python-pool-persistent");

    // Same statuses, returns, error kinds/classes/messages and metadata with both kinds.
    expect(pooled.summary).toEqual(spawned.summary);
    expect(persistent.summary).toEqual(spawned.summary);

    // Spawn: every executor process ran django.setup() (one setup_log row per attempt; the
    // timeout task's may be missing if it was killed before ready() ran) and the task reused the
    // connection its own ready() opened.
    const attemptsPerRun = Object.values(spawned.summary).reduce((sum: number, row) => sum + (row as { attempts: number }).attempts, 0);
    const processes = attemptsPerRun + CONCURRENCY + BENCH_TASKS;
    expect(spawned.setupLog.length).toBeLessThanOrEqual(processes);
    expect(spawned.setupLog.length).toBeGreaterThanOrEqual(processes - 1);
    const spawnSetupPids = new Set(spawned.setupLog.map((row) => row.backend_pid));
    for (const pid of spawned.connectionPids) expect(spawnSetupPids).toContain(pid);

    // Pool: django.setup() ran once, in the pool; no task used the pool's connection.
    expect(pooled.setupLog.length).toBe(1);
    const poolSetupPid = pooled.setupLog[0]?.backend_pid;
    expect(pooled.connectionPids).not.toContain(poolSetupPid);
    // Persistent children: the same (setup once, in the pool; connections of their own).
    expect(persistent.setupLog.length).toBe(1);
    expect(persistent.connectionPids).not.toContain(persistent.setupLog[0]?.backend_pid);

    console.log(`real Django speed-up python-pool / python: ${(pooled.tasksPerSecond / spawned.tasksPerSecond).toFixed(1)}x`);
    console.log(`real Django speed-up python-pool persistent / python: ${(persistent.tasksPerSecond / spawned.tasksPerSecond).toFixed(1)}x`);
    expect(pooled.tasksPerSecond).toBeGreaterThan(spawned.tasksPerSecond * 2);
    expect(persistent.tasksPerSecond).toBeGreaterThan(spawned.tasksPerSecond * 2);
  }, 360_000); // explicit: `bun test --timeout 60000` (package.json) would otherwise cap it
});
