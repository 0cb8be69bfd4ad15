// Triage retry: FAILED rows back to READY (and the chain steps their failure took down back to
// WAITING), in two steps. The plan is one read over every matching FAILED row that decides, set
// based, which rows to retry and why the others are skipped; the retries then run in batches of
// short transactions (queue/batches.ts) that skip rows locked elsewhere instead of waiting.
// Retry never hits the unique active-spec index: a row whose spec_hash is already READY/RUNNING
// is skipped with the id of that active row, and of several FAILED copies of one spec only the
// latest failure is retried.

import type { Queryable, Sql } from "../db/client.ts";
import { bulkTransaction, byId, inBatches, withReservedConnection, type BatchOptions } from "./batches.ts";
import { filterSql, type FailedFilter } from "./triage.ts";

export interface RetryFilter extends FailedFilter {
  /** Leave out rows whose last error kind is `cancelled` (an operator asked to stop them). */
  excludeCancelled?: boolean;
}

export interface RetrySkip {
  resultId: string;
  /** The READY/RUNNING row that already holds the spec_hash (null: skipped for its parent). */
  activeId: string | null;
  /**
   * A dependency_failed chain step whose parent has not finished (FAILED, WAITING, READY or
   * RUNNING): making it READY would run it before its dependency. Retrying the parent restores it.
   */
  parent: { resultId: string; status: string } | null;
}

export interface RetryOutcome {
  /** Sorted by id, like every list here. With dryRun: the rows that would be retried. */
  retried: string[];
  skipped: RetrySkip[];
  /** dependency_failed chain descendants put back to WAITING. */
  restored: string[];
  /** Rows locked by another transaction (a retry or a chain step): left as they were. */
  locked: string[];
  /** FAILED rows left out because their last error is `cancelled` (RetryFilter.excludeCancelled). */
  cancelledLeft: number;
  /** Rows the plan retries: the progress total. */
  total: number;
  /** The signal stopped the run between batches; the counts cover what was committed. */
  stopped: boolean;
}

type PlanDecision = "retry" | "blocked" | "active" | "copy" | "cancelled";

interface PlanRow {
  result_id: string;
  decision: PlanDecision;
  /** blocked: the unfinished parent; active: the READY/RUNNING row; copy: the latest failure retried instead. */
  other_id: string | null;
  other_status: string | null;
}

// Reads every FAILED row matching `filter` once and decides for each: `retry`, or skipped because
// it is `cancelled` (excludeCancelled), `blocked` (a dependency_failed chain step whose parent is
// FAILED/WAITING/READY/RUNNING), `active` (its spec_hash is READY/RUNNING), or a `copy` of another
// FAILED row with the same spec_hash that failed later (failed_at, else finished_at; then the
// higher id). No locks, no writes. Set based: one read of the FAILED rows, then index probes.
export async function taskRetryPlanRead(sql: Queryable, filter: RetryFilter): Promise<PlanRow[]> {
  return sql<PlanRow[]>`
    with failed as materialized (
      select result_id, spec_hash, parent_id, coalesce(errors_json->-1->>'kind', '') as last_kind,
             coalesce(failed_at, finished_at) as failed_time
      from task_runs
      where status = 'FAILED' ${filterSql(sql, filter)}
    ),
    checked as materialized ( -- materialized: the probe of the unique index runs once per row
      select f.result_id, f.spec_hash, f.failed_time, p.result_id as parent_id, p.status as parent_status,
             ${filter.excludeCancelled === true} and f.last_kind = 'cancelled' as left_out,
             case when p.result_id is null then
               (select a.result_id from task_runs a where a.spec_hash = f.spec_hash and a.status in ('READY', 'RUNNING') limit 1)
             end as active_id
      from failed f
      left join lateral (
        select p.result_id, p.status from task_runs p
        where f.last_kind = 'dependency_failed' and p.result_id = f.parent_id and p.status in ('FAILED', 'WAITING', 'READY', 'RUNNING')
        limit 1 -- a primary-key probe per chain step, not a scan of task_runs
      ) p on true
    ),
    ranked as (
      select k.*, first_value(k.result_id) over (
               partition by k.spec_hash, k.left_out or k.parent_id is not null or k.active_id is not null
               order by k.failed_time desc nulls last, k.result_id desc) as latest_id
      from checked k
    )
    select result_id,
           case when left_out then 'cancelled' when parent_id is not null then 'blocked'
                when active_id is not null then 'active' when latest_id <> result_id then 'copy' else 'retry' end as decision,
           case when left_out then null else coalesce(parent_id, active_id, nullif(latest_id, result_id)) end as other_id,
           case when left_out then null else parent_status end as other_status
    from ranked
    order by result_id`;
}

type BatchOutcome = "retried" | "blocked" | "active" | "locked" | "gone";

interface BatchRow {
  result_id: string;
  outcome: BatchOutcome;
  other_id: string | null;
  other_status: string | null;
}

// Locks the FAILED rows among `ids` that no other transaction holds (SKIP LOCKED, ascending id)
// and resets each to READY exactly as Go's triage retry does (run_after NOW(), attempts 0,
// run/lease/result columns NULL, cancel_requested false; errors_json, worker_ids, logs_uri kept),
// unless its spec_hash is READY/RUNNING by now (`active`) or it is a dependency_failed step whose
// parent is unfinished (`blocked`). Returns one row per id: those, `retried`, `locked` (still
// FAILED, held elsewhere) or `gone` (no longer FAILED). Idempotent. At most one id per spec_hash;
// a concurrent insert of the same spec raises 23505: re-run the transaction. Every other row is
// reached by primary key or unique index (lateral and scalar subqueries), so a batch costs the
// same on a table of any size.
export async function taskRetryFailedBatch(tx: Queryable, params: { ids: readonly string[] }): Promise<BatchRow[]> {
  return tx<BatchRow[]>`
    with locked as materialized (
      select result_id, spec_hash, parent_id, errors_json->-1->>'kind' = 'dependency_failed' as dependency_failed
      from task_runs
      where result_id = any(${params.ids}::bigint[]) and status = 'FAILED'
      order by result_id
      for update skip locked
    ),
    checked as (
      select l.result_id, p.result_id as parent_id, p.status as parent_status,
             case when p.result_id is null then
               (select a.result_id from task_runs a where a.spec_hash = l.spec_hash and a.status in ('READY', 'RUNNING') limit 1)
             end as active_id
      from locked l
      left join lateral (
        select p.result_id, p.status from task_runs p
        where l.dependency_failed and p.result_id = l.parent_id and p.status in ('FAILED', 'WAITING', 'READY', 'RUNNING')
        limit 1 -- keeps it a per-row primary-key probe (a plain join may become a scan of task_runs)
      ) p on true
    ),
    retried as (
      update task_runs t set
        status = 'READY', run_after = now(), attempts = 0,
        started_at = null, last_attempted_at = null, finished_at = null, return_json = null,
        last_error = null, failed_at = null, leased_until = null, leased_by = null,
        cancel_requested = false, updated_at = now()
      from checked k
      where t.result_id = k.result_id and k.parent_id is null and k.active_id is null
      returning t.result_id
    )
    select i.id as result_id,
           case when r.result_id is not null then 'retried'
                when k.parent_id is not null then 'blocked'
                when k.result_id is not null then 'active'
                when (select s.status from task_runs s where s.result_id = i.id) = 'FAILED' then 'locked'
                else 'gone' end as outcome,
           coalesce(k.parent_id, k.active_id) as other_id, k.parent_status as other_status
    from unnest(${params.ids}::bigint[]) as i(id)
    left join checked k on k.result_id = i.id
    left join retried r on r.result_id = i.id`;
}

// Locks the FAILED children of those `parentIds` that are READY or WAITING (back in the pipeline:
// just retried or restored) whose last errors_json entry is the dependency_failed written when
// their parent failed, skipping children another transaction holds, and puts them back to
// WAITING (finished_at, failed_at, last_error NULL; wait_count and errors_json kept). One level of
// the chain: returns every such child, restored or (held elsewhere) not. Idempotent. The reverse
// of taskFailDescendantsMany (workflows.ts).
export async function taskRestoreDependents(tx: Queryable, params: { parentIds: readonly string[] }): Promise<{ result_id: string; restored: boolean }[]> {
  if (params.parentIds.length === 0) return [];
  return tx<{ result_id: string; restored: boolean }[]>`
    with child as (
      select c.result_id from task_runs c
      where c.parent_id = any(${params.parentIds}::bigint[]) and c.status = 'FAILED'
        and c.errors_json->-1->>'kind' = 'dependency_failed'
        and (select p.status from task_runs p where p.result_id = c.parent_id) in ('READY', 'WAITING')
    ),
    locked as materialized (
      select t.result_id from task_runs t join child c on c.result_id = t.result_id
      where t.status = 'FAILED'
      order by t.result_id
      for update of t skip locked
    ),
    restored as (
      update task_runs t set
        status = 'WAITING', finished_at = null, failed_at = null, last_error = null, updated_at = now()
      from locked
      where t.result_id = locked.result_id
      returning t.result_id
    )
    select c.result_id, r.result_id is not null as restored
    from child c left join restored r on r.result_id = c.result_id`;
}

// Reads the FAILED chain descendants of `parentIds` (recursive over parent_id) whose last
// errors_json entry is dependency_failed: what a retry of the parents would restore. No locks,
// no writes.
export async function taskDependentsRead(sql: Queryable, params: { parentIds: readonly string[] }): Promise<string[]> {
  if (params.parentIds.length === 0) return [];
  const rows = await sql<{ result_id: string }[]>`
    with recursive descendant as (
      select result_id from task_runs
      where parent_id = any(${params.parentIds}::bigint[]) and status = 'FAILED'
        and errors_json->-1->>'kind' = 'dependency_failed'
      union -- not UNION ALL: ends even on a (corrupt) parent_id cycle
      select c.result_id from task_runs c join descendant d on c.parent_id = d.result_id
      where c.status = 'FAILED' and c.errors_json->-1->>'kind' = 'dependency_failed'
    )
    select result_id from descendant`;
  return rows.map((r) => r.result_id).sort(byId);
}

function skipOf(row: { result_id: string; other_id: string | null; other_status: string | null }, blocked: boolean): RetrySkip {
  return {
    resultId: row.result_id,
    activeId: blocked ? null : row.other_id,
    parent: blocked ? { resultId: row.other_id ?? "", status: row.other_status ?? "" } : null,
  };
}

/** One committed batch: its retries, skips found at write time, restored and locked chain steps. */
async function retryBatch(tx: Queryable, ids: readonly string[]) {
  const batch = { retried: [] as string[], skipped: [] as RetrySkip[], restored: [] as string[], locked: [] as string[] };
  // Both statements go out together (one round trip): the restore sees the rows the retry made READY.
  const [rows, firstLevel] = await Promise.all([taskRetryFailedBatch(tx, { ids }), taskRestoreDependents(tx, { parentIds: ids })]);
  for (const row of rows) {
    if (row.outcome === "retried") batch.retried.push(row.result_id);
    else if (row.outcome === "locked") batch.locked.push(row.result_id);
    else if (row.outcome !== "gone") batch.skipped.push(skipOf(row, row.outcome === "blocked"));
  }
  // Down the chain one level at a time: a step held elsewhere is reported, and the steps after it
  // stay FAILED with it.
  for (let children = firstLevel; children.length > 0; ) {
    const parents = children.filter((c) => c.restored).map((c) => c.result_id);
    batch.restored.push(...parents);
    batch.locked.push(...children.filter((c) => !c.restored).map((c) => c.result_id));
    children = await taskRestoreDependents(tx, { parentIds: parents });
  }
  return batch;
}

/**
 * Retry the FAILED rows matching `filter`: plan once, then retry in batches (each its own
 * transaction, committed before the next; rows locked elsewhere skipped and reported). A chain
 * step skipped for its FAILED parent is not reported when the parent's retry restored it.
 * With `dryRun` nothing is written: the plan and the chain steps it would restore are reported.
 */
export async function retryFailedTasks(sql: Sql, filter: RetryFilter, options: BatchOptions = {}): Promise<RetryOutcome> {
  return withReservedConnection(sql, (conn) => retryOn(conn, filter, options));
}

async function retryOn(conn: Sql, filter: RetryFilter, options: BatchOptions): Promise<RetryOutcome> {
  const plan = await bulkTransaction(conn, (tx) => taskRetryPlanRead(tx, filter));
  const toRetry: string[] = [];
  const out: RetryOutcome = { retried: [], skipped: [], restored: [], locked: [], cancelledLeft: 0, total: 0, stopped: false };
  for (const row of plan) {
    if (row.decision === "retry") toRetry.push(row.result_id);
    else if (row.decision === "cancelled") out.cancelledLeft++;
    else out.skipped.push(skipOf(row, row.decision === "blocked"));
  }
  out.total = toRetry.length;
  if (options.dryRun) {
    out.retried = toRetry;
    out.restored = await taskDependentsRead(conn, { parentIds: toRetry });
  } else {
    out.stopped = await inBatches(conn, toRetry, options, retryBatch, (batch) => {
      out.retried.push(...batch.retried);
      out.skipped.push(...batch.skipped);
      out.restored.push(...batch.restored);
      out.locked.push(...batch.locked);
    });
  }
  const back = new Set(out.restored);
  out.skipped = out.skipped.filter((s) => !back.has(s.resultId)).sort((a, b) => byId(a.resultId, b.resultId));
  for (const list of [out.retried, out.restored, out.locked]) list.sort(byId);
  return out;
}
