// `reproq worker --executor python-pool` as a user runs it: the compiled binary, a real Postgres,
// the fake Django-like project (tests/helpers/executors/fakedjango) forked from a warm pool.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { POOL_MODES, type PoolMode } from "../../src/config/types.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { PYTHON } from "../helpers/executors/index.ts";
import { enqueue, startWorker, statusCounts, stopWorker, waitFor, type WorkerProcess } from "../helpers/worker.ts";
import { pgrep } from "../helpers/processes.ts";

setDefaultTimeout(90_000); // also when run as plain `bun test` (its default is 5 s)

const MODULE = "fakedjango.executor";
const databases: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

function poolArgs(dsn: string, mode: PoolMode): string[] {
  return [
    "worker", "--dsn", dsn,
    "--executor", "python-pool", "--pool-mode", mode, "--python-bin", PYTHON, "--executor-module", MODULE,
    "--allowed-task-modules", "tasks.",
    "--poll-min-backoff", "50ms", "--poll-max-backoff", "500ms",
    "--retry-base-seconds", "0.2", "--retry-jitter", "0",
    "--concurrency", "4", "--log-format", "json",
  ];
}

interface Row {
  result_id: string;
  status: string;
  attempts: number;
  return_text: string | null;
  last_error: string | null;
  kinds: string[];
}

async function rows(db: TestDatabase): Promise<Map<string, Row>> {
  const found = await db.sql<Row[]>`
    select result_id, status, attempts, return_json::text as return_text, last_error,
           coalesce((select array_agg(e->>'kind') from jsonb_array_elements(errors_json) e), '{}') as kinds
    from task_runs order by result_id`;
  return new Map(found.map((row) => [row.result_id, row]));
}

const idle = (db: TestDatabase) => async () => {
  const counts = await statusCounts(db.sql);
  return !counts.READY && !counts.RUNNING;
};

function logged(worker: WorkerProcess, msg: string): Record<string, unknown>[] {
  return worker.logs.filter((line) => line.msg === msg);
}

for (const mode of POOL_MODES) describe(`worker with --executor python-pool --pool-mode ${mode}`, () => {
  test("runs tasks end to end (success, DB write, failure with retry, timeout); SIGHUP replaces the pool; SIGTERM leaves no python behind", async () => {
    const db = await createTestDatabase({ flavour: "reproq", label: `python_pool_e2e_${mode}` });
    databases.push(db);
    await db.sql`create table fake_side_effects (marker text not null, result_id text)`;
    const worker = startWorker(poolArgs(db.dsn, mode));
    try {
      await waitFor(async () => logged(worker, "Python pool ready").length > 0, { timeoutMs: 20_000, what: "the pool to be ready" });
      const firstPool = Number(logged(worker, "Python pool ready")[0]?.pool_pid);
      expect(firstPool).toBeGreaterThan(0);
      expect(logged(worker, "Python pool ready")[0]?.mode).toBe(mode);

      const ids = await enqueue(db.sql, [
        { kwargs: { mode: "succeed", value: 5 } },
        { kwargs: { mode: "db_write", dsn: db.dsn, marker: "from-the-pool" } },
        { kwargs: { mode: "fail", message: "boom" }, maxAttempts: 2 },
        { kwargs: { mode: "sleep", seconds: 30 }, timeoutSeconds: 1, maxAttempts: 1 },
        { kwargs: { mode: "mutate" } },
        { kwargs: { mode: "mutate" } },
      ]);
      await waitFor(idle(db), { timeoutMs: 40_000, what: "all tasks to finish" });
      const byId = await rows(db);
      const get = (index: number) => byId.get(ids[index] as string) as Row;
      expect(get(0)).toMatchObject({ status: "SUCCESSFUL", attempts: 1 });
      expect(JSON.parse(get(0).return_text ?? "null")).toMatchObject({ value: 5, result_id: ids[0], attempt: 1, main_file: "executor.py" });
      expect(get(1)).toMatchObject({ status: "SUCCESSFUL" });
      const written = await db.sql<{ marker: string; result_id: string }[]>`select marker, result_id from fake_side_effects`;
      expect([...written]).toEqual([{ marker: "from-the-pool", result_id: ids[1] as string }]);
      expect(get(2)).toMatchObject({ status: "FAILED", attempts: 2, kinds: ["app_error", "app_error"] });
      expect(get(2).last_error).toContain("boom");
      expect(get(3)).toMatchObject({ status: "FAILED", kinds: ["timeout"] });
      if (mode === "fork") {
        expect(JSON.parse(get(4).return_text ?? "null")).toEqual({ count: 1, items: ["x"] });
        expect(JSON.parse(get(5).return_text ?? "null")).toEqual({ count: 1, items: ["x"] });
      } else {
        expect([get(4).status, get(5).status]).toEqual(["SUCCESSFUL", "SUCCESSFUL"]); // module state is per child
      }
      // Every task ran in the pool: no fallback, no restart.
      expect(logged(worker, "Python pool disabled; running each task as its own process")).toEqual([]);
      expect(logged(worker, "Python pool exited unexpectedly")).toEqual([]);

      worker.signal("SIGHUP");
      await waitFor(async () => logged(worker, "Python pool replaced").length > 0, { timeoutMs: 20_000, what: "the pool to be replaced" });
      const replaced = logged(worker, "Python pool replaced")[0] ?? {};
      expect(replaced).toMatchObject({ reason: "SIGHUP", old_pool_pid: firstPool });
      const secondPool = Number(replaced.pool_pid);
      expect(secondPool).not.toBe(firstPool);
      const [after] = await enqueue(db.sql, [{ kwargs: { mode: "succeed", value: "after-hup" } }]);
      await waitFor(idle(db), { timeoutMs: 20_000, what: "the task after SIGHUP" });
      expect((await rows(db)).get(after as string)).toMatchObject({ status: "SUCCESSFUL" });
      await waitFor(async () => pgrep(`^reproq-python-pool`).every((pid) => pid !== firstPool), { timeoutMs: 10_000, what: "the old pool to exit" });
    } finally {
      expect(await stopWorker(worker)).toBe(0);
    }
    expect(logged(worker, "Worker stopped").length).toBe(1);
    const pools = logged(worker, "Python pool ready").concat(logged(worker, "Python pool replaced")).map((line) => Number(line.pool_pid));
    expect(pools.length).toBe(2);
    for (const pid of pools) expect(pgrep(`^reproq-python-pool`)).not.toContain(pid);
    expect(pgrep(`-m ${MODULE}`)).toEqual([]);
  });
});
