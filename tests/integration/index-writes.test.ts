// Index entries a task writes (migration 0011, docs/database.md "Indexes"): a claim and a completion
// are never HOT updates, so every index whose definition the new row version satisfies gets an
// entry. An unkeyed task outside a workflow must write none into idx_task_runs_lock_key or
// idx_task_runs_workflow_id, the Go worker's duplicate READY index idx_task_runs_claim is gone, and
// Django's own indexes are all still there. Counted from the indexes themselves: VACUUM with index
// cleanup sets each index's reltuples to the entries it holds.

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Sql } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";
import { MIGRATIONS } from "../../src/db/migrations.ts";
import { splitSqlStatements } from "../../src/db/sql-split.ts";
import { taskClaimBatch } from "../../src/queue/claim.ts";
import { taskCompleteSuccessMany } from "../../src/queue/complete.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { claimParams, insertRows, resetTables } from "./claim-fixtures.ts";

setDefaultTimeout(60_000);

const DJANGO_INDEXES = [
  "task_runs_status_26197d_idx",
  "task_runs_queue_n_50e8d6_idx",
  "task_runs_conc_status_idx",
  "task_runs_parent_id_8c1d2e3f",
  "idx_task_runs_task_path",
  "idx_task_runs_claim_due",
];

/** Index name → entries it holds, after VACUUM (INDEX_CLEANUP ON) of task_runs. */
async function indexEntries(sql: Sql): Promise<Record<string, number>> {
  await sql`VACUUM (INDEX_CLEANUP ON) task_runs`;
  const rows = await sql<{ name: string; entries: number }[]>`
    SELECT i.relname::text AS name, i.reltuples::int AS entries
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
    WHERE x.indrelid = 'task_runs'::regclass`;
  return Object.fromEntries(rows.map((r) => [r.name, r.entries]));
}

async function indexNames(sql: Sql): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`
    SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = 'task_runs'::regclass ORDER BY 1`;
  return rows.map((r) => r.name);
}

describe.each(["reproq", "django-migrated", "go"] as const)("task_runs indexes after reproq migrate (%s schema)", (flavour) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ flavour });
    if (flavour === "go") await migrate(db.sql);
  });
  afterAll(() => db?.drop());

  test("the duplicate READY index idx_task_runs_claim is dropped; Django's indexes are kept", async () => {
    const names = await indexNames(db.sql);
    expect(names).not.toContain("idx_task_runs_claim");
    expect(names).toContain("idx_task_runs_ready_order");
    expect(names).toContain("idx_task_runs_claim_due");
    if (flavour === "django-migrated") expect(names).toEqual(expect.arrayContaining(DJANGO_INDEXES));
  });

  test("an unkeyed claim and completion outside a workflow write no lock_key or workflow_id entry", async () => {
    await resetTables(db.sql);
    const ids = await insertRows(db.sql, [
      ...Array.from({ length: 200 }, () => ({})),
      { lockKey: "only-one" }, // a keyed row still gets its entry while RUNNING
    ]);
    await db.sql`UPDATE task_runs SET workflow_id = gen_random_uuid() WHERE result_id = ${ids[0]!}::bigint`;
    const claimed = await taskClaimBatch(db.sql, claimParams({ limit: 500 }));
    expect(claimed).toHaveLength(201);
    const running = await indexEntries(db.sql);
    expect(running.idx_task_runs_lock_key).toBe(1);
    expect(running.idx_task_runs_workflow_id).toBe(1);
    expect(running.idx_task_runs_running_lease).toBe(201);

    const outcome = await taskCompleteSuccessMany(db.sql, claimed.map((t) => ({
      resultId: t.resultId, workerId: "worker-a", attempt: t.attempts, returnJson: null, logsUri: null,
      workflowId: t.workflowId,
    })));
    expect(outcome.written).toHaveLength(201);
    const done = await indexEntries(db.sql);
    expect(done.idx_task_runs_lock_key).toBe(0);
    expect(done.idx_task_runs_workflow_id).toBe(1);
    expect(done.idx_task_runs_finished_at).toBe(201);
  });

  test("the lock probe and a workflow lookup are still served by the narrowed indexes", async () => {
    const plans = await db.sql.begin(async (tx) => {
      await tx`SET LOCAL enable_seqscan = off`; // a tiny table; what matters is that the index can serve it
      const text = (rows: Record<string, unknown>[]) => rows.map((r) => String(Object.values(r)[0])).join("\n");
      return {
        lock: text(await tx`EXPLAIN SELECT 1 FROM task_runs r WHERE r.status = 'RUNNING' AND r.lock_key = 'k'`),
        workflow: text(await tx`EXPLAIN SELECT result_id FROM task_runs WHERE workflow_id = '00000000-0000-0000-0000-000000000001'`),
      };
    });
    expect(plans.lock).toContain("idx_task_runs_lock_key");
    expect(plans.workflow).toContain("idx_task_runs_workflow_id");
  });

  test("0011 run again (a run cut off before it was recorded) ends with the same definitions", async () => {
    const definitions = async () => (await db.sql<{ def: string }[]>`
      SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = 'task_runs'::regclass ORDER BY 1`).map((r) => r.def);
    const before = await definitions();
    expect(before).toContain("CREATE INDEX idx_task_runs_lock_key ON public.task_runs USING btree (lock_key) WHERE ((status = 'RUNNING'::text) AND (lock_key IS NOT NULL))");
    expect(before).toContain("CREATE INDEX idx_task_runs_workflow_id ON public.task_runs USING btree (workflow_id) WHERE (workflow_id IS NOT NULL)");
    const file = MIGRATIONS.find((m) => m.version === "0011")!;
    for (const statement of splitSqlStatements(file.text)) await db.sql.unsafe(statement);
    expect(await definitions()).toEqual(before);
  });
});
