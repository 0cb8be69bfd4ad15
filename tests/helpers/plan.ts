// Plan and shape checks that hold on a busy machine: capture the statements a piece of code sends,
// EXPLAIN (ANALYZE, BUFFERS) each one, and assert how it reads (which scans, how many pages and rows)
// instead of how long it took. Timings belong in scripts/bench.
import postgres from "postgres";

export interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Rows Removed by Filter"?: number;
  "Shared Hit Blocks"?: number;
  "Shared Read Blocks"?: number;
  Plans?: PlanNode[];
}

export function* walkPlan(node: PlanNode): Generator<PlanNode> {
  yield node;
  for (const child of node.Plans ?? []) yield* walkPlan(child);
}

export interface Statement {
  query: string;
  parameters: unknown[];
}

export interface StatementPlan extends Statement {
  plan: PlanNode;
  /** Shared buffers the whole statement touched (hit + read), from the top node. */
  pages: number;
  /** Node types of the scans on `relation`. */
  scans: string[];
  /** Indexes those scans used. */
  indexes: string[];
  /** Rows the scans on `relation` produced, plus the rows they removed by filter (per loop × loops). */
  rowsRead: number;
}

/**
 * A one-connection postgres.js client on `dsn` that records every statement it sends (SELECTs
 * only: the EXPLAIN ANALYZE below runs them again). `connection` is passed to the server as
 * session settings (e.g. `reproq top`'s jit off).
 */
export function capturingClient(dsn: string, connection: Record<string, string> = {}): { sql: postgres.Sql; statements: Statement[] } {
  const statements: Statement[] = [];
  const sql = postgres(dsn, {
    max: 1,
    onnotice: () => {},
    connection,
    debug: (_conn, query, parameters) => {
      if (/^\s*(with|select)\b/i.test(query)) statements.push({ query, parameters: [...parameters] });
    },
  });
  return { sql, statements };
}

/** EXPLAIN (ANALYZE, BUFFERS) of `statement` on `sql` (read-only statements only), summarised for `relation`. */
export async function explainStatement(sql: postgres.Sql, statement: Statement, relation = "task_runs"): Promise<StatementPlan> {
  const [row] = await sql.unsafe(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${statement.query}`, statement.parameters as postgres.ParameterOrJSON<never>[]);
  const plan = (row!["QUERY PLAN"] as { Plan: PlanNode }[])[0]!.Plan;
  const onRelation = [...walkPlan(plan)].filter((node) => node["Relation Name"] === relation);
  return {
    ...statement,
    plan,
    pages: (plan["Shared Hit Blocks"] ?? 0) + (plan["Shared Read Blocks"] ?? 0),
    scans: onRelation.map((node) => node["Node Type"]),
    indexes: onRelation.map((node) => node["Index Name"] ?? "").filter((name) => name !== ""),
    rowsRead: onRelation.reduce((n, node) => n + ((node["Actual Rows"] ?? 0) + (node["Rows Removed by Filter"] ?? 0)) * (node["Actual Loops"] ?? 1), 0),
  };
}

/** Pages of `relation` (heap only) by the planner's statistics (after VACUUM/ANALYZE). */
export async function relationPages(sql: postgres.Sql, relation = "task_runs"): Promise<number> {
  const [row] = await sql<{ pages: number }[]>`select relpages::int as pages from pg_class where oid = ${relation}::regclass`;
  return row!.pages;
}

export interface ReadBudget {
  /** Most task_runs rows one statement may read (scan output plus rows removed by filter). */
  rows: number;
  /** Most shared pages one statement may touch, as a share of the table's heap pages (0–1). */
  pageShare?: number;
}

/**
 * Runs `run` (which sends its statements through `client.sql`), then EXPLAIN ANALYZEs each SELECT
 * it sent: none may Seq Scan task_runs or read beyond `budget`. Failures name the statement and
 * its numbers. Returns the plans (e.g. to print).
 */
export async function expectIndexServed(client: ReturnType<typeof capturingClient>, run: () => Promise<unknown>, budget: ReadBudget): Promise<StatementPlan[]> {
  client.statements.length = 0;
  await run();
  const statements = client.statements.splice(0).filter((statement) => !statement.query.includes("pg_catalog.pg_type"));
  if (statements.length === 0) throw new Error("expectIndexServed: the code under test sent no SELECT through the capturing client");
  const tablePages = await relationPages(client.sql);
  const plans: StatementPlan[] = [];
  for (const statement of statements) {
    const plan = await explainStatement(client.sql, statement);
    plans.push(plan);
    const where = `${plan.rowsRead} rows, ${plan.pages} pages of ${tablePages}, scans ${plan.scans.join(", ") || "none"}: ${statement.query.replace(/\s+/g, " ").slice(0, 160)}`;
    const within = {
      noSeqScan: !plan.scans.includes("Seq Scan"),
      rows: plan.rowsRead <= budget.rows,
      pages: budget.pageShare === undefined || plan.pages <= tablePages * budget.pageShare,
    };
    if (!within.noSeqScan || !within.rows || !within.pages) {
      throw new Error(`statement over its read budget (${budget.rows} rows${budget.pageShare === undefined ? "" : `, ${budget.pageShare * 100} % of pages`}): ${where}\nbiggest reads: ${biggestReads(plan.plan)}`);
    }
  }
  return plans;
}

/** The three scan nodes on task_runs that read the most rows, for a failure message. */
function biggestReads(plan: PlanNode, relation = "task_runs"): string {
  return [...walkPlan(plan)]
    .filter((node) => node["Relation Name"] === relation)
    .map((node) => ({ node, rows: ((node["Actual Rows"] ?? 0) + (node["Rows Removed by Filter"] ?? 0)) * (node["Actual Loops"] ?? 1) }))
    .sort((a, b) => b.rows - a.rows)
    .slice(0, 3)
    .map(({ node, rows }) => `${node["Node Type"]}${node["Index Name"] ? ` on ${node["Index Name"]}` : ""} ${rows} rows (${node["Actual Loops"] ?? 1} loops)`)
    .join("; ");
}
