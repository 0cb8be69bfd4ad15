// taskClaimBatch / taskNextRunAfter against real PostgreSQL, on both schema flavours: the columns a
// claim writes, due times, pauses, ordering (priority, aging, FIFO, result_id), batch size,
// exhausted rows and fairness across queues. Keys and rate limits: claim-limits.test.ts.

import { afterAll, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { taskClaimBatch, taskNextRunAfter } from "../../src/queue/claim.ts";
import type { TestDatabase } from "../helpers/db.ts";
import { claimParams, FLAVOURS, insertRows, openDatabase, resetTables, setPaused } from "./claim-fixtures.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

describe.each(FLAVOURS)("claim (%s schema)", (flavour) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openDatabase(flavour);
  });
  afterAll(() => db?.drop());
  beforeEach(() => resetTables(db.sql));

  test("a claim writes every claim column and returns the row", async () => {
    const [id] = await insertRows(db.sql, [{ taskPath: "app.tasks.send", priority: 3, maxAttempts: 5 }]);
    const claimed = await taskClaimBatch(db.sql, claimParams({ workerId: "w-1", leaseSeconds: 120 }));
    expect(claimed).toHaveLength(1);
    const task = claimed[0]!;
    const [row] = await db.sql<Record<string, unknown>[]>`
      SELECT status, attempts, leased_by, worker_ids, spec_json::text AS spec_text, rtrim(spec_hash) AS hash,
             abs(EXTRACT(EPOCH FROM leased_until - (NOW() + interval '120 seconds'))) AS lease_skew,
             started_at IS NOT NULL AND started_at = last_attempted_at AS started,
             updated_at > NOW() - interval '10 seconds' AS touched
      FROM task_runs WHERE result_id = ${id!}`;
    expect(row).toMatchObject({ status: "RUNNING", attempts: 1, leased_by: "w-1", worker_ids: ["w-1"], started: true, touched: true });
    expect(Number(row!.lease_skew)).toBeLessThan(5);
    expect(task).toMatchObject({
      resultId: id, queueName: "default", priority: 3, taskPath: "app.tasks.send", attempts: 1,
      maxAttempts: 5, timeoutSeconds: 900, lockKey: null, concurrencyKey: null, concurrencyLimit: 0,
      workflowId: null, parentId: null, specText: row!.spec_text, specHash: row!.hash,
    });
    expect(task.enqueuedAt).toBeInstanceOf(Date);
    expect(task.leasedUntil).toBeInstanceOf(Date);
    expect(await taskClaimBatch(db.sql, claimParams())).toEqual([]);
  });

  test("a second claim keeps started_at, counts the attempt and appends the worker", async () => {
    const [id] = await insertRows(db.sql, [{}]);
    await taskClaimBatch(db.sql, claimParams({ workerId: "w-1" }));
    await db.sql`UPDATE task_runs SET status = 'READY', started_at = started_at - interval '1 hour' WHERE result_id = ${id!}`;
    const [again] = await taskClaimBatch(db.sql, claimParams({ workerId: "w-2" }));
    expect(again!.attempts).toBe(2);
    const [row] = await db.sql<{ worker_ids: string[]; kept: boolean }[]>`
      SELECT worker_ids, started_at < last_attempted_at - interval '59 minutes' AS kept FROM task_runs WHERE result_id = ${id!}`;
    expect(row).toEqual({ worker_ids: ["w-1", "w-2"], kept: true });
  });

  test("spec_hash comes back trimmed", async () => {
    await insertRows(db.sql, [{ specHash: "abc123" }]);
    const [task] = await taskClaimBatch(db.sql, claimParams());
    expect(task!.specHash).toBe("abc123");
  });

  test("run_after in the future is not claimed; past and NULL are", async () => {
    const [future, past, none] = await insertRows(db.sql, [{ runAfterSeconds: 3600 }, { runAfterSeconds: -5 }, {}]);
    const claimed = await taskClaimBatch(db.sql, claimParams());
    expect(claimed.map((t) => t.resultId).sort()).toEqual([past!, none!].sort());
    const [row] = await db.sql<{ status: string }[]>`SELECT status FROM task_runs WHERE result_id = ${future!}`;
    expect(row!.status).toBe("READY");
  });

  test("a paused queue is untouched until resumed; other queues still run", async () => {
    const [paused, other] = await insertRows(db.sql, [{ queue: "mail" }, { queue: "default" }]);
    await setPaused(db.sql, "mail", true);
    const first = await taskClaimBatch(db.sql, claimParams({ queues: ["mail", "default"] }));
    expect(first.map((t) => t.resultId)).toEqual([other!]);
    expect(await taskClaimBatch(db.sql, claimParams({ queues: ["mail"] }))).toEqual([]);
    await setPaused(db.sql, "mail", false);
    const resumed = await taskClaimBatch(db.sql, claimParams({ queues: ["mail"] }));
    expect(resumed.map((t) => t.resultId)).toEqual([paused!]);
  });

  test("higher priority first; aging off: priority 10 new beats priority 0 waiting 120 s", async () => {
    const [fresh, old] = await insertRows(db.sql, [{ priority: 10 }, { priority: 0, ageSeconds: 120 }]);
    const order = await claimOneByOne(db, { priorityAgingFactor: 0 });
    expect(order).toEqual([fresh!, old!]);
  });

  test("aging on (factor 10): the row waiting 120 s (0 + 12) beats priority 10", async () => {
    const [fresh, old] = await insertRows(db.sql, [{ priority: 10 }, { priority: 0, ageSeconds: 120 }]);
    const order = await claimOneByOne(db, { priorityAgingFactor: 10 });
    expect(order).toEqual([old!, fresh!]);
    // And in one batch the returned order is the same ranking.
    await resetTables(db.sql);
    const [f2, o2] = await insertRows(db.sql, [{ priority: 10 }, { priority: 0, ageSeconds: 120 }]);
    const batch = await taskClaimBatch(db.sql, claimParams({ priorityAgingFactor: 10 }));
    expect(batch.map((t) => t.resultId)).toEqual([o2!, f2!]);
  });

  test("aging respects the level order when the age is not enough", async () => {
    const ids = await insertRows(db.sql, [{ priority: 0, ageSeconds: 50 }, { priority: 10 }, { priority: 5, ageSeconds: 20 }]);
    // effective: 0 + 5 = 5, 10, 5 + 2 = 7
    const batch = await taskClaimBatch(db.sql, claimParams({ priorityAgingFactor: 10 }));
    expect(batch.map((t) => t.resultId)).toEqual([ids[1]!, ids[2]!, ids[0]!]);
  });

  test("FIFO within a priority, then result_id on equal enqueued_at", async () => {
    const at = new Date(Date.now() - 60_000);
    const ids = await insertRows(db.sql, [
      { ageSeconds: 10 }, { ageSeconds: 30 }, { enqueuedAt: at }, { enqueuedAt: at }, { ageSeconds: 20 },
    ]);
    const batch = await taskClaimBatch(db.sql, claimParams({ priorityAgingFactor: 60 }));
    expect(batch.map((t) => t.resultId)).toEqual([ids[2]!, ids[3]!, ids[1]!, ids[4]!, ids[0]!]);
  });

  test("a batch takes at most `limit` rows, best first", async () => {
    const ids = await insertRows(db.sql, Array.from({ length: 10 }, (_, i) => ({ ageSeconds: 100 - i })));
    const sizes: number[] = [];
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const batch = await taskClaimBatch(db.sql, claimParams({ limit: 4 }));
      sizes.push(batch.length);
      seen.push(...batch.map((t) => t.resultId));
    }
    expect(sizes).toEqual([4, 4, 2, 0]);
    expect(seen).toEqual(ids);
  });

  test("a READY row whose attempts reached max_attempts is still claimed once more", async () => {
    const [id] = await insertRows(db.sql, [{ attempts: 3, maxAttempts: 3 }]);
    const [task] = await taskClaimBatch(db.sql, claimParams());
    expect(task).toMatchObject({ resultId: id, attempts: 4, maxAttempts: 3 });
  });

  test("fairness: a busy queue does not starve a small one, even at higher priority", async () => {
    await insertRows(db.sql, Array.from({ length: 1000 }, (_, i) => ({ queue: "bulk", priority: 5, ageSeconds: 1000 - i })));
    const small = await insertRows(db.sql, Array.from({ length: 5 }, () => ({ queue: "mail", priority: 0 })));
    const batch = await taskClaimBatch(db.sql, claimParams({ queues: ["bulk", "mail"], limit: 10, priorityAgingFactor: 60 }));
    expect(batch).toHaveLength(10);
    expect(batch.filter((t) => t.queueName === "mail").map((t) => t.resultId).sort()).toEqual([...small].sort());
    // With one queue only, the busy queue gets the whole batch.
    const bulkOnly = await taskClaimBatch(db.sql, claimParams({ queues: ["bulk"], limit: 10 }));
    expect(bulkOnly).toHaveLength(10);
  });

  test("only the worker's queues are claimed; empty queue list or limit 0 claim nothing", async () => {
    await insertRows(db.sql, [{ queue: "other" }]);
    expect(await taskClaimBatch(db.sql, claimParams({ queues: ["default"] }))).toEqual([]);
    expect(await taskClaimBatch(db.sql, claimParams({ queues: [] }))).toEqual([]);
    expect(await taskClaimBatch(db.sql, claimParams({ queues: ["other"], limit: 0 }))).toEqual([]);
    expect(await taskClaimBatch(db.sql, claimParams({ queues: ["other", "other"] }))).toHaveLength(1);
  });

  test("taskNextRunAfter: earliest future run_after of the worker's unpaused queues, else null", async () => {
    expect(await taskNextRunAfter(db.sql, { queues: ["default"] })).toBeNull();
    await insertRows(db.sql, [
      { runAfterSeconds: 120 }, { runAfterSeconds: 30 }, { runAfterSeconds: -10 }, {},
      { queue: "other", runAfterSeconds: 5 }, { queue: "paused", runAfterSeconds: 1 },
    ]);
    await setPaused(db.sql, "paused", true);
    const next = await taskNextRunAfter(db.sql, { queues: ["default", "paused"] });
    const [expected] = await db.sql<{ at: Date }[]>`
      SELECT run_after AS at FROM task_runs WHERE queue_name = 'default' AND run_after > NOW() ORDER BY run_after LIMIT 1`;
    expect(next?.getTime()).toBe(expected!.at.getTime());
    expect(Math.abs(next!.getTime() - Date.now() - 30_000)).toBeLessThan(10_000);
    expect((await taskNextRunAfter(db.sql, { queues: ["other", "default"] }))!.getTime()).toBeLessThan(next!.getTime());
    expect(await taskNextRunAfter(db.sql, { queues: [] })).toBeNull();
  });

  test("taskNextRunAfter sinceMs: a row due within that window is returned (a claim just missed it); rows due before are not", async () => {
    await insertRows(db.sql, [{ runAfterSeconds: -0.2 }, { runAfterSeconds: -30 }]);
    expect(await taskNextRunAfter(db.sql, { queues: ["default"] })).toBeNull();
    const [recent] = await db.sql<{ at: Date }[]>`SELECT run_after AS at FROM task_runs WHERE run_after > NOW() - interval '10 seconds'`;
    expect((await taskNextRunAfter(db.sql, { queues: ["default"], sinceMs: 5_000 }))?.getTime()).toBe(recent!.at.getTime());
    expect(await taskNextRunAfter(db.sql, { queues: ["default"], sinceMs: 50 })).toBeNull();
  });
});

/** Claims with limit 1 until nothing is left; returns the result_ids in claim order. */
async function claimOneByOne(db: TestDatabase, overrides: { priorityAgingFactor: number }): Promise<string[]> {
  const order: string[] = [];
  for (;;) {
    const batch = await taskClaimBatch(db.sql, claimParams({ limit: 1, ...overrides }));
    if (batch.length === 0) return order;
    order.push(batch[0]!.resultId);
  }
}
