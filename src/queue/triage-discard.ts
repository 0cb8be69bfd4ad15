// Triage discard: FAILED rows → CANCELLED with a reason, in batches of short transactions
// (queue/batches.ts) that skip rows locked elsewhere instead of waiting.

import type { Queryable, Sql } from "../db/client.ts";
import { byId, inBatches, withReservedConnection, type BatchOptions } from "./batches.ts";
import { filterSql, type FailedFilter } from "./triage.ts";

export interface DiscardOutcome {
  /** Sorted by id. With dryRun: the rows that would be discarded. */
  discarded: string[];
  /** Still FAILED: another transaction held them. */
  locked: string[];
  /** Matching FAILED rows when the run started: the progress total. */
  total: number;
  /** The signal stopped the run between batches. */
  stopped: boolean;
}

// Reads the ids of the FAILED rows matching `filter`, ascending. No locks, no writes.
export async function taskFailedIdsRead(sql: Queryable, filter: FailedFilter): Promise<string[]> {
  const rows = await sql<{ result_id: string }[]>`
    select result_id from task_runs where status = 'FAILED' ${filterSql(sql, filter)} order by result_id`;
  return rows.map((r) => r.result_id);
}

// Locks the FAILED rows among `ids` that no other transaction holds (SKIP LOCKED, ascending id)
// and makes them CANCELLED with last_error = `reason` (finished_at kept, NOW() when NULL; run_after
// and the lease cleared). Returns one row per id: `discarded`, `locked` (still FAILED, held
// elsewhere) or `gone` (no longer FAILED). Idempotent.
export async function taskDiscardFailedBatch(tx: Queryable, params: { ids: readonly string[]; reason: string }): Promise<{ result_id: string; outcome: "discarded" | "locked" | "gone" }[]> {
  return tx<{ result_id: string; outcome: "discarded" | "locked" | "gone" }[]>`
    with locked as materialized (
      select result_id from task_runs
      where result_id = any(${params.ids}::bigint[]) and status = 'FAILED'
      order by result_id
      for update skip locked
    ),
    discarded as (
      update task_runs t set
        status = 'CANCELLED', finished_at = coalesce(t.finished_at, now()), last_error = ${params.reason},
        run_after = null, leased_until = null, leased_by = null, updated_at = now()
      from locked
      where t.result_id = locked.result_id
      returning t.result_id
    )
    select i.id as result_id,
           case when d.result_id is not null then 'discarded'
                when (select s.status from task_runs s where s.result_id = i.id) = 'FAILED' then 'locked'
                else 'gone' end as outcome
    from unnest(${params.ids}::bigint[]) as i(id)
    left join discarded d on d.result_id = i.id`;
}

/** Discard the FAILED rows matching `filter` in batches; with `dryRun`, report them and write nothing. */
export async function discardFailedTasks(sql: Sql, params: FailedFilter & { reason: string }, options: BatchOptions = {}): Promise<DiscardOutcome> {
  const ids = await taskFailedIdsRead(sql, params);
  const out: DiscardOutcome = { discarded: [], locked: [], total: ids.length, stopped: false };
  if (options.dryRun || ids.length === 0) return options.dryRun ? { ...out, discarded: ids } : out;
  out.stopped = await withReservedConnection(sql, (conn) => inBatches(
    conn,
    ids,
    options,
    (tx, chunk) => taskDiscardFailedBatch(tx, { ids: chunk, reason: params.reason }),
    (rows) => {
      for (const row of rows) if (row.outcome !== "gone") out[row.outcome].push(row.result_id);
    },
  ));
  out.discarded.sort(byId);
  out.locked.sort(byId);
  return out;
}
