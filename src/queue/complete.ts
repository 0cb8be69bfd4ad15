// Recording a run's outcome. Every write is fenced on `leased_by = worker AND status = 'RUNNING'`:
// a worker whose row was reclaimed (or cancelled, or finished by someone else) writes nothing,
// and the caller learns which rows were fenced. Success and terminal failure also drive chains and
// chords (./workflows.ts) in the same statement or transaction, so a released child is never
// visible before its parent's success is. Task rows are locked in ascending result_id order (see workflows.ts).

import type { Queryable, Sql } from "../db/client.ts";
import { utcNowText } from "./fragments.ts";
import { cutUtf8, jsonForPostgres, jsonTextForPostgres, LAST_ERROR_MAX_BYTES, textForPostgres } from "./text.ts";
import type { CompletionOutcome, FailureCompletion, SuccessCompletion } from "./types.ts";
import { chainReleaseCtes, taskPropagateTerminalFailure, workflowRecordSuccessMany, type FinishedTask } from "./workflows.ts";

export { summarizeLastError } from "./text.ts";

/**
 * Records a batch of successes atomically: the fenced writes and the release of their WAITING
 * chain children in one statement, then chord/group accounting for the rows written. Rows whose
 * fence failed are reported, not written. When the claim reported no workflow for any row
 * (`workflowId: null` on every completion) the one statement is the whole write, with no
 * transaction around it; otherwise (or when unknown) the chord accounting joins it in one
 * transaction. Retrying a whole call after a connection error is safe: written rows are no longer
 * RUNNING, so the retry reports them as fenced and counts nothing twice.
 */
export async function taskCompleteSuccessMany(sql: Sql, completions: readonly SuccessCompletion[]): Promise<CompletionOutcome> {
  const unique = [...new Map(completions.map((c) => [c.resultId, c])).values()];
  if (unique.length === 0) return { written: [], fenced: [] };
  let finished: FinishedTask[];
  if (unique.some((c) => c.workflowId !== null)) {
    finished = await sql.begin(async (tx) => {
      const rows = await taskMarkSuccessfulMany(tx, unique);
      await workflowRecordSuccessMany(tx, { done: rows });
      return rows;
    });
  } else {
    finished = await taskMarkSuccessfulMany(sql, unique);
    // Producers set workflow_id at insert and never change it, so this sends nothing; a row that
    // did gain one after its claim still gets its chord accounting, just in its own statement.
    await workflowRecordSuccessMany(sql, { done: finished });
  }
  const written = new Set(finished.map((r) => r.resultId));
  return {
    written: unique.filter((c) => written.has(c.resultId)).map((c) => c.resultId),
    fenced: unique.filter((c) => !written.has(c.resultId)).map((c) => c.resultId),
  };
}

// Locks the fenced rows of `completions`; sets SUCCESSFUL, finished_at, return_json (SQL NULL for
// null, jsonb null for "null"), clears last_error/failed_at/lease, keeps logs_uri when none is
// given; metadata_json and cancel_requested untouched; releases the WAITING chain children of the
// rows written (chainReleaseCtes). Returns the rows written. A second call writes nothing.
export async function taskMarkSuccessfulMany(sql: Queryable, completions: readonly SuccessCompletion[]): Promise<FinishedTask[]> {
  if (completions.length === 0) return [];
  // The id list is read once (unnest joined to task_runs by its primary key) and carried through
  // `locked`: joining two scans of the list to each other let the generic plan of this prepared
  // statement pick a nested loop whose join filter compared every pair (batch² rows).
  const rows = await sql<{ result_id: string; workflow_id: string | null }[]>`
    with locked as materialized (
      select t.result_id, d.return_text, d.logs_uri
      from unnest(
        ${completions.map((c) => c.resultId)}::bigint[],
        ${completions.map((c) => c.workerId)}::text[],
        ${completions.map((c) => (c.returnJson === null ? null : jsonTextForPostgres(c.returnJson)))}::text[],
        ${completions.map((c) => (c.logsUri === null ? null : textForPostgres(c.logsUri)))}::text[],
        ${completions.map((c) => c.attempt ?? null)}::int[]
      ) as d(result_id, worker_id, return_text, logs_uri, attempt)
      join task_runs t on t.result_id = d.result_id
      where t.leased_by = d.worker_id and t.status = 'RUNNING'
        and (d.attempt is null or t.attempts = d.attempt)
      order by t.result_id
      for update of t
    ),
    written as (
      update task_runs t set
        status = 'SUCCESSFUL',
        finished_at = now(),
        return_json = l.return_text::jsonb, -- text NULL stays SQL NULL; 'null' becomes jsonb null
        last_error = null,
        failed_at = null,
        leased_until = null,
        leased_by = null,
        logs_uri = coalesce(l.logs_uri, t.logs_uri),
        updated_at = now()
      from locked l
      where t.result_id = l.result_id
      returning t.result_id, t.workflow_id
    ),
    ${chainReleaseCtes(sql, "written")}
    select result_id, workflow_id from written`;
  return rows.map((r) => ({ resultId: r.result_id, workflowId: r.workflow_id }));
}

/**
 * Records one failure: retry (READY later, attempt kept), requeue (READY now, attempt given back)
 * or terminal (FAILED, then chain and chord propagation in the same transaction).
 * Returns true when written, false when fenced (nothing changed).
 */
export async function taskCompleteFailure(sql: Sql, completion: FailureCompletion): Promise<boolean> {
  if (completion.disposition.type !== "terminal") return (await taskRecordFailure(sql, completion)) !== null;
  return sql.begin(async (tx) => {
    const row = await taskRecordFailure(tx, completion);
    if (row === null) return false;
    await taskPropagateTerminalFailure(tx, [row]);
    return true;
  });
}

// Locks one fenced row; appends the error entry (with `at` from the DB clock) and applies the
// disposition (see taskCompleteFailure); clears the lease, keeps logs_uri when none is given.
// Returns the row, or null when fenced. Not idempotent on its own (the fence makes a retry a no-op).
export async function taskRecordFailure(sql: Queryable, completion: FailureCompletion): Promise<FinishedTask | null> {
  const { disposition } = completion;
  const terminal = disposition.type === "terminal";
  const giveAttemptBack = disposition.type === "requeue";
  const delaySeconds = disposition.type === "retry" ? finiteNonNegative(disposition.retryDelaySeconds) : 0;
  const lastError = terminal ? cutUtf8(textForPostgres(completion.lastError), LAST_ERROR_MAX_BYTES) : null;
  const [row] = await sql<{ result_id: string; workflow_id: string | null }[]>`
    update task_runs set
      status = case when ${terminal}::boolean then 'FAILED' else 'READY' end,
      run_after = case when ${terminal}::boolean then null
                       else now() + make_interval(secs => ${delaySeconds}::double precision) end,
      finished_at = case when ${terminal}::boolean then now() end,
      failed_at = case when ${terminal}::boolean then now() end,
      last_error = ${lastError}::text,
      attempts = case when ${giveAttemptBack}::boolean then greatest(attempts - 1, 0) else attempts end,
      -- ::text first: a parameter typed jsonb would be JSON.stringify'd again by postgres.js.
      errors_json = errors_json || jsonb_build_array(
        ${jsonForPostgres(completion.error)}::text::jsonb || jsonb_build_object('at', ${utcNowText(sql)})),
      leased_until = null,
      leased_by = null,
      logs_uri = coalesce(${completion.logsUri === null ? null : textForPostgres(completion.logsUri)}::text, logs_uri),
      updated_at = now()
    where result_id = ${completion.resultId}::bigint
      and leased_by = ${completion.workerId}
      and status = 'RUNNING'
      and (${completion.attempt ?? null}::int is null or attempts = ${completion.attempt ?? null}::int)
    returning result_id, workflow_id`;
  return row ? { resultId: row.result_id, workflowId: row.workflow_id } : null;
}

function finiteNonNegative(seconds: number): number {
  return Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
}
