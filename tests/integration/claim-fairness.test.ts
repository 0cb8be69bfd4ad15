// Round-robin across queues at every claim, whatever the number of free slots (issue BL-004): the
// worker passes its queues rotated, and at equal rank inside their queues the earlier queue in
// that order goes first — not the queue whose head row is older or of higher priority. Priority
// and aging still order the rows inside each queue; keyed rows follow the same order.

import { afterAll, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { taskClaimBatch } from "../../src/queue/claim.ts";
import type { ClaimedTask } from "../../src/queue/types.ts";
import { QueueRotation } from "../../src/worker/rotation.ts";
import type { TestDatabase } from "../helpers/db.ts";
import { claimParams, finishRows, FLAVOURS, insertRows, openDatabase, resetTables } from "./claim-fixtures.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const QUEUES = ["qa", "qb", "qc"];

/** 1,000 rows in qa waiting 1000–1 s (aging makes them the "best" rows), then 10 fresh ones each in qb and qc. */
async function busyQueues(db: TestDatabase): Promise<void> {
  await insertRows(db.sql, Array.from({ length: 1000 }, (_, i) => ({ queue: "qa", ageSeconds: 1000 - i })));
  await insertRows(db.sql, Array.from({ length: 20 }, (_, i) => ({ queue: i < 10 ? "qb" : "qc" })));
}

const queuesOf = (batch: readonly ClaimedTask[]) => batch.map((t) => t.queueName);

describe.each(FLAVOURS)("claim fairness (%s schema)", (flavour) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openDatabase(flavour);
  });
  afterAll(() => db?.drop());
  beforeEach(() => resetTables(db.sql));

  const claim = (queues: string[], limit: number) =>
    taskClaimBatch(db.sql, claimParams({ queues, limit, priorityAgingFactor: 60 }));

  test("1 free slot: the first listed queue with a ready row wins, although qa's rows are far older", async () => {
    await busyQueues(db);
    expect(queuesOf(await claim(["qb", "qc", "qa"], 1))).toEqual(["qb"]);
    expect(queuesOf(await claim(["qc", "qa", "qb"], 1))).toEqual(["qc"]);
    expect(queuesOf(await claim(["qa", "qb", "qc"], 1))).toEqual(["qa"]);
  });

  test("2 free slots: the first two listed queues, one row each", async () => {
    await busyQueues(db);
    expect(queuesOf(await claim(["qb", "qc", "qa"], 2))).toEqual(["qb", "qc"]);
    expect(queuesOf(await claim(["qc", "qa", "qb"], 2))).toEqual(["qc", "qa"]);
  });

  test("a batch larger than the queue list goes round the list in the given order", async () => {
    await busyQueues(db);
    expect(queuesOf(await claim(["qc", "qa", "qb"], 7))).toEqual(["qc", "qa", "qb", "qc", "qa", "qb", "qc"]);
  });

  test("an empty or paused-out queue is passed over: the next listed queue takes the slot", async () => {
    await busyQueues(db);
    expect(queuesOf(await claim(["qx", "qc", "qa"], 1))).toEqual(["qc"]);
  });

  /** The worker's loop: claim `limit` rows in the rotation's order, then advance the rotation. */
  async function claimInTurn(rotation: QueueRotation, limits: readonly number[]): Promise<string> {
    let order = "";
    for (const limit of limits) {
      const batch = await claim(rotation.order(), limit);
      rotation.advancePast(batch.at(-1)?.queueName);
      order += batch.map((t) => t.queueName.slice(1)).join("");
    }
    return order;
  }

  test("worker rotation, 1 free slot per claim: qa,qb,qc,qa,… until qb and qc are empty", async () => {
    await busyQueues(db);
    expect(await claimInTurn(new QueueRotation(QUEUES), Array(36).fill(1))).toBe(`${"abc".repeat(10)}aaaaaa`);
  });

  test("worker rotation, refills of 2 and 1 slots: the turns carry on across claims", async () => {
    await busyQueues(db);
    const limits = Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? 1 : 2)); // 1,2,2,1,2,2,…
    const order = await claimInTurn(new QueueRotation(QUEUES), limits);
    expect(order.slice(0, 30)).toBe("abc".repeat(10));
    expect(order.slice(30)).toMatch(/^a+$/);
  });

  test("worker rotation: a queue that gets new work waits one turn at most", async () => {
    await insertRows(db.sql, Array.from({ length: 100 }, (_, i) => ({ queue: "qa", ageSeconds: 1000 - i })));
    const rotation = new QueueRotation(QUEUES);
    expect(await claimInTurn(rotation, [1, 1, 1])).toBe("aaa");
    const [fresh] = await insertRows(db.sql, [{ queue: "qc" }]);
    const [next] = await claim(rotation.order(), 1);
    expect(next!.resultId).toBe(fresh!);
  });

  test("priority and aging still order the rows inside a queue", async () => {
    // qb: a priority-5 row, an old priority-0 row (0 + 600/60 = 10 beats 5), a fresh priority-0 row.
    const [high, old, fresh] = await insertRows(db.sql, [
      { queue: "qb", priority: 5 }, { queue: "qb", priority: 0, ageSeconds: 600 }, { queue: "qb", priority: 0 },
    ]);
    await insertRows(db.sql, Array.from({ length: 5 }, () => ({ queue: "qa", priority: 9, ageSeconds: 900 })));
    const order: string[] = [];
    for (const queues of [["qb", "qa"], ["qb", "qa"], ["qb", "qa"]]) order.push(...(await claim(queues, 1)).map((t) => t.resultId));
    expect(order).toEqual([old!, high!, fresh!]);
  });

  test("keyed rows take their turn in the same order; a held lock_key passes the turn on", async () => {
    await busyQueues(db);
    const [keyed, blocked] = await insertRows(db.sql, [
      { queue: "qb", lockKey: "k", ageSeconds: 5 }, { queue: "qc", lockKey: "k", ageSeconds: 5 },
    ]);
    const [first] = await claim(["qb", "qa", "qc"], 1);
    expect(first!.resultId).toBe(keyed!);
    // "k" is RUNNING now, so qc's keyed head is skipped and qc's next row takes qc's turn.
    const [second] = await claim(["qc", "qa"], 1);
    expect(second!.queueName).toBe("qc");
    expect(second!.resultId).not.toBe(blocked!);
    await finishRows(db.sql, [keyed!]);
    const [third] = await claim(["qc", "qa"], 1);
    expect(third!.resultId).toBe(blocked!);
  });
});
