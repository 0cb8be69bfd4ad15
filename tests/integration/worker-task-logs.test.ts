// logs_dir going bad while the worker runs (removed and replaced by a file, a full disk): the
// tasks still complete, and the worker says once that their output is not being kept, then once
// when it is again. Runs the Worker in-process with real executor processes.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExecutor } from "../../src/executor/index.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { Worker } from "../../src/worker/runtime.ts";
import { createTestDatabase } from "../helpers/db.ts";
import { testEnv, workerConfig } from "../helpers/executors/index.ts";
import { enqueue, statusCounts, waitFor } from "../helpers/worker.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const db = await createTestDatabase({ flavour: "reproq", label: "task_logs" });
afterAll(() => db.drop());

test("a logs_dir that stops being writable is reported once per stretch of failures, not silently", async () => {
  const logsDir = join(mkdtempSync(join(tmpdir(), "reproq-task-logs-")), "logs");
  const lines: Record<string, unknown>[] = [];
  const logger = await createLogger({ format: "json", level: "info", write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  const worker = workerConfig({ concurrency: 1, allowedTaskModules: ["tasks."], logsDir, pollMinBackoffMs: 20, pollMaxBackoffMs: 100 });
  const runtime = new Worker({
    sql: db.sql,
    worker,
    executor: createExecutor({ worker, env: testEnv() }),
    logger,
    identity: { workerId: worker.workerId, hostname: "test", concurrency: 1, queues: worker.queues, version: "test" },
  });
  const running = runtime.run();
  const finished = (n: number) => async () => (await statusCounts(db.sql)).SUCCESSFUL === n;
  try {
    await enqueue(db.sql, [{ kwargs: { mode: "noise" } }]);
    await waitFor(finished(1), { what: "the first task" });

    rmSync(logsDir, { recursive: true });
    writeFileSync(logsDir, "in the way"); // mkdir and open below it now fail
    await enqueue(db.sql, [{ kwargs: { mode: "noise" } }, { kwargs: { mode: "noise" } }]);
    await waitFor(finished(3), { what: "two tasks with an unwritable logs_dir" });

    rmSync(logsDir);
    await enqueue(db.sql, [{ kwargs: { mode: "noise" } }]);
    await waitFor(finished(4), { what: "a task after logs_dir was fixed" });
  } finally {
    runtime.requestShutdown();
    await running;
  }

  const uris = await db.sql<{ logs_uri: string | null }[]>`select logs_uri from task_runs order by result_id`;
  expect(uris.map((row) => row.logs_uri !== null)).toEqual([true, false, false, true]);
  const failed = lines.filter((line) => String(line.msg).startsWith("Writing task logs failed"));
  expect(failed).toHaveLength(1); // two failures, one line
  expect(failed[0]).toMatchObject({ level: "ERROR", msg: "Writing task logs failed; task output is not being kept" });
  expect(String(failed[0]?.error)).toContain(`failed to write task log in ${logsDir}`);
  expect(lines.filter((line) => line.msg === "Writing task logs works again")).toHaveLength(1);
});
