// Pruning (src/queue/prune.ts) on both schemas, including Go scenario 67 and a chain parent
// whose child survives (Django's FK has no ON DELETE action: the child must be detached first),
// and retention by age and status (batched, one pruner at a time).
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Queryable } from "../../src/db/client.ts";
import {
  pruneCutoffRead,
  pruneFinishedTasks,
  pruneLockAcquire,
  taskPruneExpired,
  taskPruneExpiredCount,
  taskPruneFinished,
  taskPruneFinishedCount,
} from "../../src/queue/prune.ts";
import { workflowRecordSuccessMany } from "../../src/queue/workflows.ts";
import { TASK_SCHEMAS, insertFinishedRow, insertTaskRow, insertWorkflowRun, readWorkflowRun, useTaskDatabase, type TaskRowOptions } from "../helpers/tasks.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

async function insertExpiring(sql: Queryable, expiresInSeconds: number | null, row: TaskRowOptions = {}): Promise<string> {
  const id = await insertTaskRow(sql, row);
  await sql`update task_runs set expires_at = ${expiresInSeconds === null ? null : sql`now() + make_interval(secs => ${expiresInSeconds}::float8)`}
            where result_id = ${id}::bigint`;
  return id;
}

async function existing(sql: Queryable): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`select result_id::text as id from task_runs order by result_id`;
  return rows.map((row) => row.id);
}

describe.each(TASK_SCHEMAS)("prune expired (%s schema)", (schema) => {
  const sql = useTaskDatabase(schema);
  const reset = () => sql()`delete from task_runs`;

  test("Go scenario 67: dry run counts 2, real run deletes 2, future and RUNNING rows remain", async () => {
    await reset();
    const expiredReady = await insertExpiring(sql(), -60, { status: "READY" });
    const expiredDone = await insertExpiring(sql(), -60, { status: "SUCCESSFUL" });
    const future = await insertExpiring(sql(), 3600, { status: "READY" });
    const running = await insertExpiring(sql(), -60, { status: "RUNNING" });
    const never = await insertExpiring(sql(), null, { status: "FAILED" });

    expect(await taskPruneExpiredCount(sql(), { limit: 0 })).toBe(2);
    expect(await existing(sql())).toHaveLength(5);
    expect(await taskPruneExpired(sql(), { limit: 0 })).toEqual({ pruned: 2, detached: 0 });
    const left = await existing(sql());
    expect(left).toEqual([future, running, never]);
    expect(left).not.toContain(expiredReady);
    expect(left).not.toContain(expiredDone);
    expect(await taskPruneExpired(sql(), { limit: 0 })).toEqual({ pruned: 0, detached: 0 });
  });

  test("WAITING rows are pruned too; the limit takes the oldest expiry first; negative = no limit", async () => {
    await reset();
    const oldest = await insertExpiring(sql(), -300, { status: "WAITING" });
    const middle = await insertExpiring(sql(), -200, { status: "FAILED" });
    const newest = await insertExpiring(sql(), -100, { status: "CANCELLED" });
    expect(await taskPruneExpiredCount(sql(), { limit: 2 })).toBe(2);
    expect(await taskPruneExpiredCount(sql(), { limit: -5 })).toBe(3);
    expect((await taskPruneExpired(sql(), { limit: 2 })).pruned).toBe(2);
    expect(await existing(sql())).toEqual([newest]);
    expect([oldest, middle]).not.toContain(newest);
    expect((await taskPruneExpired(sql(), { limit: -1 })).pruned).toBe(1);
    expect(await existing(sql())).toEqual([]);
  });

  test("a pruned parent's surviving child is detached (parent_id NULL) and the commit succeeds", async () => {
    await reset();
    const parent = await insertExpiring(sql(), -60, { status: "SUCCESSFUL" });
    const child = await insertExpiring(sql(), null, { status: "WAITING", parentId: parent, waitCount: 1 });
    const grandparent = await insertExpiring(sql(), -120, { status: "SUCCESSFUL" });
    const expiredChild = await insertExpiring(sql(), -30, { status: "CANCELLED", parentId: grandparent });
    await sql()`update task_runs set updated_at = now() - interval '1 hour' where result_id = ${child}::bigint`;

    expect(await taskPruneExpired(sql(), { limit: 0 })).toEqual({ pruned: 3, detached: 1 });
    const [row] = await sql()<{ parent_id: string | null; status: string; wait_count: number; updated_age: number }[]>`
      select parent_id, status, wait_count, extract(epoch from now() - updated_at)::float8 as updated_age
      from task_runs where result_id = ${child}::bigint`;
    expect(row).toMatchObject({ parent_id: null, status: "WAITING", wait_count: 1 });
    expect(row!.updated_age).toBeLessThan(30);
    expect(await existing(sql())).toEqual([child]);
    expect(expiredChild).not.toBe(child);
  });

  test("a parent whose child is cut off by the limit is still detached correctly", async () => {
    await reset();
    const parent = await insertExpiring(sql(), -100, { status: "SUCCESSFUL" });
    const child = await insertExpiring(sql(), -10, { status: "FAILED", parentId: parent });
    expect(await taskPruneExpired(sql(), { limit: 1 })).toEqual({ pruned: 1, detached: 1 });
    expect(await existing(sql())).toEqual([child]);
    expect(await taskPruneExpired(sql(), { limit: 1 })).toEqual({ pruned: 1, detached: 0 });
  });
});

describe("prune expired (django schema FK)", () => {
  const sql = useTaskDatabase("django");

  test("a plain DELETE of a referenced parent fails at commit there (why prune detaches children)", async () => {
    const parent = await insertExpiring(sql(), -60, { status: "SUCCESSFUL" });
    await insertExpiring(sql(), null, { status: "WAITING", parentId: parent, waitCount: 1 });
    const plainDelete = sql().begin((tx) => tx`delete from task_runs where result_id = ${parent}::bigint`);
    await expect(plainDelete).rejects.toThrow(/foreign key/);
    expect(await taskPruneExpired(sql(), { limit: 0 })).toEqual({ pruned: 1, detached: 1 });
  });
});

// Retention (`reproq prune --finished-older-than`, the worker's retention service): age/status
// based, batched, one pruner at a time, never an active row, never an FK failure.
const insertFinished = insertFinishedRow;

const DAY = 86_400;
const ALL_FINISHED = ["SUCCESSFUL", "FAILED", "CANCELLED"];

describe.each(TASK_SCHEMAS)("prune finished tasks by age (%s schema)", (schema) => {
  const sql = useTaskDatabase(schema);
  const reset = () => sql()`delete from task_runs`;
  const cutoff = (days: number) => pruneCutoffRead(sql(), { olderThanMs: days * DAY * 1000 });

  test("only SUCCESSFUL/FAILED/CANCELLED rows finished before the cutoff go; active rows with an old finished_at stay", async () => {
    await reset();
    const oldSuccess = await insertFinished(sql(), "SUCCESSFUL", 20 * DAY);
    const oldFailed = await insertFinished(sql(), "FAILED", 15 * DAY);
    const oldCancelled = await insertFinished(sql(), "CANCELLED", 30 * DAY);
    const recentSuccess = await insertFinished(sql(), "SUCCESSFUL", 13 * DAY);
    // A retried row keeps the finished_at of its failed run: READY/RUNNING/WAITING are never pruned.
    const keep = [
      recentSuccess,
      await insertFinished(sql(), "READY", 40 * DAY),
      await insertFinished(sql(), "RUNNING", 40 * DAY),
      await insertFinished(sql(), "WAITING", 40 * DAY),
      await insertFinished(sql(), "FAILED", null), // no finished_at: age unknown, kept
    ];
    const before = await cutoff(14);
    expect(await taskPruneFinishedCount(sql(), { cutoff: before, statuses: ALL_FINISHED, limit: 0 })).toBe(3);
    expect(await taskPruneFinishedCount(sql(), { cutoff: before, statuses: ALL_FINISHED, limit: 2 })).toBe(2);
    expect(await taskPruneFinishedCount(sql(), { cutoff: before, statuses: ["SUCCESSFUL"], limit: 0 })).toBe(1);

    const onlySuccess = await pruneFinishedTasks(sql(), { cutoff: before, statuses: ["SUCCESSFUL"], batchSize: 100, limit: 0, wait: true });
    expect(onlySuccess).toMatchObject({ pruned: 1, detached: 0, batches: 1, busy: false });
    expect(await existing(sql())).not.toContain(oldSuccess);
    expect(await existing(sql())).toContain(oldFailed);

    const rest = await pruneFinishedTasks(sql(), { cutoff: before, statuses: ALL_FINISHED, batchSize: 100, limit: 0, wait: true });
    expect(rest).toMatchObject({ pruned: 2, busy: false });
    expect(await existing(sql())).toEqual(keep.toSorted((a, b) => Number(a) - Number(b)));
    expect([oldFailed, oldCancelled].some((id) => keep.includes(id))).toBe(false);
  });

  test("statuses outside SUCCESSFUL/FAILED/CANCELLED are refused, not pruned", async () => {
    await reset();
    await insertFinished(sql(), "READY", 40 * DAY);
    const before = await cutoff(1);
    await expect(pruneFinishedTasks(sql(), { cutoff: before, statuses: ["READY"], batchSize: 10, limit: 0, wait: true })).rejects.toThrow(/never pruned/);
    await expect(taskPruneFinished(sql(), { cutoff: before, statuses: ["READY", "RUNNING", "WAITING"], limit: 10, from: null })).resolves.toMatchObject({ pruned: 0 });
    expect(await existing(sql())).toHaveLength(1);
  });

  test("batches of batchSize rows, each committed; limit caps the total; a stopped run keeps what it committed", async () => {
    await reset();
    for (let i = 0; i < 7; i++) await insertFinished(sql(), "SUCCESSFUL", (20 + i) * DAY);
    const before = await cutoff(14);
    const seen: number[] = [];
    const limited = await pruneFinishedTasks(sql(), { cutoff: before, statuses: ALL_FINISHED, batchSize: 2, limit: 5, wait: true, onBatch: (p) => void seen.push(p.pruned) });
    expect(limited).toMatchObject({ pruned: 5, batches: 3 });
    expect(seen).toEqual([2, 4, 5]);
    expect(await existing(sql())).toHaveLength(2);

    for (let i = 0; i < 6; i++) await insertFinished(sql(), "FAILED", (20 + i) * DAY);
    const stop = new AbortController();
    const stopped = await pruneFinishedTasks(sql(), {
      cutoff: before, statuses: ALL_FINISHED, batchSize: 3, limit: 0, wait: true, signal: stop.signal,
      onBatch: () => stop.abort(), // stop after the first batch
    });
    expect(stopped).toMatchObject({ pruned: 3, batches: 1 });
    expect(await existing(sql())).toHaveLength(5); // the first batch stayed deleted (committed)
    // Oldest first: the 3 oldest rows went.
    const [oldest] = await sql()<{ days: number }[]>`select max(extract(epoch from now() - finished_at) / 86400)::float8 as days from task_runs`;
    expect(oldest!.days).toBeLessThan(27);
  });

  test("a pruned parent's surviving child is detached, in the same batch as its parent it is deleted", async () => {
    await reset();
    const parent = await insertFinished(sql(), "FAILED", 20 * DAY);
    const child = await insertFinished(sql(), "FAILED", DAY, { parentId: parent }); // dependency_failed, recent
    const waitingChild = await insertFinished(sql(), "WAITING", null, { parentId: parent, waitCount: 1 });
    const oldParent = await insertFinished(sql(), "SUCCESSFUL", 30 * DAY);
    const oldChild = await insertFinished(sql(), "SUCCESSFUL", 29 * DAY, { parentId: oldParent });
    const result = await pruneFinishedTasks(sql(), { cutoff: await cutoff(14), statuses: ALL_FINISHED, batchSize: 1000, limit: 0, wait: true });
    expect(result).toMatchObject({ pruned: 3, detached: 2 });
    const rows = await sql()<{ id: string; parent_id: string | null }[]>`select result_id::text as id, parent_id::text as parent_id from task_runs order by result_id`;
    expect([...rows]).toEqual([{ id: child, parent_id: null }, { id: waitingChild, parent_id: null }]);
    expect([oldParent, oldChild]).not.toContain(child);
  });

  test("workflow rows survive their pruned members: the last member's success still releases the callback", async () => {
    await reset();
    const callback = await insertTaskRow(sql(), { status: "WAITING", waitCount: 1 });
    const workflowId = await insertWorkflowRun(sql(), { expected: 2, callbackResultId: callback });
    await sql()`update task_runs set workflow_id = ${workflowId}::uuid where result_id = ${callback}::bigint`;
    const doneMember = await insertFinished(sql(), "SUCCESSFUL", 20 * DAY, { workflowId });
    await workflowRecordSuccessMany(sql(), { done: [{ resultId: doneMember, workflowId }] });
    const lastMember = await insertTaskRow(sql(), { status: "RUNNING", workflowId });
    // A finished chord whose callback (and members) are all old: its workflow row is left alone.
    const oldCallback = await insertFinished(sql(), "SUCCESSFUL", 25 * DAY);
    const finishedWorkflow = await insertWorkflowRun(sql(), { expected: 1, callbackResultId: oldCallback, status: "SUCCESSFUL" });

    expect((await pruneFinishedTasks(sql(), { cutoff: await cutoff(14), statuses: ALL_FINISHED, batchSize: 1000, limit: 0, wait: true })).pruned).toBe(2);
    expect(await existing(sql())).toEqual([callback, lastMember]);
    expect(await readWorkflowRun(sql(), finishedWorkflow)).toMatchObject({ status: "SUCCESSFUL" });

    await sql()`update task_runs set status = 'SUCCESSFUL', finished_at = now() where result_id = ${lastMember}::bigint`;
    expect(await workflowRecordSuccessMany(sql(), { done: [{ resultId: lastMember, workflowId }] })).toEqual([callback]);
    expect(await readWorkflowRun(sql(), workflowId)).toMatchObject({ status: "WAITING_CALLBACK", success_count: 2 });
  });

  test("one pruner at a time: while another holds the prune lock, a try-lock run prunes nothing (busy); a waiting run goes after", async () => {
    await reset();
    for (let i = 0; i < 4; i++) await insertFinished(sql(), "CANCELLED", 20 * DAY);
    const before = await cutoff(14);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const lockTaken = new Promise<void>((resolve) => (locked = resolve));
    const holder = sql().begin(async (tx) => {
      expect(await pruneLockAcquire(tx, { wait: false })).toBe(true);
      locked();
      await held;
    });
    await lockTaken;
    const busy = await pruneFinishedTasks(sql(), { cutoff: before, statuses: ALL_FINISHED, batchSize: 2, limit: 0, wait: false });
    expect(busy).toMatchObject({ pruned: 0, batches: 0, busy: true });
    expect(await existing(sql())).toHaveLength(4);

    const waiting = pruneFinishedTasks(sql(), { cutoff: before, statuses: ALL_FINISHED, batchSize: 2, limit: 0, wait: true });
    await Bun.sleep(200);
    expect(await existing(sql())).toHaveLength(4); // still waiting for the lock
    release();
    await holder;
    expect(await waiting).toMatchObject({ pruned: 4, busy: false });
  });

  test("concurrent pruners (expired and finished) never deadlock on crossing parent/child rows", async () => {
    await reset();
    // Parents in one pruner's set, children in the other's, crossing: the lock serialises them.
    for (let i = 0; i < 20; i++) {
      const parentA = await insertFinished(sql(), "SUCCESSFUL", 20 * DAY);
      const parentB = await insertExpiring(sql(), -60, { status: "SUCCESSFUL" });
      await insertExpiring(sql(), -60, { status: "SUCCESSFUL", parentId: parentA });
      const childB = await insertFinished(sql(), "SUCCESSFUL", 20 * DAY, { parentId: parentB });
      expect(childB).not.toBe(parentB);
    }
    const before = await cutoff(14);
    const results = await Promise.all([
      pruneFinishedTasks(sql(), { cutoff: before, statuses: ALL_FINISHED, batchSize: 3, limit: 0, wait: true }),
      taskPruneExpired(sql(), { limit: 0 }),
      pruneFinishedTasks(sql(), { cutoff: before, statuses: ALL_FINISHED, batchSize: 5, limit: 0, wait: true }),
    ]);
    expect(results[0].pruned + results[1].pruned + results[2].pruned).toBe(80);
    expect(await existing(sql())).toEqual([]);
  });
});
