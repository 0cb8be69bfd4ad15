// The worker's retention service through the compiled binary, on both schemas: off by default;
// on (env var, config file, flags), two workers delete the old finished rows between them in
// batches, each row once (one pruner at a time), and leave active, recent and undated rows alone.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { migrate } from "../../src/db/migrate.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { tempDir } from "../helpers/config.ts";
import { insertFinishedRow, type TaskRowOptions } from "../helpers/tasks.ts";
import { baseWorkerArgs, startWorker, stopWorker, waitFor, type WorkerProcess } from "../helpers/worker.ts";

setDefaultTimeout(90_000); // also when run as plain `bun test` (its default is 5 s)

const databases: TestDatabase[] = [];
afterAll(() => Promise.all(databases.map((db) => db.drop())));

const insertFinished = (db: TestDatabase, status: string, minutesAgo: number | null, row: TaskRowOptions = {}) =>
  insertFinishedRow(db.sql, status, minutesAgo === null ? null : minutesAgo * 60, row);

async function ids(db: TestDatabase): Promise<string[]> {
  const rows = await db.sql<{ id: string }[]>`select result_id::text as id from task_runs order by result_id`;
  return rows.map((r) => r.id);
}

const started = (worker: WorkerProcess) => waitFor(async () => worker.logs.some((l) => l.msg === "Starting reproq worker"), { what: "worker start" });
const prunedCounts = (worker: WorkerProcess) => worker.logs.filter((l) => l.msg === "Pruned finished tasks").map((l) => Number(l.count));

describe.each(["reproq", "django"] as const)("worker retention (%s schema)", (flavour) => {
  test("off by default; with it on, two workers prune old finished rows once between them and keep the rest", async () => {
    const db = await createTestDatabase({ flavour, label: `e2e_wretention_${flavour}` });
    databases.push(db);
    if (flavour === "django") await migrate(db.sql);
    const parent = await insertFinished(db, "SUCCESSFUL", 180);
    const old: string[] = [parent];
    for (let i = 0; i < 25; i++) old.push(await insertFinished(db, i % 5 === 0 ? "FAILED" : i % 7 === 0 ? "CANCELLED" : "SUCCESSFUL", 120 + i));
    const keep = [
      await insertFinished(db, "FAILED", 5, { parentId: parent }), // recent child of an old parent
      await insertFinished(db, "SUCCESSFUL", 10), // recent
      await insertFinished(db, "READY", 300, { queue: "elsewhere" }), // retried: active, old finished_at
      await insertFinished(db, "WAITING", 300),
      await insertFinished(db, "SUCCESSFUL", null), // never finished_at: age unknown
    ];
    const everything = await ids(db);
    const args = [...baseWorkerArgs(db.dsn), "--queues", "idle"];

    const plain = startWorker(args);
    await started(plain);
    await Bun.sleep(1_500);
    expect(await stopWorker(plain)).toBe(0);
    expect(await ids(db)).toEqual(everything);
    expect(prunedCounts(plain)).toEqual([]);

    const dir = tempDir({ "retention.yaml": "retention:\n  finished_older_than: 1h\n  interval: 300ms\n  batch_size: 4\n" });
    const fromEnv = startWorker([...args, "--worker-id", "ret-env", "--retention-interval", "300ms", "--retention-batch-size", "3"], { REPROQ_RETENTION_FINISHED_OLDER_THAN: "1h" });
    const fromFile = startWorker([...args, "--worker-id", "ret-file", "--config", join(dir, "retention.yaml")]);
    try {
      await waitFor(async () => (await ids(db)).length === keep.length, { timeoutMs: 30_000, what: "old finished rows pruned" });
      await Bun.sleep(700); // a couple more rounds: nothing more to prune
    } finally {
      expect(await stopWorker(fromEnv)).toBe(0);
      expect(await stopWorker(fromFile)).toBe(0);
    }
    expect(await ids(db)).toEqual(keep.toSorted((a, b) => Number(a) - Number(b)));
    const [child] = await db.sql<{ parent_id: string | null }[]>`select parent_id::text as parent_id from task_runs where result_id = ${keep[0]!}::bigint`;
    expect(child!.parent_id).toBeNull();
    const counts = [...prunedCounts(fromEnv), ...prunedCounts(fromFile)];
    expect(counts.reduce((a, b) => a + b, 0)).toBe(old.length); // each row deleted (and reported) once
    for (const worker of [fromEnv, fromFile]) expect(worker.logs.filter((l) => l.level === "ERROR")).toEqual([]);
  });
});
