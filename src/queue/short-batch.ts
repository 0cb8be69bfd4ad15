// The write of a short-task batch (worker/short-batch.ts): rows picked in lock mode (claim-pick.ts,
// still READY, locked by the batch's open transaction) get, in ONE update each, either their
// outcome (the claim and the result together: one full-index write per task instead of two) or,
// for a task still running at the batch's bound, the claim alone (RUNNING, leased), after which
// the task goes on like any claimed row. Run inside the transaction that locked the rows.
import type { Queryable } from "../db/client.ts";
import { outcomeColumns, type Completion, type OutcomeKind } from "./complete.ts";
import { chainReleaseCtes, type FinishedTask } from "./workflows.ts";

export interface LockedRow {
  resultId: string;
  /** The attempt the claim gives the row (attempts + 1, as the lock-mode pick returned it). */
  attempt: number;
}

export interface FinishLockedParams {
  workerId: string;
  leaseSeconds: number;
  /** The pick's database time (PickOutcome.claimAt): started_at/last_attempted_at, plus each start delay. */
  claimAt: string;
  /** Outcomes of rows of the batch (requeues are not written: the row simply stays READY). */
  outcomes: readonly Completion[];
  /** Rows of the batch still running (or not started): claimed now, RUNNING and leased. */
  promote: readonly LockedRow[];
  /**
   * The rows are not locked by the caller (its batch's transaction was lost and rolled back):
   * lock them here. "wait": wait for a transaction that holds one (another claim's, which may
   * leave it READY, as this worker's own in-flight claim does; run it with a lock_timeout);
   * "skip": leave rows another transaction holds. Either way a row that is no longer READY at
   * that attempt is left alone (another claim has it now).
   */
  relock?: "wait" | "skip";
}

export type LockedKind = Exclude<OutcomeKind, "requeue"> | "running";

/**
 * Writes a short-task batch: each outcome as its whole attempt (attempts + 1, started_at kept when
 * set, else the pick time + the start delay; last_attempted_at the same; worker appended to
 * worker_ids; then as taskRecordOutcomesMany: SUCCESSFUL / READY later with the error appended /
 * FAILED, finished_at and failed_at on the clock of this statement), and each promoted row as a
 * claim (RUNNING, leased_by, leased_until = now + lease, started_at/last_attempted_at the pick
 * time: the completer moves them by the start delay later, as for any claim). Successes release
 * their WAITING chain children in the same statement. Fenced on status READY and the attempt
 * (the transaction holds the row locks, so nothing else can have changed them; with `relock`, rows
 * another claim took meanwhile are left alone). Returns the rows
 * written with their kind. Not idempotent; chord accounting and failure propagation are the
 * caller's (workflowRecordSuccessMany, taskPropagateTerminalFailure), in the same transaction.
 */
export async function taskFinishLocked(sql: Queryable, params: FinishLockedParams): Promise<(FinishedTask & { kind: LockedKind })[]> {
  const outcomes = params.outcomes.filter((o) => o.kind === "success" || o.completion.disposition.type !== "requeue");
  if (outcomes.length === 0 && params.promote.length === 0) return [];
  const c = outcomeColumns(outcomes);
  const promoted = params.promote.map((p) => p.resultId);
  const none = promoted.map(() => null);
  const rows = await sql<{ result_id: string; workflow_id: string | null; kind: LockedKind }[]>`
    with finish_clock as materialized (select clock_timestamp() as at),
    d as materialized (
      select * from unnest(
        ${[...c.resultIds, ...promoted]}::bigint[],
        ${[...outcomes.map((o) => o.completion.attempt ?? null), ...params.promote.map((p) => p.attempt)]}::int[],
        ${[...c.kinds, ...promoted.map(() => "running")]}::text[],
        ${[...c.returnTexts, ...none]}::text[], ${[...c.logsUris, ...none]}::text[],
        ${[...c.errorTexts, ...none]}::text[], ${[...c.lastErrors, ...none]}::text[],
        ${[...c.delaySeconds, ...promoted.map(() => 0)]}::float8[], ${[...c.startDelaySeconds, ...promoted.map(() => 0)]}::float8[]
      ) as d(result_id, attempt, kind, return_text, logs_uri, error_text, last_error, delay_seconds, start_delay_seconds)
    ),
    mine as materialized (
      select t.result_id from task_runs t join d on d.result_id = t.result_id
      where ${params.relock !== undefined} and t.status = 'READY' and t.attempts = d.attempt - 1
      order by t.result_id
      ${params.relock === "skip" ? sql`for update of t skip locked` : sql`for update of t`}
    ),
    written as (
      update task_runs t set
        status = case d.kind when 'success' then 'SUCCESSFUL' when 'terminal' then 'FAILED'
                             when 'running' then 'RUNNING' else 'READY' end,
        attempts = t.attempts + 1,
        started_at = coalesce(t.started_at, ${params.claimAt}::timestamptz + make_interval(secs => d.start_delay_seconds)),
        last_attempted_at = ${params.claimAt}::timestamptz + make_interval(secs => d.start_delay_seconds),
        run_after = case d.kind when 'terminal' then null
                                when 'retry' then (select at from finish_clock) + make_interval(secs => d.delay_seconds)
                                else t.run_after end,
        finished_at = case d.kind when 'running' then t.finished_at
                                  when 'success' then (select at from finish_clock)
                                  when 'terminal' then (select at from finish_clock) end,
        failed_at = case d.kind when 'running' then t.failed_at when 'terminal' then (select at from finish_clock) end,
        last_error = case when d.kind = 'running' then t.last_error else d.last_error end,
        return_json = case when d.kind = 'success' then d.return_text::jsonb else t.return_json end,
        errors_json = case when d.kind in ('retry', 'terminal')
                           then t.errors_json || jsonb_build_array(d.error_text::jsonb || jsonb_build_object('at',
                                  to_char((select at from finish_clock) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))
                           else t.errors_json end,
        worker_ids = coalesce(t.worker_ids, '[]'::jsonb) || jsonb_build_array(${params.workerId}::text),
        leased_until = case when d.kind = 'running'
                            then (select at from finish_clock) + make_interval(secs => ${params.leaseSeconds}::float8) end,
        leased_by = case when d.kind = 'running' then ${params.workerId}::text end,
        logs_uri = coalesce(d.logs_uri, t.logs_uri),
        updated_at = (select at from finish_clock)
      from d
      where t.result_id = d.result_id and t.status = 'READY' and t.attempts = d.attempt - 1
        and (${params.relock === undefined} or t.result_id in (select result_id from mine))
      returning t.result_id, t.workflow_id, d.kind
    ),
    succeeded as (select result_id from written where kind = 'success'),
    ${chainReleaseCtes(sql, "succeeded")}
    select result_id, workflow_id, kind from written`;
  return rows.map((r) => ({ resultId: r.result_id, workflowId: r.workflow_id, kind: r.kind }));
}

/**
 * Of `rows` (a batch whose commit this worker did not see), those its own write did commit: the
 * attempt recorded, no longer READY, this worker the last in worker_ids. The COMMIT reached the
 * server and only its answer was lost. Reads only.
 */
export async function taskBatchCommitted(sql: Queryable, params: { workerId: string; rows: readonly LockedRow[] }): Promise<string[]> {
  if (params.rows.length === 0) return [];
  const found = await sql<{ result_id: string }[]>`
    select t.result_id::text
    from unnest(${params.rows.map((r) => r.resultId)}::bigint[], ${params.rows.map((r) => r.attempt)}::int[]) as d(result_id, attempt)
    join task_runs t on t.result_id = d.result_id
    where t.attempts = d.attempt and t.status <> 'READY'
      and t.worker_ids ->> (jsonb_array_length(t.worker_ids) - 1) = ${params.workerId}::text`;
  return found.map((r) => r.result_id);
}
