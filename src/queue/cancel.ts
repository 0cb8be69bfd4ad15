// Cancel one task: a RUNNING row gets cancel_requested (the worker's heartbeat sees it and stops
// the process); a READY or WAITING row is CANCELLED at once. Only that row: WAITING chain
// children of a cancelled row are left as they are.

import type { Queryable } from "../db/client.ts";

// Locks the row when it is RUNNING, READY or WAITING: RUNNING → cancel_requested = TRUE;
// READY/WAITING → CANCELLED, finished_at NOW(), run_after NULL. Returns the previous status, or
// null when nothing was written. Idempotent for RUNNING; a CANCELLED row is not touched again.
export async function taskCancel(sql: Queryable, params: { resultId: string }): Promise<string | null> {
  const [row] = await sql<{ previous_status: string }[]>`
    with locked as materialized (
      select result_id, status from task_runs
      where result_id = ${params.resultId}::bigint and status in ('RUNNING', 'READY', 'WAITING')
      for update
    )
    update task_runs t set
      cancel_requested = case when l.status = 'RUNNING' then true else t.cancel_requested end,
      status = case when l.status = 'RUNNING' then t.status else 'CANCELLED' end,
      finished_at = case when l.status = 'RUNNING' then t.finished_at else now() end,
      run_after = case when l.status = 'RUNNING' then t.run_after else null end,
      updated_at = now()
    from locked l
    where t.result_id = l.result_id
    returning l.status as previous_status`;
  return row?.previous_status ?? null;
}
