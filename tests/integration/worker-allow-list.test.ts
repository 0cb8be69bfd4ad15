// The allow-list checks the task path the executor will actually run (spec_json.task_path for the
// Python executors), not only the task_path column. Runs the Worker in-process against a real
// Postgres with the fake Python executor, which records every task it starts.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExecutor } from "../../src/executor/index.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { Worker } from "../../src/worker/runtime.ts";
import { createTestDatabase } from "../helpers/db.ts";
import { testEnv, workerConfig } from "../helpers/executors/index.ts";
import { enqueue, statusCounts, waitFor } from "../helpers/worker.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const db = await createTestDatabase({ flavour: "reproq", label: "allow_list" });
afterAll(() => db.drop());

interface Row {
  result_id: string;
  status: string;
  attempts: number;
  last_error: string | null;
  errors: { kind: string; message: string; task_path?: string }[];
}

test("a row whose spec names another task than its column, a look-alike module and a non-string path never reach the executor", async () => {
  const [bypass, lookalike, numeric, good] = await enqueue(db.sql, [
    { taskPath: "myapp.tasks.noop" },
    { taskPath: "myapp.tasks_evil.x" },
    { taskPath: "myapp.tasks.num" },
    { taskPath: "myapp.tasks.ok" },
  ]);
  // The column keeps the allowed name; the spec, which the executor reads, names another task.
  await db.sql`update task_runs set spec_json = jsonb_set(spec_json, '{task_path}', '"evil.tasks.pwn"') where result_id = ${bypass as string}`;
  // As the migration's trigger would fill it: the column is the text of a numeric spec value.
  await db.sql`update task_runs set task_path = '123', spec_json = jsonb_set(spec_json, '{task_path}', '123') where result_id = ${numeric as string}`;

  const record = join(mkdtempSync(join(tmpdir(), "reproq-allow-")), "runs.jsonl");
  const lines: string[] = [];
  const logger = await createLogger({ format: "json", level: "info", write: (line) => lines.push(line) });
  const worker = workerConfig({ concurrency: 2, allowedTaskModules: ["myapp.tasks"], pollMinBackoffMs: 20, pollMaxBackoffMs: 200 });
  const runtime = new Worker({
    sql: db.sql,
    worker,
    executor: createExecutor({ worker, env: testEnv({ FAKE_EXECUTOR_RECORD: record }) }),
    logger,
    identity: { workerId: worker.workerId, hostname: "test", concurrency: 2, queues: worker.queues, version: "test" },
  });
  const running = runtime.run();
  await waitFor(async () => {
    const counts = await statusCounts(db.sql);
    return !counts.READY && !counts.RUNNING;
  }, { timeoutMs: 30_000, what: "every row finished" });
  runtime.requestShutdown();
  await running;

  const rows = await db.sql<Row[]>`
    select result_id, status, attempts, last_error, errors_json as errors from task_runs order by result_id`;
  const row = (id: string | undefined) => rows.find((r) => r.result_id === id) as Row;

  expect(row(bypass)).toMatchObject({ status: "FAILED", attempts: 1 });
  expect(row(bypass).errors.map((e) => e.kind)).toEqual(["security_violation"]);
  expect(row(bypass).last_error).toContain('"evil.tasks.pwn"');
  expect(row(bypass).last_error).toContain('"myapp.tasks.noop"');

  expect(row(lookalike)).toMatchObject({ status: "FAILED", attempts: 1 });
  expect(row(lookalike).errors.map((e) => e.kind)).toEqual(["security_violation"]);
  expect(row(lookalike).last_error).toStartWith("security violation: unauthorized task module path: myapp.tasks_evil.x");

  expect(row(numeric)).toMatchObject({ status: "FAILED", attempts: 1 });
  expect(row(numeric).errors.map((e) => e.kind)).toEqual(["invalid_spec"]);
  expect(row(numeric).last_error).toBe("spec_json.task_path is a number, not a string");

  expect(row(good)).toMatchObject({ status: "SUCCESSFUL", attempts: 1 });

  // Only the allowed task ever started an executor process.
  const runs = existsSync(record) ? readFileSync(record, "utf8").trim().split("\n").map((line) => JSON.parse(line) as unknown) : [];
  expect(runs).toEqual([{ result_id: good, task_path: "myapp.tasks.ok" }]);

  // The rejection is logged with the path that would have run, not only the allowed-looking column.
  const rejected = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.result_id === bypass && line.level === "WARN");
  expect(rejected).toMatchObject({ msg: "Task rejected by validator", task_path: "myapp.tasks.noop", spec_task_path: "evil.tasks.pwn" });
});
