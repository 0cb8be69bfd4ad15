// taskReleaseUnseenClaims: rows a worker holds without knowing it (a claim that committed but whose
// answer was lost) go back to READY as if never claimed; rows it runs, and other workers' rows,
// are left alone.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { taskClaimBatch, taskReleaseUnseenClaims } from "../../src/queue/index.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { enqueue } from "../helpers/worker.ts";

setDefaultTimeout(60_000);

const databases: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

interface Row {
  result_id: string;
  status: string;
  attempts: number;
  worker_ids: string[];
  leased_by: string | null;
}

test("gives back the worker's unseen RUNNING rows (attempt and worker_ids entry too), keeps the rest", async () => {
  const db = await createTestDatabase({ flavour: "reproq", label: "unseen_claims" });
  databases.push(db);
  await enqueue(db.sql, Array.from({ length: 5 }, () => ({})));
  const claim = (workerId: string, limit: number) =>
    taskClaimBatch(db.sql, { workerId, queues: ["default"], limit, leaseSeconds: 300, priorityAgingFactor: 60 });
  const mine = (await claim("w1", 3)).map((t) => t.resultId);
  const theirs = (await claim("w2", 1)).map((t) => t.resultId);
  expect(mine.length).toBe(3);
  // A row claimed twice before (attempt 2 now): its earlier attempt is not given back.
  await db.sql`update task_runs set attempts = 2, worker_ids = '["w0", "w1"]'::jsonb where result_id = ${mine[2]!}::bigint`;

  const released = await taskReleaseUnseenClaims(db.sql, { workerId: "w1", knownIds: [mine[0]!] });
  expect(released.sort()).toEqual([mine[1]!, mine[2]!].sort());

  const rows = await db.sql<Row[]>`select result_id::text, status, attempts, worker_ids, leased_by from task_runs order by result_id`;
  const byId = new Map(rows.map((r) => [r.result_id, r]));
  expect(byId.get(mine[0]!)).toMatchObject({ status: "RUNNING", attempts: 1, worker_ids: ["w1"], leased_by: "w1" });
  expect(byId.get(mine[1]!)).toMatchObject({ status: "READY", attempts: 0, worker_ids: [], leased_by: null });
  expect(byId.get(mine[2]!)).toMatchObject({ status: "READY", attempts: 1, worker_ids: ["w0"], leased_by: null });
  expect(byId.get(theirs[0]!)).toMatchObject({ status: "RUNNING", leased_by: "w2" });
  // Claimable again at once.
  expect((await claim("w3", 5)).length).toBe(3);
  // Nothing left to give back: idempotent.
  expect(await taskReleaseUnseenClaims(db.sql, { workerId: "w1", knownIds: [mine[0]!] })).toEqual([]);
});
