// TypeScript tasks as a user runs them: the compiled binary's worker with executor bun (tasks in
// `reproq exec` children of the same binary) and bun-inprocess (tasks imported from disk into the
// compiled worker), a real Postgres, and `reproq cancel` from another process.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { runBinary } from "../helpers/binary.ts";
import { makeTasksDir } from "../helpers/ts-tasks/fixture.ts";
import { enqueue, startWorker, stopWorker, waitFor, type WorkerProcess } from "../helpers/worker.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const fixture = makeTasksDir();
const databases: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
  fixture.remove();
});

interface Row {
  status: string;
  return_text: string | null;
  errors: Record<string, unknown>[];
}

async function row(db: TestDatabase, id: string): Promise<Row> {
  const [found] = await db.sql<Row[]>`select status, return_json::text as return_text, errors_json as errors from task_runs where result_id = ${id}::bigint`;
  if (!found) throw new Error(`row ${id} missing`);
  return found;
}

async function finished(db: TestDatabase, id: string): Promise<Row> {
  return waitFor(async () => {
    const found = await row(db, id);
    return found.status === "SUCCESSFUL" || found.status === "FAILED" ? found : null;
  }, { timeoutMs: 30_000, what: `task ${id} to finish` });
}

describe.each(["bun", "bun-inprocess"] as const)("reproq worker --executor %s", (kind) => {
  let db: TestDatabase;
  let worker: WorkerProcess;

  test("start a worker on a fresh database", async () => {
    db = await createTestDatabase({ flavour: "reproq", label: `ts_${kind.replace("-", "_")}` });
    databases.push(db);
    worker = startWorker([
      "worker", "--dsn", db.dsn, "--executor", kind, "--tasks-dir", fixture.dir, "--allowed-task-modules", "*",
      "--concurrency", "6", "--poll-min-backoff", "50ms", "--poll-max-backoff", "500ms", "--log-format", "json",
    ]);
    await waitFor(async () => worker.logs.some((line) => line.msg === "Starting reproq worker") || worker.proc.exitCode !== null, { what: "worker start" });
    expect(worker.proc.exitCode).toBeNull();
  });

  test("success: return_json holds the task's return value", async () => {
    const [id] = await enqueue(db.sql, [{ taskPath: "basic.add", kwargs: { k: 1 } }]);
    const done = await finished(db, id!);
    expect(done.status).toBe("SUCCESSFUL");
    expect(JSON.parse(done.return_text ?? "null")).toMatchObject({ sum: 0, kwargs: { k: 1 }, ctx: { resultId: id, attempt: 1, queue: "default", taskPath: "basic.add" } });
  });

  test("a thrown error: app_error with exception_class, message and the stack as traceback", async () => {
    const [id] = await enqueue(db.sql, [{ taskPath: "basic.fail", kwargs: { message: "no quota left" }, maxAttempts: 1 }]);
    const done = await finished(db, id!);
    expect(done.status).toBe("FAILED");
    expect(done.errors.at(-1)).toMatchObject({ kind: "app_error", exception_class: "QuotaExceeded", message: "no quota left" });
    expect(String(done.errors.at(-1)?.traceback)).toContain("basic.ts");
  });

  test("timeout: the task's signal is aborted and the attempt recorded as timeout", async () => {
    const [id] = await enqueue(db.sql, [{ taskPath: "basic.sleepy", kwargs: { ms: 60_000 }, timeoutSeconds: 1, maxAttempts: 1 }]);
    const done = await finished(db, id!);
    expect(done.status).toBe("FAILED");
    expect(done.errors.at(-1)).toMatchObject({ kind: "timeout" });
  });

  test("a task that never settles: timeout after the kill grace, the slot is freed", async () => {
    const [id] = await enqueue(db.sql, [{ taskPath: "basic.forever", timeoutSeconds: 1, maxAttempts: 1 }]);
    const done = await finished(db, id!);
    expect(done.errors.at(-1)).toMatchObject({ kind: "timeout" });
    const [next] = await enqueue(db.sql, [{ taskPath: "basic.add", kwargs: { after: "forever" } }]);
    expect((await finished(db, next!)).status).toBe("SUCCESSFUL");
  });

  test("cancel via `reproq cancel` while it runs: FAILED, kind cancelled", async () => {
    const [id] = await enqueue(db.sql, [{ taskPath: "basic.sleepy", kwargs: { ms: 60_000 } }]);
    await waitFor(async () => (await row(db, id!)).status === "RUNNING", { what: "task running" });
    const cancel = await runBinary(["cancel", "--id", id!, "--dsn", db.dsn]);
    expect(cancel.exitCode).toBe(0);
    const done = await finished(db, id!);
    expect(done.status).toBe("FAILED");
    expect(done.errors.at(-1)).toMatchObject({ kind: "cancelled" });
  });

  test("a module that fails to import: app_error naming the module", async () => {
    const [id] = await enqueue(db.sql, [{ taskPath: "broken_throw.run", maxAttempts: 1 }]);
    const done = await finished(db, id!);
    expect(done.errors.at(-1)).toMatchObject({ kind: "app_error", exception_class: "TypeError" });
    expect(String(done.errors.at(-1)?.message)).toContain("cannot import task module broken_throw");
  });

  test("a task path outside tasks_dir (../x, a symlink out) is refused as security_violation", async () => {
    const ids = await enqueue(db.sql, [{ taskPath: "../x" }, { taskPath: "escape.run" }]);
    for (const id of ids) {
      const done = await finished(db, id);
      expect(done.status).toBe("FAILED");
      expect(done.errors).toHaveLength(1);
      expect(done.errors[0]).toMatchObject({ kind: "security_violation" });
    }
  });

  test("SIGTERM: the worker exits 0 with nothing left running", async () => {
    expect(await stopWorker(worker)).toBe(0);
    const running = await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs where status = 'RUNNING'`;
    expect(running[0]?.n).toBe(0);
  });
});

describe("reproq worker --executor bun-inprocess, SIGTERM with a task that ignores its signal", () => {
  test("stops after shutdown_timeout plus a short grace, records the task as shutdown (READY again) and exits", async () => {
    // Never settles, and its interval would keep the process alive on its own.
    writeFileSync(join(fixture.dir, "stubborn.ts"), "export function run() {\n  setInterval(() => {}, 100);\n  return new Promise(() => {});\n}\n");
    const db = await createTestDatabase({ flavour: "reproq", label: "ts_shutdown" });
    databases.push(db);
    const [id] = await enqueue(db.sql, [{ taskPath: "stubborn.run" }]);
    const worker = startWorker([
      "worker", "--dsn", db.dsn, "--executor", "bun-inprocess", "--tasks-dir", fixture.dir, "--allowed-task-modules", "*",
      "--shutdown-timeout", "1s", "--poll-min-backoff", "50ms", "--poll-max-backoff", "500ms", "--log-format", "json",
    ]);
    await waitFor(async () => (await row(db, id!)).status === "RUNNING", { what: "task running" });
    const signalled = performance.now();
    worker.signal("SIGTERM");
    const code = await worker.exited;
    const exitedAfter = performance.now() - signalled;
    console.log(`bun-inprocess shutdown with a stubborn task: exited ${Math.round(exitedAfter)} ms after SIGTERM (shutdown_timeout 1s)`);
    expect(code).toBe(0);
    expect(worker.logs.some((line) => line.msg === "Worker stopped")).toBe(true);
    expect(exitedAfter).toBeLessThan(3_500); // 1 s + a 1 s grace + slack (it took 9 s)
    const [stored] = await db.sql<{ status: string; attempts: number; kinds: string[] }[]>`
      select status, attempts, array(select e->>'kind' from jsonb_array_elements(errors_json) e) as kinds
      from task_runs where result_id = ${id!}::bigint`;
    expect(stored).toEqual({ status: "READY", attempts: 0, kinds: ["shutdown"] });
  });
});
