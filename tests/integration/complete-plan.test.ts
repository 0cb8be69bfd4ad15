// Batch completion stays linear in the batch size whatever plan Postgres picks. postgres.js
// prepares its statements, and after five executions Postgres may switch a prepared statement to
// its generic plan, where unnest() of a parameter array is estimated blind: a plan that joins the
// id list to itself with a join filter then removes batch² rows. So the success write of a
// 250-row batch, and the chord accounting of a 250-member batch, are EXPLAIN ANALYZEd under
// force_custom_plan and force_generic_plan (PREPARE + EXPLAIN EXECUTE, rolled back), and no join
// may remove more rows than the batch has.

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import postgres from "postgres";
import type { Sql } from "../../src/db/client.ts";
import { taskCompleteSuccessMany } from "../../src/queue/complete.ts";
import type { PlanNode } from "../helpers/explain.ts";
import { openDatabase } from "./claim-fixtures.ts";
import type { TestDatabase } from "../helpers/db.ts";

setDefaultTimeout(120_000); // also when run as plain `bun test` (its default is 5 s)

const W = "worker-plan";
const BATCH = 250;

interface JoinNode extends PlanNode {
  "Rows Removed by Join Filter"?: number;
  "Join Filter"?: string;
}

function* walk(node: JoinNode): Generator<JoinNode> {
  yield node;
  for (const child of node.Plans ?? []) yield* walk(child as JoinNode);
}

class Rollback extends Error {}

describe.each(["reproq", "django"] as const)("batch completion plan (%s schema)", (flavour) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openDatabase(flavour);
  });
  afterAll(() => db?.drop());

  /**
   * `count` RUNNING rows leased to W among `finished` SUCCESSFUL ones; with `chord`, the RUNNING
   * rows are the members of one chord whose callback waits for all of them. Returns the RUNNING ids.
   */
  async function seed(count: number, finished: number, chord = false): Promise<string[]> {
    await db.sql`truncate task_runs, workflow_runs cascade`;
    const workflowId = chord ? crypto.randomUUID() : null;
    const rows = await db.sql<{ result_id: string; status: string }[]>`
      insert into task_runs (
        backend_alias, queue_name, priority, spec_json, spec_hash, task_path, status, enqueued_at,
        attempts, max_attempts, timeout_seconds, concurrency_limit, wait_count, worker_ids, errors_json,
        metadata_json, leased_by, leased_until, created_at, updated_at, cancel_requested, finished_at, workflow_id
      )
      select 'default', 'default', 0, jsonb_build_object('task_path', 'tasks.x', 'args', jsonb_build_array(i)),
             md5(i::text || clock_timestamp()::text), 'tasks.x',
             case when i <= ${count} then 'RUNNING' when i = ${count + 1} and ${chord} then 'WAITING' else 'SUCCESSFUL' end,
             now(), 1, 3, 900, 0, case when i = ${count + 1} and ${chord} then ${count} else 0 end,
             '[]'::jsonb, '[]'::jsonb, '{}'::jsonb,
             case when i <= ${count} then ${W} end,
             case when i <= ${count} then now() + interval '5 minutes' end, now(), now(), false,
             case when i > ${count} and not (i = ${count + 1} and ${chord}) then now() end,
             case when i <= ${count + 1} then ${workflowId}::uuid end
      from generate_series(1, ${count + finished}) as i
      order by i
      returning result_id, status`;
    if (workflowId !== null) {
      const callback = rows.find((r) => r.status === "WAITING")!.result_id;
      await db.sql`
        insert into workflow_runs (workflow_id, expected_count, success_count, failure_count, callback_result_id, status, created_at, updated_at)
        values (${workflowId}::uuid, ${count}, 0, 0, ${callback}::bigint, 'RUNNING', now(), now())`;
    }
    await db.sql`analyze task_runs`;
    return rows.filter((r) => r.status === "RUNNING").map((r) => r.result_id);
  }

  /** Captures the statement containing `marker` of a real batch write of `ids`, then undoes the write. */
  async function capture(ids: readonly string[], marker: string): Promise<{ query: string; parameters: unknown[] }> {
    let captured: { query: string; parameters: unknown[] } | undefined;
    const pool = postgres(db.dsn, {
      max: 1,
      onnotice: () => {},
      debug: (_c, query, parameters) => {
        if (query.includes(marker) && parameters.length > 0) captured ??= { query, parameters: [...parameters] };
      },
    }) as unknown as Sql;
    try {
      const completions = ids.map((resultId) => ({ resultId, workerId: W, returnJson: '{"ok": true}', logsUri: null }));
      const outcome = await taskCompleteSuccessMany(pool, completions);
      expect(outcome.written).toHaveLength(ids.length);
      await db.sql`update task_runs set status = 'RUNNING', leased_by = ${W}, leased_until = now() + interval '5 minutes',
                     finished_at = null where result_id = any(${ids as string[]}::bigint[])`;
      await db.sql`update task_runs set status = 'WAITING', wait_count = ${ids.length}
                   where result_id in (select callback_result_id from workflow_runs)`;
      await db.sql`update workflow_runs set success_count = 0, status = 'RUNNING'`;
    } finally {
      await pool.end({ timeout: 1 });
    }
    expect(captured).toBeDefined();
    return captured!;
  }

  let prepared = 0;
  /** EXPLAIN ANALYZE of the captured statement as a prepared statement under `mode` (rolled back). */
  async function explainPrepared(statement: { query: string; parameters: unknown[] }, mode: string): Promise<JoinNode> {
    let plan: JoinNode | undefined;
    const name = `batch_write_${++prepared}`;
    await db.sql
      .begin(async (tx) => {
        await tx.unsafe(`set local plan_cache_mode = ${mode}`);
        await tx.unsafe(`prepare ${name} as ${statement.query}`).simple();
        const [types] = await tx<{ types: string[] }[]>`
          select parameter_types::text[] as types from pg_prepared_statements where name = ${name}`;
        // EXECUTE takes no protocol parameters: pass each value as a literal the server spells.
        const args: string[] = [];
        for (const [i, type] of types!.types.entries()) {
          const [lit] = await tx.unsafe(`select quote_literal($1::${type}::text) || '::${type}' as arg`, [statement.parameters[i]] as never[]);
          args.push(lit!.arg as string);
        }
        const [row] = await tx.unsafe(`explain (analyze, format json) execute ${name}(${args.join(", ")})`);
        plan = (row!["QUERY PLAN"] as { Plan: JoinNode }[])[0]!.Plan;
        await tx.unsafe(`deallocate ${name}`);
        throw new Rollback();
      })
      .catch((err) => {
        if (!(err instanceof Rollback)) throw err;
      });
    return plan!;
  }

  /** Rows removed by join filters over the whole plan, all loops counted. */
  function joinFilterRemoved(plan: JoinNode): number {
    return [...walk(plan)].reduce((sum, n) => sum + (n["Rows Removed by Join Filter"] ?? 0) * (n["Actual Loops"] ?? 1), 0);
  }

  for (const mode of ["force_custom_plan", "force_generic_plan"]) {
    test(`the success write of a ${BATCH}-row batch removes at most ${BATCH} rows by join filter (${mode})`, async () => {
      const ids = await seed(BATCH, 20_000);
      const plan = await explainPrepared(await capture(ids, "SUCCESSFUL"), mode);
      expect(joinFilterRemoved(plan)).toBeLessThanOrEqual(BATCH);
      // The chain-release part probes its children by index, whatever the plan.
      expect([...walk(plan)].filter((n) => n["Node Type"] === "Seq Scan" && n["Relation Name"] === "task_runs")).toEqual([]);
      expect(plan["Actual Rows"]).toBe(BATCH); // the EXPLAINed statement wrote every row of the batch
      const [running] = await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs where status = 'RUNNING'`;
      expect(running!.n).toBe(BATCH); // and was rolled back
    });

    test(`the chord accounting of a ${BATCH}-member batch removes at most ${BATCH} rows by join filter (${mode})`, async () => {
      const ids = await seed(BATCH, 20_000, true);
      const plan = await explainPrepared(await capture(ids, "workflow_runs"), mode);
      expect(joinFilterRemoved(plan)).toBeLessThanOrEqual(BATCH);
      expect(plan["Actual Rows"]).toBe(1); // the callback was released
    });
  }
});
