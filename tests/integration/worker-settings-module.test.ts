// reproq_django.executor imports spec_json.django.settings_module (as Django settings) before it
// imports the task, so a row carrying one runs code the allow-list never sees. The worker refuses
// a settings module other than its own DJANGO_SETTINGS_MODULE before any process starts. Runs the
// Worker in-process against a real Postgres with the fake Python executor (which records every
// start and imports the spec's settings module as the real one does) under each kind that runs
// the Django executor.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExecutorKind, WorkerConfig } from "../../src/config/index.ts";
import { createExecutor } from "../../src/executor/index.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { Worker } from "../../src/worker/runtime.ts";
import { createTestDatabase } from "../helpers/db.ts";
import { EXECUTORS_DIR, FAKE_EXECUTOR, PYTHON, testEnv, workerConfig } from "../helpers/executors/index.ts";
import { makeTasksDir } from "../helpers/ts-tasks/fixture.ts";
import { enqueue, statusCounts, waitFor } from "../helpers/worker.ts";

setDefaultTimeout(90_000); // also when run as plain `bun test` (its default is 5 s)

const db = await createTestDatabase({ flavour: "reproq", label: "settings_module" });
const tasks = makeTasksDir();
afterAll(async () => {
  tasks.remove();
  await db.drop();
});

interface Row {
  result_id: string;
  status: string;
  attempts: number;
  last_error: string | null;
  errors: { kind: string; message: string }[];
}

function lines(path: string): unknown[] {
  return existsSync(path) ? readFileSync(path, "utf8").trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as unknown) : [];
}

/** Sets spec_json.django (the key the Django backend never writes) on one row. */
async function setDjango(resultId: string | undefined, django: unknown): Promise<void> {
  await db.sql`update task_runs set spec_json = jsonb_set(spec_json, '{django}', ${db.sql.json(django as never)}) where result_id = ${resultId as string}`;
}

/** Runs a worker until the queue is drained; returns the rows, executor starts, settings imports and log lines. */
async function drain(worker: WorkerConfig, extraEnv: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "reproq-settings-"));
  // A module anywhere on the executor's import path: importing it is running its code.
  writeFileSync(join(dir, "pwn_settings.py"), 'import os\nwith open(os.environ["FAKE_SETTINGS_RECORD"], "a") as f:\n    f.write(__name__ + "\\n")\n');
  const runs = join(dir, "runs.jsonl");
  const imports = join(dir, "imports.txt");
  const logLines: Record<string, unknown>[] = [];
  const logger = await createLogger({ format: "json", level: "info", write: (line) => logLines.push(JSON.parse(line) as Record<string, unknown>) });
  const env = testEnv({
    PYTHONPATH: `${EXECUTORS_DIR}:${dir}`,
    DJANGO_SETTINGS_MODULE: "fake_settings",
    FAKE_EXECUTOR_RECORD: runs,
    FAKE_SETTINGS_RECORD: imports,
    ...extraEnv,
  });
  const executor = createExecutor({ worker, env, killGraceMs: 1000, pipeDrainMs: 1000 });
  const runtime = new Worker({
    sql: db.sql,
    worker,
    executor,
    logger,
    identity: { workerId: worker.workerId, hostname: "test", concurrency: worker.concurrency, queues: worker.queues, version: "test" },
  });
  const running = runtime.run();
  try {
    await waitFor(async () => {
      const counts = await statusCounts(db.sql);
      return !counts.READY && !counts.RUNNING;
    }, { timeoutMs: 60_000, what: "every row finished" });
  } finally {
    runtime.requestShutdown();
    await running;
  }
  const rows = await db.sql<Row[]>`select result_id, status, attempts, last_error, errors_json as errors from task_runs order by result_id`;
  const imported = existsSync(imports) ? readFileSync(imports, "utf8").trim().split("\n").filter(Boolean) : [];
  return { rows, runs: lines(runs), imported, logLines };
}

const kinds: { kind: ExecutorKind; worker: Partial<WorkerConfig> }[] = [
  { kind: "python", worker: {} },
  { kind: "python-pool", worker: { poolStaleCheckIntervalMs: 0 } },
  { kind: "command", worker: { executorCommand: [PYTHON, FAKE_EXECUTOR] } },
];

describe.each(kinds)("executor kind $kind", ({ kind, worker: overrides }) => {
  test("a spec's django.settings_module other than DJANGO_SETTINGS_MODULE fails as security_violation and is never imported; the same one runs", async () => {
    await db.sql`truncate task_runs cascade`;
    const [foreign, same, absent, empty, numeric, notObject] = await enqueue(
      db.sql,
      ["foreign", "same", "absent", "empty", "numeric", "not_object"].map((name) => ({ taskPath: `tasks.${name}`, maxAttempts: 1 })),
    );
    await setDjango(foreign, { settings_module: "pwn_settings" });
    await setDjango(same, { settings_module: "fake_settings" });
    await setDjango(empty, { settings_module: "" });
    await setDjango(numeric, { settings_module: 42 });
    await setDjango(notObject, "pwn_settings");

    const worker = workerConfig({ executor: kind, concurrency: 2, allowedTaskModules: ["tasks."], pollMinBackoffMs: 20, pollMaxBackoffMs: 200, ...overrides });
    const { rows, runs, imported, logLines } = await drain(worker);
    const row = (id: string | undefined) => rows.find((r) => r.result_id === id) as Row;

    expect(row(foreign)).toMatchObject({ status: "FAILED", attempts: 1 });
    expect(row(foreign).errors.map((e) => e.kind)).toEqual(["security_violation"]);
    expect(row(foreign).last_error).toBe(
      'security violation: spec_json.django.settings_module "pwn_settings" differs from the worker\'s DJANGO_SETTINGS_MODULE "fake_settings" ' +
        "(the executor would import it as Django settings, and allowed_task_modules does not check settings modules; " +
        "the Django backend never writes this key: remove it from the row, or run the worker with DJANGO_SETTINGS_MODULE=pwn_settings)",
    );

    expect(row(numeric)).toMatchObject({ status: "FAILED", attempts: 1 });
    expect(row(numeric).errors.map((e) => e.kind)).toEqual(["invalid_spec"]);
    expect(row(numeric).last_error).toBe("spec_json.django.settings_module is a number, not a string");
    expect(row(notObject).errors.map((e) => e.kind)).toEqual(["invalid_spec"]);
    expect(row(notObject).last_error).toBe("spec_json.django is a string, not an object");

    for (const id of [same, absent, empty]) expect(row(id)).toMatchObject({ status: "SUCCESSFUL", attempts: 1 });

    // Only the three good rows started an executor; the foreign settings module was never imported.
    const started = runs.map((run) => (run as { result_id: string }).result_id).sort();
    expect(started).toEqual([same, absent, empty].map(String).sort());
    expect(runs).toContainEqual({ result_id: same, task_path: "tasks.same", settings_module: "fake_settings" });
    expect(imported).not.toContain("pwn_settings");
    expect(imported).toContain("fake_settings");

    const rejected = logLines.find((line) => line.result_id === foreign && line.msg === "Task rejected by validator");
    expect(rejected).toMatchObject({ level: "WARN", task_path: "tasks.foreign", settings_module: "pwn_settings" });
  });
});

describe("the executor environment decides", () => {
  test("with no DJANGO_SETTINGS_MODULE for the executor (unset or in executor_env_deny) any settings_module is refused, and the message says so", async () => {
    await db.sql`truncate task_runs cascade`;
    const [row] = await enqueue(db.sql, [{ taskPath: "tasks.x", maxAttempts: 1 }]);
    await setDjango(row, { settings_module: "fake_settings" });
    // The worker's own environment has it, but the executor's does not: that is what counts.
    const worker = workerConfig({ allowedTaskModules: ["tasks."], executorEnvDeny: ["METRICS_AUTH_TOKEN", "DJANGO_SETTINGS_MODULE"], pollMinBackoffMs: 20 });
    const { rows, runs } = await drain(worker);
    expect(rows[0]).toMatchObject({ status: "FAILED" });
    expect(rows[0]?.errors.map((e) => e.kind)).toEqual(["security_violation"]);
    expect(rows[0]?.last_error).toStartWith(
      'security violation: spec_json.django.settings_module "fake_settings" is set but the executor\'s environment has no DJANGO_SETTINGS_MODULE',
    );
    expect(runs).toEqual([]);
  });

  test('allowed_task_modules "*" turns the check off (the type check stays)', async () => {
    await db.sql`truncate task_runs cascade`;
    const [foreign, numeric] = await enqueue(db.sql, [{ taskPath: "tasks.x", maxAttempts: 1 }, { taskPath: "tasks.y", maxAttempts: 1 }]);
    await setDjango(foreign, { settings_module: "pwn_settings" });
    await setDjango(numeric, { settings_module: 42 });
    const worker = workerConfig({ allowedTaskModules: ["*"], pollMinBackoffMs: 20 });
    const { rows, imported } = await drain(worker);
    expect(rows.find((r) => r.result_id === foreign)).toMatchObject({ status: "SUCCESSFUL" });
    expect(imported).toContain("pwn_settings");
    expect(rows.find((r) => r.result_id === numeric)?.errors.map((e) => e.kind)).toEqual(["invalid_spec"]);
  });
});

describe.each(["bun", "bun-inprocess"] as const)("executor kind %s", (kind) => {
  test("ignores spec_json.django (bun tasks never load Django settings): the row runs", async () => {
    await db.sql`truncate task_runs cascade`;
    const [foreign, numeric] = await enqueue(db.sql, [{ taskPath: "basic.noop", maxAttempts: 1 }, { taskPath: "basic.noop", maxAttempts: 1 }]);
    await setDjango(foreign, { settings_module: "pwn_settings" });
    await setDjango(numeric, { settings_module: 42 });
    const worker = workerConfig({ executor: kind, tasksDir: tasks.dir, allowedTaskModules: ["basic."], pollMinBackoffMs: 20 });
    const { rows } = await drain(worker);
    expect(rows.map((r) => r.status)).toEqual(["SUCCESSFUL", "SUCCESSFUL"]);
  });
});
