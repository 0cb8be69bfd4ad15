// The task allow-list as a user meets it through the compiled binary: a row cannot smuggle another
// task past it, and a worker left on the default list says so.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
