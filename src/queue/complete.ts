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
 * Records a batch of successes (taskCompleteMany): their chain children released in the same
 * statement; chord accounting in one transaction with it when a row has (or may have: workflowId
 * absent) a workflow. Rows whose fence failed are reported, not written.
 */
export function taskCompleteSuccessMany(sql: Sql, completions: readonly SuccessCompletion[]): Promise<CompletionOutcome> {
  return taskCompleteMany(sql, completions.map((completion) => ({ kind: "success", completion })));
}

/**
 * Records one failure (taskCompleteMany): retry (READY later, attempt kept), requeue (READY now,
 * attempt given back) or terminal (FAILED, then chain and chord propagation in the same
 * transaction). Returns true when written, false when fenced (nothing changed).
 */
export async function taskCompleteFailure(sql: Sql, completion: FailureCompletion): Promise<boolean> {
  return (await taskCompleteMany(sql, [{ kind: "failure", completion }])).written.length > 0;
}

function finiteNonNegative(seconds: number): number {
  return Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
}

/** One outcome of a run, as the worker's completer batches them. */
export type Completion = { kind: "success"; completion: SuccessCompletion } | { kind: "failure"; completion: FailureCompletion };

/**
 * Records a batch of outcomes — successes, retries, requeues and terminal failures — in one
 * statement (taskRecordOutcomesMany). Only when the batch needs it does a transaction add chord
 * accounting (a success of a workflow member) and terminal-failure propagation (a FAILED row:
 * chain descendants and its workflow); a batch of plain rows is that one statement. Fenced rows
 * (no longer leased by the worker at that attempt) are reported per row and change nothing. Safe
 * to retry after a connection error: rows written are no longer RUNNING, so a retry fences them.
 */
export async function taskCompleteMany(sql: Sql, outcomes: readonly Completion[]): Promise<CompletionOutcome> {
  const unique = [...new Map(outcomes.map((o) => [o.completion.resultId, o])).values()];
  if (unique.length === 0) return { written: [], fenced: [] };
  const needsTransaction = unique.some((o) =>
    o.kind === "success" ? o.completion.workflowId !== null : o.completion.disposition.type === "terminal",
  );
  const rows = needsTransaction
    ? await sql.begin(async (tx) => {
        const written = await taskRecordOutcomesMany(tx, unique);
        await workflowRecordSuccessMany(tx, { done: written.filter((r) => r.kind === "success") });
        await taskPropagateTerminalFailure(tx, written.filter((r) => r.kind === "terminal"));
        return written;
      })
    : await taskRecordOutcomesMany(sql, unique);
  // As in taskCompleteSuccessMany: a row that gained a workflow after its claim is still counted
  // (this sends nothing when no written success has one).
  if (!needsTransaction) await workflowRecordSuccessMany(sql, { done: rows.filter((r) => r.kind === "success") });
  const written = new Set(rows.map((r) => r.resultId));
  return {
    written: unique.filter((o) => written.has(o.completion.resultId)).map((o) => o.completion.resultId),
    fenced: unique.filter((o) => !written.has(o.completion.resultId)).map((o) => o.completion.resultId),
  };
}

export type OutcomeKind = "success" | "retry" | "requeue" | "terminal";

/**
 * The per-row parameter arrays of an outcome write, index-aligned with `outcomes`: the kind, the
 * return value as JSON text (null = SQL NULL), the logs URI, the error entry (failures), last_error
 * (terminal failures, cut to its byte limit), the retry delay and the start delay, each made safe
 * for PostgreSQL text (no NUL) and finite.
 */
export function outcomeColumns(outcomes: readonly Completion[]) {
  const failure = (o: Completion) => (o.kind === "failure" ? o.completion : null);
  return {
    resultIds: outcomes.map((o) => o.completion.resultId),
    attempts: outcomes.map((o) => o.completion.attempt ?? null),
    kinds: outcomes.map((o): OutcomeKind => (o.kind === "success" ? "success" : o.completion.disposition.type)),
    returnTexts: outcomes.map((o) => (o.kind === "success" && o.completion.returnJson !== null ? jsonTextForPostgres(o.completion.returnJson) : null)),
    logsUris: outcomes.map((o) => (o.completion.logsUri === null ? null : textForPostgres(o.completion.logsUri))),
    errorTexts: outcomes.map((o) => { const f = failure(o); return f === null ? null : jsonForPostgres(f.error); }),
    lastErrors: outcomes.map((o) => { const f = failure(o); return f !== null && f.disposition.type === "terminal" ? cutUtf8(textForPostgres(f.lastError), LAST_ERROR_MAX_BYTES) : null; }),
    delaySeconds: outcomes.map((o) => { const f = failure(o); return f !== null && f.disposition.type === "retry" ? finiteNonNegative(f.disposition.retryDelaySeconds) : 0; }),
    startDelaySeconds: outcomes.map((o) => finiteNonNegative(o.completion.startDelaySeconds ?? 0)),
  };
}

// Locks the fenced rows of `outcomes` (leased_by = worker, RUNNING, attempts = attempt when given)
// in result_id order and writes them in one statement. A success: SUCCESSFUL, finished_at,
// return_json (SQL NULL for null, jsonb null for "null"), last_error/failed_at cleared. A failure:
// its error entry appended to errors_json (with `at` from the DB clock); retry = READY at NOW() +
// delay, attempt kept; requeue = READY now, attempt given back; terminal = FAILED, finished_at,
// failed_at, last_error. Every row: lease cleared, logs_uri kept when none is given; metadata_json
// and cancel_requested untouched. Releases the WAITING chain children of the successes
// (chainReleaseCtes). Returns the rows written with their kind. Not idempotent on its own (the
// fence makes a retry a no-op).
// The id list is read once (unnest joined to task_runs by its primary key) and carried through
// `locked`: joining two scans of the list to each other let the generic plan of this prepared
// statement pick a nested loop whose join filter compared every pair (batch² rows).
export async function taskRecordOutcomesMany(sql: Queryable, outcomes: readonly Completion[]): Promise<(FinishedTask & { kind: OutcomeKind })[]> {
  if (outcomes.length === 0) return [];
  const c = outcomeColumns(outcomes);
  const rows = await sql<{ result_id: string; workflow_id: string | null; kind: OutcomeKind }[]>`
    with locked as materialized (
      select t.result_id, d.kind, d.return_text, d.logs_uri, d.error_text, d.last_error, d.delay_seconds, d.start_delay_seconds
      from unnest(
        ${c.resultIds}::bigint[], ${outcomes.map((o) => o.completion.workerId)}::text[], ${c.attempts}::int[], ${c.kinds}::text[],
        ${c.returnTexts}::text[], ${c.logsUris}::text[], ${c.errorTexts}::text[], ${c.lastErrors}::text[],
        ${c.delaySeconds}::float8[], ${c.startDelaySeconds}::float8[]
      ) as d(result_id, worker_id, attempt, kind, return_text, logs_uri, error_text, last_error, delay_seconds, start_delay_seconds)
      join task_runs t on t.result_id = d.result_id
      where t.leased_by = d.worker_id and t.status = 'RUNNING'
        and (d.attempt is null or t.attempts = d.attempt)
      order by t.result_id
      for update of t
    ),
    written as (
      update task_runs t set
        status = case l.kind when 'success' then 'SUCCESSFUL' when 'terminal' then 'FAILED' else 'READY' end,
        run_after = case when l.kind = 'success' then t.run_after
                         when l.kind = 'terminal' then null
                         else now() + make_interval(secs => l.delay_seconds) end,
        finished_at = case when l.kind in ('success', 'terminal') then now() end,
        failed_at = case when l.kind = 'terminal' then now() end,
        last_error = l.last_error,
        return_json = case when l.kind = 'success' then l.return_text::jsonb else t.return_json end,
        attempts = case when l.kind = 'requeue' then greatest(t.attempts - 1, 0) else t.attempts end,
        errors_json = case when l.kind = 'success' then t.errors_json
                           else t.errors_json || jsonb_build_array(l.error_text::jsonb || jsonb_build_object('at', ${utcNowText(sql)})) end,
        -- the start this claim recorded, moved to when the handler really started (after the
        -- local buffer); a started_at from an earlier attempt stays
        started_at = case when l.start_delay_seconds > 0 and t.started_at = t.last_attempted_at
                          then t.started_at + make_interval(secs => l.start_delay_seconds) else t.started_at end,
        last_attempted_at = t.last_attempted_at + make_interval(secs => l.start_delay_seconds),
        leased_until = null,
        leased_by = null,
        logs_uri = coalesce(l.logs_uri, t.logs_uri),
        updated_at = now()
      from locked l
      where t.result_id = l.result_id
      returning t.result_id, t.workflow_id, l.kind
    ),
    succeeded as (select result_id from written where kind = 'success'),
    ${chainReleaseCtes(sql, "succeeded")}
    select result_id, workflow_id, kind from written`;
  return rows.map((r) => ({ resultId: r.result_id, workflowId: r.workflow_id, kind: r.kind }));
}

// Gives back rows claimed but never started (the worker's local buffer at shutdown, or rows held
// too long): READY now, the claim's attempt and worker_ids entry undone, started_at cleared when
// this claim set it, lease cleared, no errors_json entry (nothing ran). Fenced like a
// completion (leased_by, RUNNING, attempts). Returns the ids given back. A second call does nothing.
export async function taskReturnUnstarted(sql: Queryable, params: { workerId: string; rows: readonly { resultId: string; attempt: number }[] }): Promise<string[]> {
  if (params.rows.length === 0) return [];
  const rows = await sql<{ result_id: string }[]>`
    with locked as materialized (
      select t.result_id
      from unnest(${params.rows.map((r) => r.resultId)}::bigint[], ${params.rows.map((r) => r.attempt)}::int[]) as d(result_id, attempt)
      join task_runs t on t.result_id = d.result_id
      where t.leased_by = ${params.workerId} and t.status = 'RUNNING' and t.attempts = d.attempt
      order by t.result_id
      for update of t
    )
    update task_runs t set
      status = 'READY',
      run_after = now(),
      attempts = greatest(t.attempts - 1, 0),
      -- The claim set both to its NOW() when the row had never started: then it still has not.
      started_at = case when t.started_at = t.last_attempted_at then null else t.started_at end,
      worker_ids = case when t.worker_ids ->> (jsonb_array_length(t.worker_ids) - 1) = ${params.workerId}::text
                        then t.worker_ids - (jsonb_array_length(t.worker_ids) - 1) else t.worker_ids end,
      leased_until = null,
      leased_by = null,
      updated_at = now()
    from locked l
    where t.result_id = l.result_id
    returning t.result_id`;
  return rows.map((r) => r.result_id);
}
