// Plan-shape checks for the `reproq top` reads: run dashboard calls on a pool that records every
// statement it sends, then EXPLAIN (ANALYZE) each one and summarise how it touched task_runs.
// Asserting on the plan (no sequential scan, rows read bounded) instead of wall-clock time keeps
// the scale tests meaningful on a loaded machine.
import postgres from "postgres";
import type { Sql } from "../../src/db/client.ts";

export interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Rows Removed by Filter"?: number;
  "Heap Fetches"?: number;
  Plans?: PlanNode[];
}

export interface CapturedStatement {
  query: string;
  parameters: unknown[];
}

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

function* walk(node: PlanNode): Generator<PlanNode> {
  yield node;
  for (const child of node.Plans ?? []) yield* walk(child);
}

/** A pool on `dsn` (session settings as `reproq top` has them) that records every statement with parameters. */
export function capturingPool(dsn: string): { sql: Sql; statements: CapturedStatement[] } {
  const statements: CapturedStatement[] = [];
  const sql = postgres(dsn, {
    max: 3,
    onnotice: () => {},
    connection: { jit: "off" },
    debug: (_connection, query, parameters) => {
      statements.push({ query, parameters: [...parameters] });
    },
  }) as unknown as Sql;
  return { sql, statements };
}

/** EXPLAIN (ANALYZE) of one captured statement and how its plan read task_runs. */
export async function taskRunsAccess(sql: Sql, statement: CapturedStatement): Promise<TaskRunsAccess> {
  const [row] = await sql.unsafe(`EXPLAIN (ANALYZE, FORMAT JSON) ${statement.query}`, statement.parameters as never[]);
  const plan = (row!["QUERY PLAN"] as { Plan: PlanNode }[])[0]!.Plan;
  const nodes = [...walk(plan)].filter((n) => n["Relation Name"] === "task_runs");
  return {
    query: statement.query.replace(/\s+/g, " ").trim(),
    scans: nodes.map((n) => n["Node Type"]),
    indexes: nodes.map((n) => n["Index Name"] ?? "").filter((name) => name !== ""),
    rowsRead: nodes.reduce((sum, n) => sum + ((n["Actual Rows"] ?? 0) + (n["Rows Removed by Filter"] ?? 0)) * (n["Actual Loops"] ?? 1), 0),
  };
}

/** Runs `calls`, then explains every distinct task_runs statement they sent (EXPLAINs themselves are skipped). */
export async function explainCalls(dsn: string, calls: (sql: Sql) => Promise<unknown>): Promise<TaskRunsAccess[]> {
  const { sql, statements } = capturingPool(dsn);
  try {
    await calls(sql);
    const seen = new Set<string>();
    const out: TaskRunsAccess[] = [];
    for (const statement of statements) {
      if (!/\btask_runs\b/.test(statement.query) || /^\s*explain\b/i.test(statement.query)) continue;
      const key = statement.query + JSON.stringify(statement.parameters);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(await taskRunsAccess(sql, statement));
    }
    return out;
  } finally {
    await sql.end({ timeout: 1 });
  }
}
