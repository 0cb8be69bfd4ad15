// Pruning task_runs rows, two ways:
// * expired (`reproq prune expired`, Go §3.4 "Prune"): rows with expires_at <= NOW() that are not
//   RUNNING (WAITING included), oldest expiry first. Django never sets expires_at.
// * finished (retention: `reproq prune --finished-older-than`, the worker's retention service):
//   SUCCESSFUL/FAILED/CANCELLED rows whose finished_at is before a cutoff, oldest first, in
//   batches that each commit. READY, RUNNING and WAITING rows are never touched.
// Django's parent_id FK has no ON DELETE action (DEFERRABLE INITIALLY DEFERRED), so deleting a
// parent that a surviving child still references would fail at commit: each delete statement
// first sets the children's parent_id to NULL (what our schema's ON DELETE SET NULL would do).
// Every prune takes one transaction-level advisory lock, so pruners (CLI runs, workers) never run
// at the same time: two deletes that each detach a child the other one deletes would deadlock.

import type { Queryable, Sql } from "../db/client.ts";

/** The only statuses a retention prune may delete. */
export const PRUNABLE_STATUSES = ["SUCCESSFUL", "FAILED", "CANCELLED"] as const;

/** pg_advisory_xact_lock key shared by every pruner ("reproqpr" as a big-endian int8). */
export const PRUNE_LOCK_KEY = "8243118329769848946";

/** limit ≤ 0 (or not an integer) means no limit, as in Go. */
function limitClause(sql: Queryable, limit: number) {
  return Number.isInteger(limit) && limit > 0 ? sql`limit ${limit}` : sql``;
}

/**
 * The `detached` and `deleted` CTEs that follow a `picked(result_id)` CTE: surviving rows that
 * referenced a picked row get parent_id NULL (and updated_at), then the picked rows are deleted.
 */
function detachAndDeletePicked(sql: Queryable) {
  return sql`
    detached as (
      update task_runs child set parent_id = null, updated_at = now()
      from picked
      where child.parent_id = picked.result_id
        and not exists (select 1 from picked gone where gone.result_id = child.result_id)
      returning child.result_id
    ), deleted as (
      delete from task_runs t using picked
      where t.result_id = picked.result_id
      returning t.result_id
    )`;
}

// Takes the prune lock for the rest of the caller's transaction: `wait` blocks until it is free,
// otherwise returns false at once when another transaction holds it. Changes nothing.
export async function pruneLockAcquire(sql: Queryable, params: { wait: boolean }): Promise<boolean> {
  if (params.wait) {
    await sql`select pg_advisory_xact_lock(${PRUNE_LOCK_KEY}::bigint)`;
    return true;
  }
  const [row] = await sql<{ locked: boolean }[]>`select pg_try_advisory_xact_lock(${PRUNE_LOCK_KEY}::bigint) as locked`;
  return row?.locked === true;
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
// updated_at) on surviving rows that referenced them. Waits for the prune lock first (one
// transaction). Running it again deletes only newly expired rows. Returns how many rows were
// deleted and how many children were detached.
export async function taskPruneExpired(sql: Sql, params: { limit: number }): Promise<{ pruned: number; detached: number }> {
  return sql.begin(async (tx) => {
    await pruneLockAcquire(tx, { wait: true });
    const [row] = await tx<{ pruned: number; detached: number }[]>`
      with picked as (
        select result_id from task_runs
        where expires_at is not null and expires_at <= now() and status <> 'RUNNING'
        order by expires_at, result_id
        ${limitClause(tx, params.limit)}
        for update skip locked
      ), ${detachAndDeletePicked(tx)}
      select (select count(*) from deleted)::int as pruned, (select count(*) from detached)::int as detached`;
    return row ?? { pruned: 0, detached: 0 };
  });
}

// NOW() - olderThan on the database clock: the finished_at cutoff of a retention run.
export async function pruneCutoffRead(sql: Queryable, params: { olderThanMs: number }): Promise<Date> {
  const [row] = await sql<{ cutoff: Date }[]>`select now() - make_interval(secs => ${params.olderThanMs / 1000}::float8) as cutoff`;
  return row!.cutoff;
}

// Counts (up to `limit`; ≤ 0 = all) the rows with a status in `statuses` (only SUCCESSFUL,
// FAILED, CANCELLED count) that finished before `cutoff`. Locks nothing, changes nothing.
export async function taskPruneFinishedCount(sql: Queryable, params: { cutoff: Date; statuses: readonly string[]; limit: number }): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from (
      select 1 from task_runs
      where finished_at < ${params.cutoff} and status = any(${params.statuses}::text[])
        and status in ('SUCCESSFUL', 'FAILED', 'CANCELLED')
      ${limitClause(sql, params.limit)}
    ) picked`;
  return row?.n ?? 0;
}

export interface FinishedBatch {
  pruned: number;
  detached: number;
  /** finished_at of the newest deleted row (exact, as text): where the next batch starts. */
  lastFinishedAt: string | null;
}

// Deletes up to `limit` rows with a status in `statuses` (never READY/RUNNING/WAITING: the SQL
// re-checks) that finished before `cutoff` and not before `from` (the previous batch's
// lastFinishedAt, so kept rows are not re-read), oldest first via idx_task_runs_finished_at; rows
// locked by someone else are skipped. Detaches surviving children first (parent_id NULL,
// updated_at). Run it inside a transaction holding the prune lock. Idempotent per row.
export async function taskPruneFinished(
  sql: Queryable,
  params: { cutoff: Date; statuses: readonly string[]; limit: number; from: string | null },
): Promise<FinishedBatch> {
  const [row] = await sql<FinishedBatch[]>`
    with picked as (
      select result_id, finished_at from task_runs
      where finished_at < ${params.cutoff}
        ${params.from === null ? sql`` : sql`and finished_at >= ${params.from}::timestamptz`}
        and status = any(${params.statuses}::text[]) and status in ('SUCCESSFUL', 'FAILED', 'CANCELLED')
      order by finished_at
      limit ${params.limit}
      for update skip locked
    ), ${detachAndDeletePicked(sql)}
    select (select count(*) from deleted)::int as pruned, (select count(*) from detached)::int as detached,
           (select max(finished_at)::text from picked) as "lastFinishedAt"`;
  return row ?? { pruned: 0, detached: 0, lastFinishedAt: null };
}

export interface PruneProgress {
  pruned: number;
  detached: number;
  batches: number;
}

export interface FinishedPruneResult extends PruneProgress {
  /** A try-lock run (wait: false) found another pruner holding the lock and stopped. */
  busy: boolean;
}

export interface FinishedPruneParams {
  cutoff: Date;
  statuses: readonly string[];
  /** Rows per transaction. */
  batchSize: number;
  /** Most rows in all; ≤ 0 = no limit. */
  limit: number;
  /** Wait for the prune lock (CLI) or give up the run when another pruner has it (worker). */
  wait: boolean;
  /** Checked between batches; a stopped run keeps the batches it committed. */
  signal?: AbortSignal;
  onBatch?: (progress: PruneProgress) => void;
}

/**
 * Retention: deletes finished rows in batches of `batchSize`, each its own transaction holding
 * the prune lock, until a batch comes back short, the limit is reached or the signal aborts.
 */
export async function pruneFinishedTasks(sql: Sql, params: FinishedPruneParams): Promise<FinishedPruneResult> {
  const refused = params.statuses.filter((s) => !(PRUNABLE_STATUSES as readonly string[]).includes(s));
  if (refused.length > 0 || params.statuses.length === 0) {
    throw new Error(`cannot prune status ${refused.join(", ") || "(none)"}: only ${PRUNABLE_STATUSES.join(", ")} rows are pruned; READY, RUNNING and WAITING are never pruned`);
  }
  const total: PruneProgress = { pruned: 0, detached: 0, batches: 0 };
  let from: string | null = null;
  while (!params.signal?.aborted) {
    const want = params.limit > 0 ? Math.min(params.batchSize, params.limit - total.pruned) : params.batchSize;
    if (want <= 0) break;
    const batch = await sql.begin(async (tx) => {
      if (!(await pruneLockAcquire(tx, { wait: params.wait }))) return null;
      return taskPruneFinished(tx, { cutoff: params.cutoff, statuses: params.statuses, limit: want, from });
    });
    if (batch === null) return { ...total, busy: true };
    if (batch.pruned === 0) break;
    total.pruned += batch.pruned;
    total.detached += batch.detached;
    total.batches += 1;
    from = batch.lastFinishedAt;
    params.onBatch?.({ ...total });
    if (batch.pruned < want) break;
  }
  return { ...total, busy: false };
}
