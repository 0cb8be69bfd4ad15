// Pruning (src/queue/prune.ts) on both schemas, including Go scenario 67 and a chain parent
// whose child survives (Django's FK has no ON DELETE action: the child must be detached first).
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Queryable } from "../../src/db/client.ts";
import { taskPruneExpired, taskPruneExpiredCount } from "../../src/queue/prune.ts";
import { TASK_SCHEMAS, insertTaskRow, useTaskDatabase, type TaskRowOptions } from "../helpers/tasks.ts";

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
