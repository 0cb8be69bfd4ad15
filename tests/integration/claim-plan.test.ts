// The claim is index-served (SPEC §4.2): EXPLAIN (ANALYZE, FORMAT JSON) of the pick statement over
// 50,000 READY rows with aging on shows no Seq Scan on task_runs, no sort over more than a few
// hundred rows, the per-level scan on idx_task_runs_ready_order, and about as many task_runs rows
// read as with a 5,000-row backlog; future run_after rows cost one read each; taskNextRunAfter reads
// one index entry per queue. The claim statements are planned once per connection (a generic plan,
// reused), and that generic plan is as index-served as the custom one, with no quadratic join.

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import postgres from "postgres";
import { taskClaimBatch, taskNextRunAfter } from "../../src/queue/claim.ts";
import type { ClaimParams } from "../../src/queue/types.ts";
import type { TestDatabase } from "../helpers/db.ts";
import { FLAVOURS, insertRows, openDatabase, resetTables, type RowSpec } from "./claim-fixtures.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Actual Rows": number;
  "Actual Loops": number;
  "Rows Removed by Filter"?: number;
  "Rows Removed by Join Filter"?: number;
  Plans?: PlanNode[];
}

const PARAMS: ClaimParams = { workerId: "w", queues: ["bulk", "mail"], limit: 32, leaseSeconds: 60, priorityAgingFactor: 60 };

function* walk(node: PlanNode): Generator<PlanNode> {
  yield node;
  for (const child of node.Plans ?? []) yield* walk(child);
}

/** `count` READY rows in two queues, five priority levels, enqueued over the last hour. */
function backlog(count: number): RowSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    queue: i % 4 === 0 ? "mail" : "bulk",
    priority: (i * 7) % 5,
    ageSeconds: 3600 - (3600 * i) / count,
  }));
}

describe.each(FLAVOURS)("claim plan (%s schema)", (flavour) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openDatabase(flavour);
  });
  afterAll(() => db?.drop());

  /**
   * Runs `run` to capture the statement containing `marker`, then EXPLAIN ANALYZEs it (rolled back).
   * `generic`: of the statement's generic plan (the one a prepared statement reuses under
   * force_generic_plan), PREPAREd with its parameters' types inferred and EXECUTEd with the
   * captured values as literals; otherwise of the custom plan for the captured values.
   */
  async function explainStatement(marker: string, run: (sql: postgres.Sql) => Promise<void>, generic = false): Promise<PlanNode> {
    let captured: { query: string; parameters: unknown[] } | undefined;
    const capture = postgres(db.dsn, {
      max: 1,
      onnotice: () => {},
      debug: (_conn, query, parameters) => {
        if (query.includes(marker) && parameters.length > 0) captured = { query, parameters };
      },
    });
    const literal = (value: unknown): string => {
      if (value === null) return "NULL";
      const text = Array.isArray(value) ? `{${value.map((v) => JSON.stringify(String(v))).join(",")}}` : String(value);
      return `'${text.replaceAll("'", "''")}'`;
    };
    try {
      await run(capture);
      expect(captured).toBeDefined();
      let plan: PlanNode | undefined;
      await capture.begin(async (tx) => {
        await tx`SET LOCAL jit = off`; // as the claim transaction does
        let rows: postgres.Row[];
        if (generic) {
          await tx`SET LOCAL plan_cache_mode = force_generic_plan`;
          await tx.unsafe(`PREPARE generic_probe AS ${captured!.query}`);
          rows = await tx.unsafe(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE generic_probe(${captured!.parameters.map(literal).join(", ")})`);
        } else {
          rows = await tx.unsafe(`EXPLAIN (ANALYZE, FORMAT JSON) ${captured!.query}`, captured!.parameters as never[]);
        }
        plan = (rows[0]!["QUERY PLAN"] as { Plan: PlanNode }[])[0]!.Plan;
        throw new Rollback();
      }).catch((err) => {
        if (!(err instanceof Rollback)) throw err;
      });
      return plan!;
    } finally {
      await capture.end({ timeout: 1 });
    }
  }

  /** EXPLAIN ANALYZE of the pick statement of a real 32-row claim. */
  const explainPick = () =>
    explainStatement("WITH RECURSIVE", async (sql) => {
      expect(await taskClaimBatch(sql, PARAMS)).toHaveLength(32);
    });

  /** task_runs rows produced or filtered out by all scans of the plan. */
  function taskRowsRead(plan: PlanNode): number {
    let rows = 0;
    for (const node of walk(plan)) {
      if (node["Relation Name"] !== "task_runs") continue;
      rows += (node["Actual Rows"] + (node["Rows Removed by Filter"] ?? 0)) * node["Actual Loops"];
    }
    return rows;
  }

  test("50,000 READY rows, aging on: index-served, small sorts, reads do not grow with the backlog", async () => {
    await resetTables(db.sql);
    await insertRows(db.sql, backlog(5_000));
    await db.sql`ANALYZE task_runs`;
    const small = await explainPick();

    await resetTables(db.sql);
    await insertRows(db.sql, backlog(50_000));
    await db.sql`ANALYZE task_runs`;
    const large = await explainPick();

    const nodes = [...walk(large)];
    const seqScans = nodes.filter((n) => n["Node Type"] === "Seq Scan" && n["Relation Name"] === "task_runs");
    expect(seqScans).toEqual([]);
    const sortSizes = nodes.filter((n) => n["Node Type"].includes("Sort")).map((n) => n["Actual Rows"] * n["Actual Loops"]);
    expect(sortSizes.length).toBeGreaterThan(0);
    expect(Math.max(...sortSizes)).toBeLessThanOrEqual(400); // 2 queues × 5 levels × 32 candidates at most
    const levelScans = nodes.filter((n) => n["Node Type"] === "Index Scan" && n["Index Name"] === "idx_task_runs_ready_order");
    expect(levelScans.length).toBeGreaterThan(0);

    const readLarge = taskRowsRead(large);
    const readSmall = taskRowsRead(small);
    expect(readLarge).toBeLessThan(1_000);
    expect(readLarge).toBeLessThanOrEqual(readSmall * 1.2 + 50);
  }, 120_000);

  test("future run_after rows at the head of a level are stepped over, one row read each", async () => {
    await resetTables(db.sql);
    await insertRows(db.sql, backlog(50_000));
    await db.sql`ANALYZE task_runs`;
    const before = taskRowsRead(await explainPick());
    // 100 retries waiting for their backoff, the oldest rows of the top level of "bulk".
    await insertRows(db.sql, Array.from({ length: 100 }, () => ({ queue: "bulk", priority: 4, ageSeconds: 7200, runAfterSeconds: 600 })));
    const after = taskRowsRead(await explainPick());
    expect(after).toBeLessThanOrEqual(before + 100 + 50);
  }, 120_000);

  test("the claim statements are planned once per connection: the generic plan is reused, never a custom one", async () => {
    await resetTables(db.sql);
    await insertRows(db.sql, [
      ...backlog(5_000),
      ...Array.from({ length: 200 }, (_, i) => ({ queue: "mail", priority: 4, ageSeconds: 7200, lockKey: `k${i}` })),
    ]);
    await db.sql`ANALYZE task_runs`;
    const sql = postgres(db.dsn, { max: 1, prepare: true, onnotice: () => {} });
    try {
      const claims = 8;
      for (let i = 0; i < claims; i++) expect((await taskClaimBatch(sql, PARAMS)).length).toBeGreaterThan(0);
      const statements = await sql<{ statement: string; generic: number; custom: number }[]>`
        SELECT statement, generic_plans::int AS generic, custom_plans::int AS custom FROM pg_prepared_statements
        WHERE statement LIKE '%UPDATE task_runs t SET%'`;
      // postgres.js prepares one statement per parameter-type signature, so the keyed claim may appear twice.
      const pick = statements.filter((s) => s.statement.includes("WITH RECURSIVE"));
      const keyed = statements.filter((s) => !s.statement.includes("WITH RECURSIVE"));
      expect(pick.map((s) => ({ generic: s.generic, custom: s.custom }))).toEqual([{ generic: claims, custom: 0 }]);
      expect(keyed.length).toBeGreaterThan(0);
      for (const s of keyed) expect({ generic: s.generic > 0, custom: s.custom }).toEqual({ generic: true, custom: 0 });
    } finally {
      await sql.end({ timeout: 1 });
    }
  }, 120_000);

  test("50,000 READY rows, aging on: the pick's generic plan is index-served and reads what the custom plan reads", async () => {
    await resetTables(db.sql);
    await insertRows(db.sql, backlog(50_000));
    await db.sql`ANALYZE task_runs`;
    const custom = await explainPick();
    const generic = await explainStatement("WITH RECURSIVE", async (sql) => {
      expect(await taskClaimBatch(sql, PARAMS)).toHaveLength(32);
    }, true);
    const nodes = [...walk(generic)];
    expect(nodes.filter((n) => n["Node Type"] === "Seq Scan" && n["Relation Name"] === "task_runs")).toEqual([]);
    expect(nodes.some((n) => n["Node Type"] === "Index Scan" && n["Index Name"] === "idx_task_runs_ready_order")).toBe(true);
    expect(taskRowsRead(generic)).toBeLessThanOrEqual(taskRowsRead(custom) * 1.2 + 50);
  }, 120_000);

  test("a 200-row claim's generic plan does not compare every claimed row with every chosen row (no quadratic join)", async () => {
    await resetTables(db.sql);
    await insertRows(db.sql, backlog(5_000));
    await db.sql`ANALYZE task_runs`;
    const generic = await explainStatement("WITH RECURSIVE", async (sql) => {
      expect(await taskClaimBatch(sql, { ...PARAMS, limit: 200 })).toHaveLength(200);
    }, true);
    const removedByJoins = [...walk(generic)].reduce((sum, n) => sum + (n["Rows Removed by Join Filter"] ?? 0) * n["Actual Loops"], 0);
    // The join of chosen with claimed (both rated at one row) removed 199 × 200 = 39,800 here.
    expect(removedByJoins).toBeLessThan(200);
  }, 120_000);

  test("taskNextRunAfter reads one index entry per queue (idx_task_runs_claim_due)", async () => {
    await resetTables(db.sql);
    await insertRows(db.sql, backlog(50_000).map((row, i) => ({ ...row, runAfterSeconds: i % 2 ? 60 + i : null })));
    await db.sql`ANALYZE task_runs`;
    const plan = await explainStatement("run_after", async (sql) => {
      expect(await taskNextRunAfter(sql, { queues: PARAMS.queues })).toBeInstanceOf(Date);
    });
    const nodes = [...walk(plan)];
    expect(nodes.filter((n) => n["Node Type"] === "Seq Scan" && n["Relation Name"] === "task_runs")).toEqual([]);
    expect(nodes.some((n) => n["Index Name"] === "idx_task_runs_claim_due")).toBe(true);
    expect(taskRowsRead(plan)).toBeLessThanOrEqual(PARAMS.queues.length);
  }, 120_000);
});

class Rollback extends Error {}
