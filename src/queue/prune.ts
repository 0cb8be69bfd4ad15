// Pruning of expired task_runs rows (`reproq prune expired`, Go §3.4 "Prune"): rows with
// expires_at <= NOW() that are not RUNNING (WAITING included), oldest expiry first.
// Django's parent_id FK has no ON DELETE action (DEFERRABLE INITIALLY DEFERRED), so deleting a
// parent that a surviving child still references would fail at commit: the delete statement
// first sets the children's parent_id to NULL (what our schema's ON DELETE SET NULL would do).

import type { Queryable } from "../db/client.ts";

/** limit ≤ 0 (or not an integer) means no limit, as in Go. */
function limitClause(sql: Queryable, limit: number) {
  return Number.isInteger(limit) && limit > 0 ? sql`limit ${limit}` : sql``;
}

// Counts the rows a prune with this limit would delete now. Locks nothing, changes nothing.
export async function taskPruneExpiredCount(sql: Queryable, params: { limit: number }): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from (
      select 1 from task_runs
      where expires_at is not null and expires_at <= now() and status <> 'RUNNING'
      order by expires_at, result_id
      ${limitClause(sql, params.limit)}
    ) picked`;
  return row?.n ?? 0;
}

// Deletes up to `limit` expired non-RUNNING rows (oldest expiry first; rows locked by someone
// else are skipped, not waited for) and, in the same statement, sets parent_id = NULL (and
// updated_at) on surviving rows that referenced them. Atomic; running it again deletes only
// newly expired rows. Returns how many rows were deleted and how many children were detached.
export async function taskPruneExpired(sql: Queryable, params: { limit: number }): Promise<{ pruned: number; detached: number }> {
  const [row] = await sql<{ pruned: number; detached: number }[]>`
    with picked as (
      select result_id from task_runs
      where expires_at is not null and expires_at <= now() and status <> 'RUNNING'
      order by expires_at, result_id
      ${limitClause(sql, params.limit)}
      for update skip locked
    ), detached as (
      update task_runs child set parent_id = null, updated_at = now()
      from picked
      where child.parent_id = picked.result_id
        and not exists (select 1 from picked gone where gone.result_id = child.result_id)
      returning child.result_id
    ), deleted as (
      delete from task_runs t using picked
      where t.result_id = picked.result_id
      returning t.result_id
    )
    select (select count(*) from deleted)::int as pruned, (select count(*) from detached)::int as detached`;
  return row ?? { pruned: 0, detached: 0 };
}
