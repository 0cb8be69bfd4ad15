// spec_json.django.settings_module through the compiled binary: reproq_django.executor would
// import it as Django settings before the task, so `reproq worker` refuses one that is not its own
// DJANGO_SETTINGS_MODULE (security_violation, no process started); its own runs as usual.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase } from "../helpers/db.ts";
import { EXECUTORS_DIR } from "../helpers/executors/index.ts";
import { baseWorkerArgs, enqueue, startWorker, statusCounts, stopWorker, waitFor } from "../helpers/worker.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const db = await createTestDatabase({ flavour: "reproq", label: "settings_module_e2e" });
afterAll(() => db.drop());

function recorded(path: string): unknown[] {
  return existsSync(path) ? readFileSync(path, "utf8").trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as unknown) : [];
}

test("a row naming another settings module fails as security_violation without starting the executor; one naming the worker's runs", async () => {
  await db.sql`truncate task_runs cascade`;
  const [foreign, same] = await enqueue(db.sql, [{ taskPath: "tasks.foreign", maxAttempts: 1 }, { taskPath: "tasks.same", maxAttempts: 1 }]);
  await db.sql`update task_runs set spec_json = jsonb_set(spec_json, '{django}', '{"settings_module": "pwn_settings"}') where result_id = ${foreign as string}`;
  await db.sql`update task_runs set spec_json = jsonb_set(spec_json, '{django}', '{"settings_module": "fake_settings"}') where result_id = ${same as string}`;
  const dir = mkdtempSync(join(tmpdir(), "reproq-settings-e2e-"));
  writeFileSync(join(dir, "pwn_settings.py"), 'import os\nwith open(os.environ["FAKE_SETTINGS_RECORD"], "a") as f:\n    f.write(__name__ + "\\n")\n');
  const runs = join(dir, "runs.jsonl");
  const imports = join(dir, "imports.txt");

  const worker = startWorker(baseWorkerArgs(db.dsn), {
    PYTHONPATH: `${EXECUTORS_DIR}:${dir}`,
    DJANGO_SETTINGS_MODULE: "fake_settings",
    FAKE_EXECUTOR_RECORD: runs,
    FAKE_SETTINGS_RECORD: imports,
  });
  await waitFor(async () => {
    const counts = await statusCounts(db.sql);
    return !counts.READY && !counts.RUNNING;
  }, { timeoutMs: 30_000, what: "both rows finished" });
  expect(await stopWorker(worker)).toBe(0);

  const rows = await db.sql<{ result_id: string; status: string; errors: { kind: string; message: string }[] }[]>`
    select result_id, status, errors_json as errors from task_runs order by result_id`;
  const refused = rows.find((r) => r.result_id === foreign);
  expect(refused?.status).toBe("FAILED");
  expect(refused?.errors.map((e) => e.kind)).toEqual(["security_violation"]);
  expect(refused?.errors[0]?.message).toContain('spec_json.django.settings_module "pwn_settings" differs from the worker\'s DJANGO_SETTINGS_MODULE "fake_settings"');
  expect(refused?.errors[0]?.message).toContain("remove it from the row, or run the worker with DJANGO_SETTINGS_MODULE=pwn_settings");
  expect(rows.find((r) => r.result_id === same)?.status).toBe("SUCCESSFUL");

  // The executor started once, for the row with the worker's own settings module; pwn_settings never loaded.
  expect(recorded(runs)).toEqual([{ result_id: same, task_path: "tasks.same", settings_module: "fake_settings" }]);
  expect(existsSync(imports) ? readFileSync(imports, "utf8") : "").not.toContain("pwn_settings");
  expect(worker.logs.find((line) => line.msg === "Task rejected by validator")).toMatchObject({ result_id: foreign, settings_module: "pwn_settings" });
});

test("a settings_module that is not a string fails as invalid_spec; the pretty log names the task and prints no undefined", async () => {
  await db.sql`truncate task_runs cascade`;
  const [row] = await enqueue(db.sql, [{ taskPath: "tasks.numeric", maxAttempts: 1 }]);
  await db.sql`update task_runs set spec_json = jsonb_set(spec_json, '{django}', '{"settings_module": 42}') where result_id = ${row as string}`;
  const args = baseWorkerArgs(db.dsn);
  args.splice(args.indexOf("--log-format"), 2, "--log-format", "pretty");
  const worker = startWorker(args, { DJANGO_SETTINGS_MODULE: "fake_settings" });
  await waitFor(async () => {
    const counts = await statusCounts(db.sql);
    return !counts.READY && !counts.RUNNING;
  }, { timeoutMs: 30_000, what: "the row finished" });
  expect(await stopWorker(worker)).toBe(0);

  const [stored] = await db.sql<{ status: string; last_error: string }[]>`select status, last_error from task_runs where result_id = ${row as string}`;
  expect(stored).toEqual({ status: "FAILED", last_error: "spec_json.django.settings_module is a number, not a string" });
  const output = [...worker.logs.map((line) => String(line.unparsed ?? JSON.stringify(line))), worker.stderr()].join("\n");
  expect(output).toContain("Invalid task spec");
  expect(output).toContain("task_path=tasks.numeric");
  expect(output).not.toContain("undefined");
});
