// Round trips of a batch success write, counted on the wire (postgres.js debug hook): a batch
// whose claimed rows belong to no workflow is one statement — the fenced write, with the release
// of any WAITING chain children in the same statement — and no transaction around it. Chain
// children are still released, and a row whose workflow the claim did not report still gets its
// chord accounting.

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import postgres from "postgres";
import type { Sql } from "../../src/db/client.ts";
import { taskCompleteSuccessMany } from "../../src/queue/complete.ts";
import type { TestDatabase } from "../helpers/db.ts";
import { insertChord, insertClaimed, insertTaskRow, readTask, readWorkflowRun } from "../helpers/tasks.ts";
import { openDatabase } from "./claim-fixtures.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const W = "worker-rt";

describe.each(["reproq", "django"] as const)("batch success write round trips (%s schema)", (flavour) => {
  let db: TestDatabase;
  let counted: Sql;
  const statements: string[] = [];
  beforeAll(async () => {
    db = await openDatabase(flavour);
    counted = postgres(db.dsn, {
      max: 1,
      onnotice: () => {},
      debug: (_c, query) => statements.push(query.replace(/\s+/g, " ").trim()),
    }) as unknown as Sql;
    await counted`select 1`; // the first connection also fetches array types
  });
  afterAll(async () => {
    await counted?.end({ timeout: 1 });
    await db?.drop();
  });

  /** The statements `write` sends. */
  async function sent(write: () => Promise<unknown>): Promise<string[]> {
    statements.length = 0;
    await write();
    return [...statements];
  }

  test("a 50-row batch with no workflow rows is one statement: no BEGIN/COMMIT, no separate chain release", async () => {
    const ids = await insertClaimed(db.sql, W, 50);
    const completions = ids.map((resultId) => ({ resultId, workerId: W, returnJson: "1", logsUri: null, workflowId: null }));
    const queries = await sent(() => taskCompleteSuccessMany(counted, completions));
    expect(queries).toHaveLength(1);
    expect(queries[0]).toContain("SUCCESSFUL");
    const [done] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from task_runs where status = 'SUCCESSFUL' and result_id = any(${ids}::bigint[])`;
    expect(done!.n).toBe(50);
  });

  test("a chain child (no workflow row) is released by the same single statement", async () => {
    const [parent] = await insertClaimed(db.sql, W, 1);
    const child = await insertTaskRow(db.sql, { status: "WAITING", waitCount: 1, parentId: parent! });
    const other = await insertTaskRow(db.sql, { status: "WAITING", waitCount: 2, parentId: parent! });
    const queries = await sent(() =>
      taskCompleteSuccessMany(counted, [{ resultId: parent!, workerId: W, returnJson: null, logsUri: null, workflowId: null }]),
    );
    expect(queries).toHaveLength(1);
    expect(await readTask(db.sql, parent!)).toMatchObject({ status: "SUCCESSFUL" });
    expect(await readTask(db.sql, child)).toMatchObject({ status: "READY", wait_count: 0 });
    expect(await readTask(db.sql, other)).toMatchObject({ status: "WAITING", wait_count: 1 });
  });

  test("a fenced row releases nothing", async () => {
    const [parent] = await insertClaimed(db.sql, "someone-else", 1);
    const child = await insertTaskRow(db.sql, { status: "WAITING", waitCount: 1, parentId: parent! });
    const outcome = await taskCompleteSuccessMany(counted, [{ resultId: parent!, workerId: W, returnJson: null, logsUri: null, workflowId: null }]);
    expect(outcome).toEqual({ written: [], fenced: [parent!] });
    expect(await readTask(db.sql, child)).toMatchObject({ status: "WAITING", wait_count: 1 });
  });

  test("chord members reported by the claim: one transaction with the chord accounting", async () => {
    const { workflowId, callback, group } = await insertChord(db.sql, W, 2);
    const completions = group.map((resultId) => ({ resultId, workerId: W, returnJson: null, logsUri: null, workflowId }));
    const queries = await sent(() => taskCompleteSuccessMany(counted, completions));
    expect(queries.map((q) => q.toLowerCase().split(" ")[0])).toEqual(["begin", "with", "with", "commit"]);
    expect(await readWorkflowRun(db.sql, workflowId)).toMatchObject({ status: "WAITING_CALLBACK", success_count: 2 });
    expect(await readTask(db.sql, callback)).toMatchObject({ status: "READY" });
  });

  test("a chord member the claim reported without a workflow is still counted", async () => {
    const { workflowId, callback, group } = await insertChord(db.sql, W, 1);
    await taskCompleteSuccessMany(counted, [{ resultId: group[0]!, workerId: W, returnJson: null, logsUri: null, workflowId: null }]);
    expect(await readWorkflowRun(db.sql, workflowId)).toMatchObject({ status: "WAITING_CALLBACK", success_count: 1 });
    expect(await readTask(db.sql, callback)).toMatchObject({ status: "READY" });
  });
});
