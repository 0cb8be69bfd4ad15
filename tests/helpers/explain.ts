// Plan-shape checks for the `reproq top` reads, on the capture-and-EXPLAIN machinery of plan.ts:
// run dashboard calls on a client that records every statement it sends, then EXPLAIN (ANALYZE)
// each one and summarise how it touched task_runs. Asserting on the plan (no sequential scan,
// rows read bounded) instead of wall-clock time keeps the scale tests meaningful on a loaded machine.
import type { Sql } from "../../src/db/client.ts";
import { capturingClient, explainStatement } from "./plan.ts";

export type { PlanNode } from "./plan.ts";

export interface TaskRunsAccess {
  /** The statement, whitespace collapsed. */
  query: string;
  /** Scan node types that read task_runs ("Index Only Scan", "Seq Scan", …). */
  scans: string[];
  /** Indexes those scans used. */
  indexes: string[];
  /** Rows the task_runs scans produced plus rows they read and filtered away, over all loops. */
  rowsRead: number;
}

/** Runs `calls`, then explains every distinct task_runs statement they sent. */
export async function explainCalls(dsn: string, calls: (sql: Sql) => Promise<unknown>): Promise<TaskRunsAccess[]> {
  // Session settings as `reproq top` has them.
  const client = capturingClient(dsn, { jit: "off" });
  try {
    await calls(client.sql as unknown as Sql);
    const seen = new Set<string>();
    const out: TaskRunsAccess[] = [];
    for (const statement of client.statements.splice(0)) {
      if (!/\btask_runs\b/.test(statement.query)) continue;
      const key = statement.query + JSON.stringify(statement.parameters);
      if (seen.has(key)) continue;
      seen.add(key);
      const plan = await explainStatement(client.sql, statement);
      out.push({ query: statement.query.replace(/\s+/g, " ").trim(), scans: plan.scans, indexes: plan.indexes, rowsRead: plan.rowsRead });
    }
    return out;
  } finally {
    await client.sql.end({ timeout: 1 });
  }
}
