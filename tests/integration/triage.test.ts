// Triage on both schemas: list/inspect/retry as Go scenario 64, retry restoring the chain
// descendants a failure took down (dependency_failed), retry skipping rows whose spec is already
// active (single id and --all), discard and summary.

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Queryable, Sql } from "../../src/db/client.ts";
import { taskCompleteFailure } from "../../src/queue/complete.ts";
import { taskListFailed, taskReadDetail, taskSummarizeFailures } from "../../src/queue/triage.ts";
import { discardFailedTasks } from "../../src/queue/triage-discard.ts";
import { retryFailedTasks } from "../../src/queue/triage-retry.ts";
import type { FailureCompletion } from "../../src/queue/types.ts";
import { insertChain, insertClaimed, insertTaskRow, isRecent, readTask, TASK_SCHEMAS, useTaskDatabase } from "../helpers/tasks.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const W = "worker-a";
const terminal = (resultId: string, message = "boom", exceptionClass = "ValueError"): FailureCompletion => ({
  resultId,
  workerId: W,
  error: { kind: "app_error", message, exception_class: exceptionClass, traceback: "Traceback (most recent call last):\n  File \"x.py\"\nValueError: boom" },
  disposition: { type: "terminal" },
  lastError: `${exceptionClass}: ${message}`,
  logsUri: "/var/log/reproq/1.log",
});

async function failedTask(sql: Sql, options: { queue?: string; message?: string; exceptionClass?: string } = {}): Promise<string> {
  const [id] = await insertClaimed(sql, W, 1, { maxAttempts: 1, ...(options.queue ? { queue: options.queue } : {}) });
  expect(await taskCompleteFailure(sql, terminal(id!, options.message, options.exceptionClass))).toBe(true);
  return id!;
}

async function setHash(sql: Queryable, resultId: string, hash: string): Promise<void> {
  await sql`update task_runs set spec_hash = ${hash} where result_id = ${resultId}::bigint`;
}

const NOTHING_ELSE = { locked: [], cancelledLeft: 0, stopped: false };

async function discard(sql: Sql, filter: { resultId?: string; queue?: string }, reason: string): Promise<string[]> {
  return (await discardFailedTasks(sql, { ...filter, reason })).discarded;
}

async function clearFailed(sql: Queryable): Promise<void> {
  await sql`update task_runs set status = 'CANCELLED' where status = 'FAILED'`;
}

describe.each(TASK_SCHEMAS)("triage (%s schema)", (schema) => {
  const sql = useTaskDatabase(schema);

  test("Go scenario 64: list, inspect, then retry a terminally failed task", async () => {
    await clearFailed(sql());
    const id = await failedTask(sql(), { queue: "triage64" });
    const listed = await taskListFailed(sql(), { limit: 50, queue: "triage64" });
    expect(listed.map((r) => r.result_id)).toEqual([id]);
    expect(listed[0]).toMatchObject({ last_error: "ValueError: boom", task_path: "tasks.example.run", attempts: 1, max_attempts: 1 });
    expect(listed[0]!.failed_at).toBeInstanceOf(Date);

    const detail = await taskReadDetail(sql(), { resultId: id });
    expect(detail?.spec_json).toMatchObject({ task_path: "tasks.example.run" });
    expect(detail?.errors_json).toEqual([expect.objectContaining({ kind: "app_error", traceback: expect.stringContaining("Traceback") })]);
    expect(detail?.logs_uri).toBe("/var/log/reproq/1.log");
    expect(detail?.spec_hash).toHaveLength(64);

    const outcome = await retryFailedTasks(sql(), { resultId: id });
    expect(outcome).toEqual({ retried: [id], skipped: [], restored: [], total: 1, ...NOTHING_ELSE });
    const row = await readTask(sql(), id);
    expect(row).toMatchObject({ status: "READY", attempts: 0, last_error: null, failed_age: null, finished_age: null, has_lease: false, cancel_requested: false, logs_uri: "/var/log/reproq/1.log" });
    expect(row.errors.length).toBe(1); // errors_json kept
    expect(row.run_after_in).not.toBeNull();
    expect(Math.abs(row.run_after_in!)).toBeLessThan(30);
    // A second retry finds nothing FAILED.
    expect(await retryFailedTasks(sql(), { resultId: id })).toEqual({ retried: [], skipped: [], restored: [], total: 0, ...NOTHING_ELSE });
  });

  test("list: filters by queue and task path, newest failure first, honours the limit", async () => {
    await clearFailed(sql());
    const a = await failedTask(sql(), { queue: "q-list" });
    const b = await failedTask(sql(), { queue: "q-list" });
    await failedTask(sql(), { queue: "q-other" });
    await sql()`update task_runs set failed_at = failed_at - interval '1 hour' where result_id = ${a}::bigint`;
    expect((await taskListFailed(sql(), { limit: 50, queue: "q-list" })).map((r) => r.result_id)).toEqual([b, a]);
    expect((await taskListFailed(sql(), { limit: 1, queue: "q-list" })).map((r) => r.result_id)).toEqual([b]);
    expect(await taskListFailed(sql(), { limit: 50, taskPath: "tasks.nope" })).toEqual([]);
    expect((await taskListFailed(sql(), { limit: 50, taskPath: "tasks.example.run" })).length).toBe(3);
  });

  test("retry restores the WAITING chain descendants the failure took down (recursively)", async () => {
    const [head, child, grandchild] = await insertChain(sql(), W, 3);
    expect(await taskCompleteFailure(sql(), terminal(head!))).toBe(true);
    for (const id of [child!, grandchild!]) {
      expect(await readTask(sql(), id)).toMatchObject({ status: "FAILED", wait_count: 1 });
    }
    const outcome = await retryFailedTasks(sql(), { resultId: head! });
    expect(outcome.retried).toEqual([head!]);
    expect(outcome.restored).toEqual([child!, grandchild!]);
    for (const id of [child!, grandchild!]) {
      const row = await readTask(sql(), id);
      expect(row).toMatchObject({ status: "WAITING", wait_count: 1, last_error: null, finished_age: null, failed_age: null });
      expect(row.errors.at(-1)).toMatchObject({ kind: "dependency_failed" }); // history kept
      expect(isRecent(row.updated_age)).toBe(true);
    }
    expect((await readTask(sql(), head!)).status).toBe("READY");
  });

  test("retry --all of a failed chain: the head becomes READY, its dependency_failed steps WAITING (never READY)", async () => {
    await clearFailed(sql());
    const [head, child, grandchild] = await insertChain(sql(), W, 3);
    await sql()`update task_runs set queue_name = 'q-chain' where result_id = any(${[head!, child!, grandchild!]}::bigint[])`;
    expect(await taskCompleteFailure(sql(), terminal(head!))).toBe(true);
    const outcome = await retryFailedTasks(sql(), { queue: "q-chain" });
    expect(outcome).toEqual({ retried: [head!], skipped: [], restored: [child!, grandchild!], total: 1, ...NOTHING_ELSE });
    expect((await readTask(sql(), child!)).status).toBe("WAITING");
    expect((await readTask(sql(), grandchild!)).status).toBe("WAITING");
  });

  test("retry --id of a dependency_failed step whose parent is still FAILED is refused (names the parent)", async () => {
    const [head, child] = await insertChain(sql(), W, 2);
    expect(await taskCompleteFailure(sql(), terminal(head!))).toBe(true);
    const outcome = await retryFailedTasks(sql(), { resultId: child! });
    expect(outcome).toEqual({ retried: [], skipped: [{ resultId: child!, activeId: null, parent: { resultId: head!, status: "FAILED" } }], restored: [], total: 0, ...NOTHING_ELSE });
    expect((await readTask(sql(), child!)).status).toBe("FAILED");
    // Retrying the parent in another queue filter (--all limited to the child's queue) leaves the
    // child for the parent's retry; once the parent is discarded, the child can be retried alone.
    await discard(sql(), { resultId: head! }, "manual");
    expect((await retryFailedTasks(sql(), { resultId: child! })).retried).toEqual([child!]);
    expect((await readTask(sql(), child!)).status).toBe("READY");
  });

  test("retry does not restore a descendant that failed on its own", async () => {
    const [head] = await insertClaimed(sql(), W, 1, { maxAttempts: 1 });
    const child = await insertTaskRow(sql(), { status: "RUNNING", parentId: head!, leasedBy: W, leaseInSeconds: 300, maxAttempts: 1 });
    expect(await taskCompleteFailure(sql(), terminal(child))).toBe(true);
    expect(await taskCompleteFailure(sql(), terminal(head!))).toBe(true);
    const outcome = await retryFailedTasks(sql(), { resultId: head! });
    expect(outcome.restored).toEqual([]);
    expect((await readTask(sql(), child)).status).toBe("FAILED");
  });

  test("retry --id of a row whose spec is already active is skipped with the active id", async () => {
    const failed = await failedTask(sql());
    const active = await insertTaskRow(sql(), { status: "READY" });
    const hash = "c".repeat(40); // shorter than 64: CHAR(64) pads it, comparisons must still match
    await setHash(sql(), active, hash);
    await setHash(sql(), failed, hash);
    const outcome = await retryFailedTasks(sql(), { resultId: failed });
    expect(outcome).toEqual({ retried: [], skipped: [{ resultId: failed, activeId: active, parent: null }], restored: [], total: 0, ...NOTHING_ELSE });
    expect((await readTask(sql(), failed)).status).toBe("FAILED");
  });

  test("retry --all retries the rest past conflicts (active twin, and two FAILED copies of one spec)", async () => {
    await clearFailed(sql());
    const plain = [await failedTask(sql(), { queue: "q-all" }), await failedTask(sql(), { queue: "q-all" })];
    const conflicting = await failedTask(sql(), { queue: "q-all" });
    const active = await insertTaskRow(sql(), { status: "RUNNING", leasedBy: W, leaseInSeconds: 60 });
    await setHash(sql(), active, "d".repeat(64));
    await setHash(sql(), conflicting, "d".repeat(64));
    const olderCopy = await failedTask(sql(), { queue: "q-all" });
    const newerCopy = await failedTask(sql(), { queue: "q-all" });
    await setHash(sql(), olderCopy, "e".repeat(64));
    await setHash(sql(), newerCopy, "e".repeat(64));
    const elsewhere = await failedTask(sql(), { queue: "q-elsewhere" });

    const outcome = await retryFailedTasks(sql(), { queue: "q-all" });
    expect(outcome.retried).toEqual([...plain, newerCopy]);
    expect(outcome.skipped).toEqual([
      { resultId: conflicting, activeId: active, parent: null },
      { resultId: olderCopy, activeId: newerCopy, parent: null },
    ]);
    expect((await readTask(sql(), elsewhere)).status).toBe("FAILED");
    expect((await readTask(sql(), conflicting)).status).toBe("FAILED");
    expect((await readTask(sql(), olderCopy)).status).toBe("FAILED");

    const everything = await retryFailedTasks(sql(), {});
    expect(everything.retried).toEqual([elsewhere]);
    expect(everything.skipped.map((s) => s.resultId)).toEqual([conflicting, olderCopy]);
  });

  test("discard: FAILED → CANCELLED with the reason; finished_at kept; other statuses untouched", async () => {
    const id = await failedTask(sql(), { queue: "q-discard" });
    const [before] = await sql()<{ finished_at: Date }[]>`select finished_at from task_runs where result_id = ${id}::bigint`;
    const ready = await insertTaskRow(sql(), { queue: "q-discard" });
    expect(await discard(sql(), { queue: "q-discard" }, "obsolete")).toEqual([id]);
    const row = await readTask(sql(), id);
    expect(row).toMatchObject({ status: "CANCELLED", last_error: "obsolete" });
    const [after] = await sql()<{ finished_at: Date }[]>`select finished_at from task_runs where result_id = ${id}::bigint`;
    expect(after!.finished_at.getTime()).toBe(before!.finished_at.getTime());
    expect((await readTask(sql(), ready)).status).toBe("READY");
    expect(await discard(sql(), { resultId: id }, "again")).toEqual([]);
  });

  test("summary groups by task path and the last error's exception class", async () => {
    await clearFailed(sql());
    await failedTask(sql(), { exceptionClass: "ValueError" });
    await failedTask(sql(), { exceptionClass: "ValueError" });
    await failedTask(sql(), { exceptionClass: "KeyError" });
    const rows = await taskSummarizeFailures(sql());
    expect(rows.map((r) => [r.task_path, r.exception_class, r.count])).toEqual([
      ["tasks.example.run", "ValueError", 2],
      ["tasks.example.run", "KeyError", 1],
    ]);
    expect(rows[0]!.first_seen!.getTime()).toBeLessThanOrEqual(rows[0]!.last_seen!.getTime());
  });
});
