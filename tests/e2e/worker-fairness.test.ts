// `reproq worker --queues qa,qb,qc` with 1,000 older rows in qa and 10 each in qb and qc (issue
// BL-004): queues take turns at every claim, so with one slot the start order is qa,qb,qc,qa,…
// and with four slots refilled one or two at a time qb and qc still get every third start.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { EXECUTORS_DIR } from "../helpers/executors/index.ts";
import { baseWorkerArgs, enqueue, startWorker, stopWorker, waitFor, type WorkerProcess } from "../helpers/worker.ts";

setDefaultTimeout(120_000); // also when run as plain `bun test` (its default is 5 s)

const databases: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

/** A shell executor that consumes the payload, takes ~50 ms and succeeds (cheap on 2 cores). */
const SLEEPY = ["/bin/sh", join(EXECUTORS_DIR, "sleepy.sh")];

/** qa: 1,000 rows enqueued 10 minutes ago; qb, qc: 10 rows each enqueued now. */
async function scenario(label: string): Promise<TestDatabase> {
  const db = await createTestDatabase({ flavour: "reproq", label });
  databases.push(db);
  await enqueue(db.sql, Array.from({ length: 1000 }, () => ({ queue: "qa" })));
  await db.sql`update task_runs set enqueued_at = enqueued_at - interval '10 minutes' where queue_name = 'qa'`;
  await enqueue(db.sql, Array.from({ length: 20 }, (_, i) => ({ queue: i < 10 ? "qb" : "qc" })));
  return db;
}

function fairWorker(db: TestDatabase, concurrency: number) {
  return startWorker([
    ...baseWorkerArgs(db.dsn), "--executor", "command", "--executor-command", SLEEPY.join(","),
    "--queues", "qa,qb,qc", "--concurrency", String(concurrency), "--priority-aging-factor", "60",
  ]);
}

async function startCount(db: TestDatabase): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs where started_at is not null`;
  return row!.n;
}

/** Queue of every started row in start order ("a", "b", "c"); rows of one batch share started_at. */
async function startOrder(db: TestDatabase): Promise<string[]> {
  const rows = await db.sql<{ q: string }[]>`
    select right(queue_name, 1) as q from task_runs where started_at is not null order by started_at, result_id`;
  return rows.map((row) => row.q);
}

const count = (order: readonly string[], queue: string) => order.filter((q) => q === queue).length;

/** Queues in the order the worker started its tasks ("Executing task" lines: claim order, also inside a batch). */
function loggedOrder(worker: WorkerProcess): string[] {
  return worker.logs.filter((line) => line.msg === "Executing task").map((line) => String(line.queue).slice(1));
}

describe("fairness across queues, compiled worker", () => {
  test("-c 1: the start order is qa,qb,qc,qa,qb,qc… although qa's 1,000 rows are older", async () => {
    const db = await scenario("fair_c1");
    const worker = fairWorker(db, 1);
    // Handler starts, not started_at: rows claimed ahead into the local buffer carry started_at
    // too, and shutdown gives them back unstarted (started_at cleared).
    await waitFor(async () => loggedOrder(worker).length >= 36, { timeoutMs: 90_000, intervalMs: 100, what: "36 starts" });
    expect(await stopWorker(worker)).toBe(0);
    const order = await startOrder(db);
    console.log(`-c 1 start order: ${order.slice(0, 36).join("")}`);
    // One slot: every claim is its own transaction, so started_at gives the exact order; qb and
    // qc are empty after 30 starts and qa then has every slot.
    expect(order.slice(0, 36).join("")).toBe(`${"abc".repeat(10)}aaaaaa`);
    expect(loggedOrder(worker).slice(0, 36)).toEqual(order.slice(0, 36));
  });

  test("-c 4: qb and qc take every third start, and a new task in an idle queue waits one turn at most", async () => {
    const db = await scenario("fair_c4");
    const worker = fairWorker(db, 4);
    await waitFor(async () => (await startCount(db)) >= 40, { timeoutMs: 90_000, intervalMs: 100, what: "40 starts" });
    const order = await startOrder(db);
    await waitFor(async () => loggedOrder(worker).length >= 36, { timeoutMs: 10_000, what: "36 'Executing task' lines" });
    const logged = loggedOrder(worker);
    console.log(`-c 4 start order: by started_at ${order.slice(0, 40).join("")}, as logged ${logged.slice(0, 40).join("")}`);
    // Refills of one or two slots carry the turns on: exactly qa,qb,qc,… in claim order.
    expect(logged.slice(0, 36).join("")).toBe(`${"abc".repeat(10)}aaaaaa`);
    // started_at is the claim transaction's start. Rows of one batch (≤ 4) tie on it, and during
    // a backlog a second claim runs alongside the first (produceAhead), so a row of the later
    // claim can carry the earlier time: the last qb/qc start is within 30 + 2 × 4 by started_at.
    expect(count(order.slice(0, 38), "b") + count(order.slice(0, 38), "c")).toBe(20);

    // qb and qc are drained, qa keeps all four slots busy: a new qc task starts within a few starts.
    const [fresh] = await enqueue(db.sql, [{ queue: "qc" }]);
    const enqueuedAt = performance.now();
    await waitFor(async () => {
      const [row] = await db.sql<{ started: boolean }[]>`select started_at is not null as started from task_runs where result_id = ${fresh!}`;
      return row!.started;
    }, { timeoutMs: 30_000, intervalMs: 20, what: "the new qc task to start" });
    const waitedMs = performance.now() - enqueuedAt;
    const [ahead] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from task_runs a, task_runs c
      where c.result_id = ${fresh!} and a.queue_name = 'qa' and a.started_at > c.enqueued_at and a.started_at < c.started_at`;
    expect(await stopWorker(worker)).toBe(0);
    console.log(`-c 4: a new qc task started after ${Math.round(waitedMs)} ms, ${ahead!.n} qa starts ahead of it`);
    // Its turn comes on the next claim or the one after (qa may hold the cursor once).
    expect(ahead!.n).toBeLessThanOrEqual(2);
    expect(waitedMs).toBeLessThan(10_000);
  });
});
