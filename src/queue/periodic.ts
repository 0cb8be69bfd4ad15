// periodic_tasks: the beat's one statement family. Django creates this table (and task_runs)
// without column defaults, so the run insert names every NOT NULL column.
import type { Queryable, Sql } from "../db/client.ts";

export interface PeriodicDueRow {
  name: string;
  cronExpr: string;
  taskPath: string;
  /** payload_json as Postgres prints it (numbers verbatim). */
  payloadText: string;
  queueName: string;
  priority: number;
  maxAttempts: number;
  concurrencyKey: string | null;
  concurrencyLimit: number;
  /** The slot due now (becomes run_after and last_run_at). */
  nextRunAt: Date;
}

export interface PeriodicRunRow {
  queueName: string;
  priority: number;
  runAfter: Date;
  specJson: string;
  specHash: string;
  taskPath: string;
  maxAttempts: number;
  timeoutSeconds: number;
  concurrencyKey: string | null;
  concurrencyLimit: number;
}

/** What to do with one due row: `skip` leaves it untouched (still due); `enqueue` inserts and advances. */
export type PeriodicPlan = { kind: "skip" } | { kind: "enqueue"; run: PeriodicRunRow; nextRunAt: Date };

export type PeriodicOutcome =
  | { name: string; row: PeriodicDueRow; status: "inserted"; resultId: string; nextRunAt: Date }
  | { name: string; row: PeriodicDueRow; status: "duplicate"; nextRunAt: Date }
  | { name: string; row: PeriodicDueRow; status: "skipped" }
  /** `stage` "plan": the planner threw (bad cron/payload); "write": a statement failed (rolled back to the savepoint). */
  | { name: string; row: PeriodicDueRow; status: "failed"; stage: "plan" | "write"; error: unknown };

interface DueRecord {
  name: string;
  cron_expr: string;
  task_path: string;
  payload_text: string | null;
  queue_name: string | null;
  priority: number | null;
  max_attempts: number | null;
  concurrency_key: string | null;
  concurrency_limit: number | null;
  next_run_at: Date;
  db_now: Date;
}

// One beat tick, one transaction: locks every enabled row with next_run_at <= NOW() (SKIP LOCKED,
// so concurrent beats split the rows and never both take one), asks `plan` what to do with each
// (given the database clock), and per row inside a savepoint inserts the READY run and advances
// next_run_at/last_run_at. A failing row is rolled back to its savepoint and the others commit.
// Not idempotent by itself; a slot is enqueued at most once because the row is advanced in the
// same transaction, and the insert is skipped while an identical spec is READY/RUNNING.
export async function periodicEnqueueDue(
  sql: Sql,
  plan: (row: PeriodicDueRow, dbNow: Date) => PeriodicPlan,
): Promise<PeriodicOutcome[]> {
  return sql.begin(async (tx) => {
    const records = await tx<DueRecord[]>`
      select name, cron_expr, task_path, payload_json::text as payload_text, queue_name, priority,
             max_attempts, concurrency_key, concurrency_limit, next_run_at, now() as db_now
      from periodic_tasks
      where enabled = true and next_run_at <= now()
      order by next_run_at, name
      for update skip locked`;
    const outcomes: PeriodicOutcome[] = [];
    for (const record of records) {
      const row = toDueRow(record);
      let decided: PeriodicPlan;
      try {
        decided = plan(row, record.db_now);
      } catch (error) {
        outcomes.push({ name: row.name, row, status: "failed", stage: "plan", error });
        continue;
      }
      if (decided.kind === "skip") {
        outcomes.push({ name: row.name, row, status: "skipped" });
        continue;
      }
      const { run, nextRunAt } = decided;
      try {
        const resultId = await tx.savepoint(async (sp) => {
          const id = await periodicRunInsert(sp, run);
          await periodicAdvance(sp, { name: row.name, nextRunAt });
          return id;
        });
        outcomes.push(resultId === null
          ? { name: row.name, row, status: "duplicate", nextRunAt }
          : { name: row.name, row, status: "inserted", resultId, nextRunAt });
      } catch (error) {
        outcomes.push({ name: row.name, row, status: "failed", stage: "write", error });
      }
    }
    return outcomes;
  });
}

// Inserts one READY task_runs row (every NOT NULL column given) unless a READY/RUNNING row has the
// same spec_hash (guard + ON CONFLICT for the unique partial index). Returns the new result_id,
// or null when it was a duplicate. Idempotent per spec_hash while the first run is active.
export async function periodicRunInsert(sql: Queryable, run: PeriodicRunRow): Promise<string | null> {
  const rows = await sql<{ result_id: string }[]>`
    insert into task_runs (
      backend_alias, queue_name, priority, run_after, spec_json, spec_hash, task_path, status,
      enqueued_at, attempts, max_attempts, timeout_seconds, lock_key, concurrency_key, concurrency_limit,
      wait_count, worker_ids, errors_json, metadata_json, created_at, updated_at, cancel_requested
    )
    select 'default', ${run.queueName}, ${run.priority}::int, ${run.runAfter}::timestamptz, ${run.specJson}::text::jsonb,
           ${run.specHash}, ${run.taskPath}, 'READY', now(), 0, ${run.maxAttempts}::int, ${run.timeoutSeconds}::int,
           null, ${run.concurrencyKey}, ${run.concurrencyLimit}::int, 0, '[]'::jsonb, '[]'::jsonb, '{}'::jsonb,
           now(), now(), false
    where not exists (
      select 1 from task_runs where spec_hash = ${run.specHash} and status in ('READY', 'RUNNING')
    )
    on conflict do nothing
    returning result_id::text as result_id`;
  return rows[0]?.result_id ?? null;
}

// Moves a periodic row to its next slot: last_run_at = the slot just handled (old next_run_at),
// next_run_at = `nextRunAt`. Idempotent for the same `nextRunAt`.
export async function periodicAdvance(sql: Queryable, params: { name: string; nextRunAt: Date }): Promise<void> {
  await sql`
    update periodic_tasks
    set last_run_at = next_run_at, next_run_at = ${params.nextRunAt}::timestamptz, updated_at = now()
    where name = ${params.name}`;
}

function toDueRow(record: DueRecord): PeriodicDueRow {
  return {
    name: record.name,
    cronExpr: record.cron_expr,
    taskPath: record.task_path,
    payloadText: record.payload_text ?? "",
    queueName: record.queue_name ?? "",
    priority: record.priority ?? 0,
    maxAttempts: record.max_attempts ?? 0,
    concurrencyKey: record.concurrency_key,
    concurrencyLimit: record.concurrency_limit ?? 0,
    nextRunAt: record.next_run_at,
  };
}
