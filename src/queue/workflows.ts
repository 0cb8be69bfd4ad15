// Chains (task_runs.parent_id + wait_count) and chords/groups (workflow_runs): what a row's
// success or terminal failure does to the rows that wait for it. These statements run inside the
// caller's transaction, right after the fenced write of the finishing rows.
//
// Lock order, shared with complete.ts and lease.ts so concurrent completions never deadlock:
// finishing task rows → chain children/descendants → workflow_runs → chord callback rows, and
// within each step ascending key order (a MATERIALIZED `... ORDER BY ... FOR UPDATE` CTE takes
// the locks in that order before the UPDATE touches the rows).

import type { Queryable } from "../db/client.ts";
import { utcNowText } from "./fragments.ts";

/** A row that just finished, with the workflow it belongs to (chain rows have one too). */
export interface FinishedTask {
  resultId: string;
  workflowId: string | null;
}

/** What a terminal failure did beyond the failing rows themselves. */
export interface FailurePropagation {
  /** WAITING chain descendants failed with kind `dependency_failed`. */
  dependencyFailed: string[];
  /** Chord callback rows failed with kind `workflow_failed`. */
  callbacksFailed: string[];
}

/**
 * Two CTEs for a statement that has just written chain parents: `chain_children` locks the WAITING
 * children of the rows of CTE `parents` (a `result_id` column), `chain_released` decrements their
 * wait_count and makes them READY at 0. Put them after `parents` in the WITH list, leave them
 * unreferenced and let the main query read all of `parents` (`select … from parents`): Postgres
 * runs a data-modifying CTE the main query does not read after the main query has finished, so
 * every parent is locked and written before any child is locked and the lock order above holds.
 * parent_id is one column, so a child has exactly one parent and is decremented
 * at most once per statement; a row that waits for several things (wait_count > 1) needs the other
 * decrements from elsewhere. Not idempotent: run once per parent success, with its write.
 */
export function chainReleaseCtes(sql: Queryable, parents: string) {
  return sql`
    chain_children as materialized (
      select c.result_id
      from task_runs c
      where c.parent_id in (select p.result_id from ${sql(parents)} p) and c.status = 'WAITING'
      order by c.result_id
      for update of c
    ),
    chain_released as (
      update task_runs c set
        wait_count = greatest(c.wait_count - 1, 0),
        status = case when c.wait_count - 1 <= 0 then 'READY' else 'WAITING' end,
        updated_at = now()
      from chain_children k
      where c.result_id = k.result_id and c.status = 'WAITING'
      returning c.result_id
    )`;
}

// Locks the workflow_runs rows of `done`; counts member successes (groups with a NULL callback
// too, unlike Go's `<>`), moves a complete chord to WAITING_CALLBACK (no callback: SUCCESSFUL),
// marks the workflow SUCCESSFUL when its callback is among `done`, and releases the callback row
// (WAITING → READY, wait_count 0). Returns the released callback ids. Not idempotent (counts).
export async function workflowRecordSuccessMany(sql: Queryable, params: { done: readonly FinishedTask[] }): Promise<string[]> {
  const done = params.done.filter((d) => d.workflowId !== null);
  if (done.length === 0) return [];
  const rows = await sql<{ result_id: string }[]>`
    with done as (
      select * from unnest(${done.map((d) => d.resultId)}::bigint[], ${done.map((d) => d.workflowId)}::uuid[])
        as d(result_id, workflow_id)
    ),
    -- Aggregate per workflow first: UPDATE ... FROM applies one joined row per target row, so two
    -- members of one chord finishing in the same batch must arrive as one "+2".
    per_workflow as (
      select d.workflow_id,
             count(*) filter (where w.callback_result_id is distinct from d.result_id)::int as members,
             coalesce(bool_or(w.callback_result_id = d.result_id), false) as callback_done
      from done d join workflow_runs w on w.workflow_id = d.workflow_id
      group by d.workflow_id
    ),
    locked as materialized (
      select w.workflow_id, p.members, p.callback_done
      from workflow_runs w join per_workflow p on p.workflow_id = w.workflow_id
      order by w.workflow_id
      for update of w
    ),
    advanced as (
      update workflow_runs w set
        -- FAILED and SUCCESSFUL are final for member accounting (Go skipped only FAILED).
        success_count = w.success_count
          + case when w.status in ('FAILED', 'SUCCESSFUL') then 0 else l.members end,
        status = case
          when l.callback_done then 'SUCCESSFUL'
          when w.status in ('FAILED', 'SUCCESSFUL') then w.status
          when w.failure_count = 0 and w.success_count + l.members >= w.expected_count
            then case when w.callback_result_id is null then 'SUCCESSFUL' else 'WAITING_CALLBACK' end
          else w.status
        end,
        updated_at = now()
      from locked l
      where w.workflow_id = l.workflow_id
      returning w.status, w.callback_result_id
    )
    -- Only a WAITING callback is released, so a chord Django created already complete (callback
    -- READY, workflow WAITING_CALLBACK) is left alone.
    update task_runs t set status = 'READY', wait_count = 0, updated_at = now()
    from advanced a
    where a.status = 'WAITING_CALLBACK' and t.result_id = a.callback_result_id and t.status = 'WAITING'
    returning t.result_id`;
  return rows.map((r) => r.result_id);
}

// Locks every WAITING chain descendant of `failedIds` (recursive over parent_id, stopping at rows
// that are not WAITING); sets them FAILED with a `dependency_failed` entry naming the direct
// parent. wait_count is kept so a later retry of the parent can put them back to WAITING.
// Returns the failed rows. Idempotent (a second call finds no WAITING descendants).
export async function taskFailDescendantsMany(sql: Queryable, params: { failedIds: readonly string[] }): Promise<FinishedTask[]> {
  if (params.failedIds.length === 0) return [];
  const rows = await sql<{ result_id: string; workflow_id: string | null }[]>`
    with recursive descendant as (
      select result_id from task_runs
      where parent_id = any(${params.failedIds}::bigint[]) and status = 'WAITING'
      union -- not UNION ALL: ends even on a (corrupt) parent_id cycle
      select c.result_id from task_runs c join descendant d on c.parent_id = d.result_id
      where c.status = 'WAITING'
    ),
    locked as materialized (
      select t.result_id from task_runs t join descendant d on d.result_id = t.result_id
      where t.status = 'WAITING'
      order by t.result_id
      for update of t
    )
    update task_runs t set
      status = 'FAILED',
      finished_at = now(),
      failed_at = now(),
      run_after = null,
      last_error = 'dependency_failed: parent task ' || t.parent_id || ' failed',
      errors_json = t.errors_json || jsonb_build_array(jsonb_build_object(
        'kind', 'dependency_failed',
        'message', 'parent task ' || t.parent_id || ' failed',
        'parent_result_id', t.parent_id,
        'at', ${utcNowText(sql)})),
      updated_at = now()
    from locked
    where t.result_id = locked.result_id and t.status = 'WAITING'
    returning t.result_id, t.workflow_id`;
  return rows.map((r) => ({ resultId: r.result_id, workflowId: r.workflow_id }));
}

// Locks the workflow_runs rows of `failed`; a failed member adds to failure_count and marks a
// RUNNING/WAITING_CALLBACK workflow FAILED; a failed callback marks its workflow FAILED; the chord
// callback row, if still WAITING or READY, becomes FAILED with a `workflow_failed` entry naming
// the (lowest) failed member. Returns the failed callback ids. Not idempotent (counts).
export async function workflowRecordFailureMany(sql: Queryable, params: { failed: readonly FinishedTask[] }): Promise<string[]> {
  const failed = params.failed.filter((f) => f.workflowId !== null);
  if (failed.length === 0) return [];
  const rows = await sql<{ result_id: string }[]>`
    with failed as (
      select * from unnest(${failed.map((f) => f.resultId)}::bigint[], ${failed.map((f) => f.workflowId)}::uuid[])
        as f(result_id, workflow_id)
    ),
    per_workflow as (
      select f.workflow_id,
             count(*) filter (where w.callback_result_id is distinct from f.result_id)::int as members,
             min(f.result_id) filter (where w.callback_result_id is distinct from f.result_id) as first_failed,
             coalesce(bool_or(w.callback_result_id = f.result_id), false) as callback_failed
      from failed f join workflow_runs w on w.workflow_id = f.workflow_id
      group by f.workflow_id
    ),
    locked as materialized (
      select w.workflow_id, p.members, p.first_failed, p.callback_failed
      from workflow_runs w join per_workflow p on p.workflow_id = w.workflow_id
      order by w.workflow_id
      for update of w
    ),
    marked as (
      update workflow_runs w set
        failure_count = w.failure_count
          + case when w.status in ('FAILED', 'SUCCESSFUL') then 0 else l.members end,
        status = case
          when l.callback_failed then 'FAILED'
          when l.members > 0 and w.status not in ('FAILED', 'SUCCESSFUL') then 'FAILED'
          else w.status
        end,
        updated_at = now()
      from locked l
      where w.workflow_id = l.workflow_id
      returning w.callback_result_id, l.members, l.first_failed
    )
    -- A member failed, so the callback must never run. The callback failing itself is already
    -- FAILED (its own fenced write), which the status filter skips.
    update task_runs t set
      status = 'FAILED',
      finished_at = now(),
      failed_at = now(),
      run_after = null,
      wait_count = 0,
      last_error = 'workflow_failed: Workflow failed due to task failure',
      errors_json = t.errors_json || jsonb_build_array(jsonb_build_object(
        'kind', 'workflow_failed',
        'message', 'Workflow failed due to task failure',
        'failed_result_id', m.first_failed,
        'at', ${utcNowText(sql)})),
      updated_at = now()
    from marked m
    where m.members > 0 and t.result_id = m.callback_result_id and t.status in ('WAITING', 'READY')
    returning t.result_id`;
  return rows.map((r) => r.result_id);
}

// Terminal-failure propagation for rows just written FAILED: WAITING chain descendants first
// (dependency_failed), then the workflows of all of them (workflow_failed). Run in the same
// transaction as the failing write. Returns what it failed.
export async function taskPropagateTerminalFailure(sql: Queryable, failed: readonly FinishedTask[]): Promise<FailurePropagation> {
  if (failed.length === 0) return { dependencyFailed: [], callbacksFailed: [] };
  const descendants = await taskFailDescendantsMany(sql, { failedIds: failed.map((f) => f.resultId) });
  const callbacksFailed = await workflowRecordFailureMany(sql, { failed: [...failed, ...descendants] });
  return { dependencyFailed: descendants.map((d) => d.resultId), callbacksFailed };
}
