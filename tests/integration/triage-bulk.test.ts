// Bulk retry and discard in batches (issue: `triage retry --all` was one statement over every FAILED
// row: quadratic, silent, one giant lock, and it waited forever on a row locked elsewhere).
// Each batch commits on its own and is visible at once; rows locked by another transaction are
// skipped and reported, never waited for; operator-cancelled failures are left out unless asked
// for; "newest copy" means the latest failure; chains and spec conflicts still work across batch
// boundaries; a dry run reports exactly what the real run then does and changes nothing.

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Queryable, Sql } from "../../src/db/client.ts";
import { taskCompleteFailure } from "../../src/queue/complete.ts";
import { BulkLockTimeoutError } from "../../src/queue/batches.ts";
import { discardFailedTasks } from "../../src/queue/triage-discard.ts";
import { retryFailedTasks } from "../../src/queue/triage-retry.ts";
import { seedFailedRows } from "../helpers/failed-seed.ts";
import { insertChain, insertTaskRow, readTask, TASK_SCHEMAS, useTaskDatabase } from "../helpers/tasks.ts";

setDefaultTimeout(60_000);

/** Rejects after `ms` instead of waiting forever (the old retry waited on a locked row). */
function within<T>(ms: number, work: Promise<T>, what: string): Promise<T> {
  let timer: Timer | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still waiting after ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function statuses(sql: Queryable, ids: readonly string[]): Promise<Record<string, number>> {
  const rows = await sql<{ status: string; n: number }[]>`
    select status, count(*)::int as n from task_runs where result_id = any(${ids}::bigint[]) group by status`;
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

async function clearFailed(sql: Queryable): Promise<void> {
  await sql`update task_runs set status = 'CANCELLED' where status = 'FAILED'`;
}

/** Holds a row lock on `ids` in another session until the returned release() is called. */
async function lockRows(sql: Sql, ids: readonly string[]): Promise<() => Promise<void>> {
  const session = await sql.reserve();
  await session`begin`;
  await session`select result_id from task_runs where result_id = any(${ids}::bigint[]) for update`;
  return async () => {
    await session`rollback`;
    session.release();
  };
}

describe.each(TASK_SCHEMAS)("bulk triage (%s schema)", (schema) => {
  const sql = useTaskDatabase(schema);

  test("a FAILED row locked by another transaction does not block retry --all: skipped and reported", async () => {
    await clearFailed(sql());
    const ids = await seedFailedRows(sql(), { count: 20, queue: "q-locked" });
    const release = await lockRows(sql(), [ids[3]!]);
    try {
      const outcome = await within(15_000, retryFailedTasks(sql(), { queue: "q-locked" }), "retry --all");
      expect(outcome.retried.length).toBe(19);
      expect(outcome.locked).toEqual([ids[3]!]);
      // Committed: another session sees the retried rows READY while the lock is still held.
      expect(await statuses(sql(), ids)).toEqual({ READY: 19, FAILED: 1 });
    } finally {
      await release();
    }
    expect((await readTask(sql(), ids[3]!)).status).toBe("FAILED");
  });

  test("each batch commits on its own: earlier batches are READY to other sessions before the run ends", async () => {
    await clearFailed(sql());
    const ids = await seedFailedRows(sql(), { count: 10, queue: "q-batches" });
    const seen: { done: number; total: number; readyElsewhere: number }[] = [];
    const outcome = await retryFailedTasks(sql(), { queue: "q-batches" }, {
      batchSize: 3,
      onProgress: async (progress) => {
        const ready = (await statuses(sql(), ids)).READY ?? 0;
        seen.push({ done: progress.done, total: progress.total, readyElsewhere: ready });
      },
    });
    expect(outcome.retried.length).toBe(10);
    expect(seen).toEqual([
      { done: 0, total: 10, readyElsewhere: 0 },
      { done: 3, total: 10, readyElsewhere: 3 },
      { done: 6, total: 10, readyElsewhere: 6 },
      { done: 9, total: 10, readyElsewhere: 9 },
      { done: 10, total: 10, readyElsewhere: 10 },
    ]);
  });

  test("an aborted run stops after the batch in progress; what it did is committed and reported", async () => {
    await clearFailed(sql());
    const ids = await seedFailedRows(sql(), { count: 9, queue: "q-abort" });
    const controller = new AbortController();
    const outcome = await retryFailedTasks(sql(), { queue: "q-abort" }, {
      batchSize: 4,
      signal: controller.signal,
      onProgress: (progress) => {
        if (progress.done > 0) controller.abort();
      },
    });
    expect(outcome).toMatchObject({ stopped: true, total: 9 });
    expect(outcome.retried.length).toBe(4);
    expect(await statuses(sql(), ids)).toEqual({ READY: 4, FAILED: 5 });
  });

  test("operator-cancelled failures are left out unless asked for; --id retries one anyway", async () => {
    await clearFailed(sql());
    const failed = await seedFailedRows(sql(), { count: 2, queue: "q-cancel" });
    const cancelled = await seedFailedRows(sql(), { count: 3, queue: "q-cancel", kind: "cancelled" });
    const outcome = await retryFailedTasks(sql(), { queue: "q-cancel", excludeCancelled: true });
    expect(outcome.retried).toEqual(failed);
    expect(outcome.cancelledLeft).toBe(3);
    expect(await statuses(sql(), cancelled)).toEqual({ FAILED: 3 });
    expect((await retryFailedTasks(sql(), { resultId: cancelled[0]! })).retried).toEqual([cancelled[0]!]);
    const rest = await retryFailedTasks(sql(), { queue: "q-cancel", excludeCancelled: false });
    expect(rest.retried).toEqual(cancelled.slice(1));
    expect(rest.cancelledLeft).toBe(0);
  });

  test("of two FAILED copies of one spec, the latest failure is retried (not the highest id)", async () => {
    await clearFailed(sql());
    const [older, newer] = await seedFailedRows(sql(), { count: 2, queue: "q-newest" });
    // The lower id failed last (it was retried and failed again after the other copy).
    await sql()`update task_runs set spec_hash = ${"f".repeat(64)}, failed_at = now() - interval '1 minute', finished_at = now() - interval '1 minute' where result_id = ${newer!}::bigint`;
    await sql()`update task_runs set spec_hash = ${"f".repeat(64)} where result_id = ${older!}::bigint`;
    const outcome = await retryFailedTasks(sql(), { queue: "q-newest" });
    expect(outcome.retried).toEqual([older!]);
    expect(outcome.skipped).toEqual([{ resultId: newer!, activeId: older!, parent: null }]);
  });

  test("conflicts and chains across batch boundaries (batches of one row)", async () => {
    await clearFailed(sql());
    const [head, child, grandchild] = await insertChain(sql(), "w1", 3);
    const ok = await taskCompleteFailure(sql(), {
      resultId: head!, workerId: "w1", error: { kind: "app_error", message: "boom" }, disposition: { type: "terminal" }, lastError: "boom", logsUri: null,
    });
    expect(ok).toBe(true);
    await sql()`update task_runs set queue_name = 'q-cross' where result_id = any(${[head!, child!, grandchild!]}::bigint[])`;
    const copies = await seedFailedRows(sql(), { count: 3, queue: "q-cross" });
    await sql()`update task_runs set spec_hash = ${"a".repeat(64)}, failed_at = now() - make_interval(secs => result_id) where result_id = any(${copies}::bigint[])`;
    const active = await insertTaskRow(sql(), { status: "READY" });
    const twin = (await seedFailedRows(sql(), { count: 1, queue: "q-cross" }))[0]!;
    await sql()`update task_runs set spec_hash = ${"b".repeat(64)} where result_id = any(${[active, twin]}::bigint[])`;

    const outcome = await retryFailedTasks(sql(), { queue: "q-cross" }, { batchSize: 1 });
    // copies: failed_at = now() - id seconds, so the lowest id failed last and wins.
    expect(outcome.retried).toEqual([head!, copies[0]!]);
    expect(outcome.restored).toEqual([child!, grandchild!]);
    expect(outcome.skipped).toEqual([
      { resultId: copies[1]!, activeId: copies[0]!, parent: null },
      { resultId: copies[2]!, activeId: copies[0]!, parent: null },
      { resultId: twin, activeId: active, parent: null },
    ]);
    expect((await readTask(sql(), child!)).status).toBe("WAITING");
    expect((await readTask(sql(), grandchild!)).status).toBe("WAITING");
  });

  test("a locked chain step does not block the restore of its siblings", async () => {
    await clearFailed(sql());
    const [head, child] = await insertChain(sql(), "w1", 2);
    const sibling = await insertTaskRow(sql(), { status: "WAITING", waitCount: 1, parentId: head! });
    expect(await taskCompleteFailure(sql(), {
      resultId: head!, workerId: "w1", error: { kind: "app_error", message: "boom" }, disposition: { type: "terminal" }, lastError: "boom", logsUri: null,
    })).toBe(true);
    const release = await lockRows(sql(), [child!]);
    try {
      const outcome = await within(15_000, retryFailedTasks(sql(), { resultId: head! }), "retry of the parent");
      expect(outcome.retried).toEqual([head!]);
      expect(outcome.restored).toEqual([sibling]);
      expect(outcome.locked).toEqual([child!]);
    } finally {
      await release();
    }
  });

  test("a table lock held elsewhere fails the run with a clear error within seconds, never a silent wait", async () => {
    await clearFailed(sql());
    await seedFailedRows(sql(), { count: 3, queue: "q-table-lock" });
    const session = await sql().reserve();
    try {
      await session`begin`;
      await session`lock table task_runs in access exclusive mode`;
      const error = await within(15_000, retryFailedTasks(sql(), { queue: "q-table-lock" }).then(() => null, (e: unknown) => e), "retry under a table lock");
      expect(error).toBeInstanceOf(BulkLockTimeoutError);
      expect((error as BulkLockTimeoutError).code).toBe("conflict");
      expect((error as Error).message).toContain("another transaction held a lock on task_runs for more than 2s");
    } finally {
      await session`rollback`;
      session.release();
    }
  });

  test("dry run: reports exactly what the real run then does, and changes nothing", async () => {
    await clearFailed(sql());
    const [head, child] = await insertChain(sql(), "w1", 2);
    expect(await taskCompleteFailure(sql(), {
      resultId: head!, workerId: "w1", error: { kind: "app_error", message: "boom" }, disposition: { type: "terminal" }, lastError: "boom", logsUri: null,
    })).toBe(true);
    const plain = await seedFailedRows(sql(), { count: 5 });
    await seedFailedRows(sql(), { count: 2, kind: "cancelled" });
    const active = await insertTaskRow(sql(), { status: "RUNNING", leasedBy: "w1", leaseInSeconds: 60 });
    await sql()`update task_runs set spec_hash = ${"c".repeat(64)} where result_id = any(${[active, plain[0]!]}::bigint[])`;
    const before = await sql()<{ line: string }[]>`select t::text as line from task_runs t order by result_id`;

    const dry = await retryFailedTasks(sql(), { excludeCancelled: true }, { dryRun: true, batchSize: 2 });
    const after = await sql()<{ line: string }[]>`select t::text as line from task_runs t order by result_id`;
    expect(after).toEqual(before);
    expect(dry.retried).toEqual([head!, ...plain.slice(1)]);
    expect(dry.restored).toEqual([child!]);
    expect(dry.skipped).toEqual([{ resultId: plain[0]!, activeId: active, parent: null }]);
    expect(dry.cancelledLeft).toBe(2);

    const real = await retryFailedTasks(sql(), { excludeCancelled: true }, { batchSize: 2 });
    expect({ retried: real.retried, restored: real.restored, skipped: real.skipped, cancelledLeft: real.cancelledLeft }).toEqual({
      retried: dry.retried, restored: dry.restored, skipped: dry.skipped, cancelledLeft: dry.cancelledLeft,
    });
  });

  test("discard in batches: a locked row is skipped and reported; dry run changes nothing", async () => {
    await clearFailed(sql());
    const ids = await seedFailedRows(sql(), { count: 7, queue: "q-discard-bulk" });
    const dry = await discardFailedTasks(sql(), { queue: "q-discard-bulk", reason: "obsolete" }, { dryRun: true });
    expect(dry.discarded).toEqual(ids);
    expect(await statuses(sql(), ids)).toEqual({ FAILED: 7 });

    const release = await lockRows(sql(), [ids[0]!]);
    try {
      const seen: number[] = [];
      const outcome = await within(15_000, discardFailedTasks(sql(), { queue: "q-discard-bulk", reason: "obsolete" }, {
        batchSize: 3,
        onProgress: (p) => {
          seen.push(p.done);
        },
      }), "discard --all");
      expect(outcome.discarded).toEqual(ids.slice(1));
      expect(outcome.locked).toEqual([ids[0]!]);
      expect(seen).toEqual([0, 3, 6, 7]);
    } finally {
      await release();
    }
    expect(await statuses(sql(), ids)).toEqual({ CANCELLED: 6, FAILED: 1 });
    expect((await readTask(sql(), ids[1]!)).last_error).toBe("obsolete");
  });
});
