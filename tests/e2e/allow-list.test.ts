// The task allow-list as a user meets it through the compiled binary: a row cannot smuggle another
// task past it, and a worker left on the default list says so.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBinary } from "../helpers/binary.ts";
import { createTestDatabase } from "../helpers/db.ts";
import { baseWorkerArgs, enqueue, startWorker, statusCounts, stopWorker, waitFor } from "../helpers/worker.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

// One database for the file; each test starts from an empty task_runs.
const db = await createTestDatabase({ flavour: "reproq", label: "allow_list_e2e" });
afterAll(() => db.drop());

async function emptyQueue(): Promise<void> {
  await db.sql`truncate task_runs cascade`;
}

const idle = async () => {
  const counts = await statusCounts(db.sql);
  return !counts.READY && !counts.RUNNING;
};

function recordedRuns(path: string): unknown[] {
  return existsSync(path) ? readFileSync(path, "utf8").trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as unknown) : [];
}

describe("reproq worker and the allow-list", () => {
  test("a row whose spec_json.task_path differs from its allowed column fails as security_violation; the executor never starts", async () => {
    await emptyQueue();
    const [bypass, fine] = await enqueue(db.sql, [{ taskPath: "tasks.noop" }, { taskPath: "tasks.fine" }]);
    await db.sql`update task_runs set spec_json = jsonb_set(spec_json, '{task_path}', '"evil.tasks.pwn"') where result_id = ${bypass as string}`;
    const record = join(mkdtempSync(join(tmpdir(), "reproq-allow-e2e-")), "runs.jsonl");

    const worker = startWorker(baseWorkerArgs(db.dsn), { FAKE_EXECUTOR_RECORD: record });
    await waitFor(idle, { timeoutMs: 30_000, what: "both rows finished" });
    expect(await stopWorker(worker)).toBe(0);

    const rows = await db.sql<{ result_id: string; status: string; last_error: string | null; kinds: string[] }[]>`
      select result_id, status, last_error,
             coalesce((select array_agg(e->>'kind') from jsonb_array_elements(errors_json) e), '{}') as kinds
      from task_runs order by result_id`;
    expect(rows.find((r) => r.result_id === bypass)).toMatchObject({ status: "FAILED", kinds: ["security_violation"] });
    expect(rows.find((r) => r.result_id === bypass)?.last_error).toContain("evil.tasks.pwn");
    expect(rows.find((r) => r.result_id === fine)).toMatchObject({ status: "SUCCESSFUL" });
    expect(recordedRuns(record)).toEqual([{ result_id: fine, task_path: "tasks.fine" }]);
    const rejected = worker.logs.find((line) => line.msg === "Task rejected by validator");
    expect(rejected).toMatchObject({ task_path: "tasks.noop", spec_task_path: "evil.tasks.pwn" });
  });
});

/** The test worker flags without --allowed-task-modules: the worker runs on the default list. */
function argsWithoutAllowList(): string[] {
  const args = baseWorkerArgs(db.dsn);
  const at = args.indexOf("--allowed-task-modules");
  args.splice(at, 2);
  return args;
}

describe("a worker left on the default allow-list", () => {
  test("warns at start-up; a refused task's error names the setting; the pretty log prints no undefined", async () => {
    await emptyQueue();
    const [refused] = await enqueue(db.sql, [{ taskPath: "shop.jobs.send_receipt" }]);
    const args = argsWithoutAllowList();
    args.splice(args.indexOf("--log-format"), 2, "--log-format", "pretty");
    const worker = startWorker(args);
    await waitFor(idle, { timeoutMs: 30_000, what: "the row finished" });
    expect(await stopWorker(worker)).toBe(0);

    const [row] = await db.sql<{ status: string; last_error: string }[]>`select status, last_error from task_runs where result_id = ${refused as string}`;
    expect(row?.status).toBe("FAILED");
    expect(row?.last_error).toBe(
      "security violation: unauthorized task module path: shop.jobs.send_receipt (allowed_task_modules is not set, so only the defaults " +
        "myapp.tasks., tasks. are allowed; to run it, add its module to worker.allowed_task_modules (--allowed-task-modules, ALLOWED_TASK_MODULES))",
    );
    const output = [...worker.logs.map((line) => String(line.unparsed ?? JSON.stringify(line))), worker.stderr()].join("\n");
    expect(output).toContain("allowed_task_modules not set: only tasks under myapp.tasks., tasks. will run");
    expect(output).toContain("Task rejected by validator");
    expect(output).not.toContain("undefined");
  });
});

describe("an unwritable logs_dir", () => {
  test("stops the worker at start-up with exit 2, before connecting, naming the setting", async () => {
    const blocker = join(mkdtempSync(join(tmpdir(), "reproq-logs-")), "a-file");
    writeFileSync(blocker, "not a directory");
    const result = await runBinary(["worker", "--dsn", "postgres://postgres@127.0.0.1:1/unreachable", "--logs-dir", join(blocker, "logs")]);
    expect(result.exitCode).toBe(2);
    const first = result.stderr.trim().split("\n")[0] ?? "";
    expect(first).toContain(`worker.logs_dir ${join(blocker, "logs")} is not writable`);
    expect(first).toContain("(from --logs-dir)");
    expect(result.stderr).not.toContain("cannot connect");
  });
});

interface DoctorJson {
  ok: boolean;
  checks: { name: string; status: "ok" | "warn" | "fail"; detail: string }[];
}

async function doctor(env: Record<string, string> = {}): Promise<{ exitCode: number; report: DoctorJson }> {
  const result = await runBinary(["doctor", "--dsn", db.dsn, "--json"], { env });
  return { exitCode: result.exitCode, report: JSON.parse(result.stdout) as DoctorJson };
}

describe("reproq doctor", () => {
  test("reports the default allow-list and counts the queued rows it would refuse", async () => {
    await emptyQueue();
    const [mismatched] = await enqueue(db.sql, [
      { taskPath: "tasks.ok" },
      { taskPath: "shop.jobs.a" },
      { taskPath: "shop.jobs.a" },
      { taskPath: "shop.jobs.b", runAfterSeconds: 3600 },
    ]);
    await db.sql`update task_runs set spec_json = jsonb_set(spec_json, '{task_path}', '"evil.x"') where result_id = ${mismatched as string}`;

    const unset = await doctor();
    expect(unset.report.checks.find((check) => check.name === "allowed_task_modules")).toEqual({
      name: "allowed_task_modules",
      status: "warn",
      detail: "not set: only tasks under myapp.tasks., tasks. will run, others fail as security_violation; " +
        "set worker.allowed_task_modules (--allowed-task-modules, ALLOWED_TASK_MODULES) to your task modules",
    });
    expect(unset.report.checks.find((check) => check.name === "queued task paths")).toEqual({
      name: "queued task paths",
      status: "warn",
      detail: "4 of 4 READY/WAITING rows would fail as security_violation: 3 outside the allow-list (shop.jobs.a: 2, shop.jobs.b: 1), " +
        "1 whose spec_json.task_path differs from its task_path column",
    });
    expect(unset.exitCode).toBe(0); // warnings only

    const set = await doctor({ ALLOWED_TASK_MODULES: "tasks.,shop.jobs" });
    expect(set.report.checks.find((check) => check.name === "allowed_task_modules")).toEqual({ name: "allowed_task_modules", status: "ok", detail: "tasks., shop.jobs" });
    expect(set.report.checks.find((check) => check.name === "queued task paths")?.detail).toBe(
      "1 of 4 READY/WAITING rows would fail as security_violation: 1 whose spec_json.task_path differs from its task_path column",
    );
  });

  test("fails on an unwritable logs_dir and passes on a writable one", async () => {
    const blocker = join(mkdtempSync(join(tmpdir(), "reproq-logs-")), "a-file");
    writeFileSync(blocker, "not a directory");
    const bad = await doctor({ REPROQ_LOGS_DIR: join(blocker, "logs"), ALLOWED_TASK_MODULES: "tasks." });
    expect(bad.exitCode).toBe(1);
    const check = bad.report.checks.find((c) => c.name === "logs_dir");
    expect(check?.status).toBe("fail");
    expect(check?.detail).toContain(`${join(blocker, "logs")} is not writable`);
    expect(check?.detail).toContain("(from REPROQ_LOGS_DIR)");

    const dir = mkdtempSync(join(tmpdir(), "reproq-logs-ok-"));
    const good = await doctor({ REPROQ_LOGS_DIR: dir, ALLOWED_TASK_MODULES: "tasks." });
    expect(good.report.checks.find((c) => c.name === "logs_dir")).toEqual({ name: "logs_dir", status: "ok", detail: `${dir} is writable` });
    expect(readdirSync(dir)).toEqual([]); // the probe file is gone
  });
});
