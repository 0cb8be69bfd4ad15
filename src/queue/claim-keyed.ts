// The strict half of a claim (see claim.ts for the design): inside one transaction, take the
// advisory locks of the keys the picked rows touch, then — in a NEW statement, whose snapshot is
// taken after the locks were granted — re-check the limits and claim the rows whose keys we hold.

import type { Queryable } from "../db/client.ts";
import type { KeyedPick } from "./claim-pick.ts";
import {
  batchLimitsCtes, bucketsQuery, claimClockCte, claimedColumns, claimSetList, concurrencyKeyOf, rowBucketQuery, toClaimedTask,
} from "./claim-sql.ts";
import type { ClaimedTask, ClaimParams } from "./types.ts";

/**
 * Advisory-lock namespaces (the first int of pg_advisory_xact_lock(int, int)); the second int is
 * hashtext(key). The two-int form lives apart from bigint advisory locks such as the migration
 * lock. A hash collision only makes two keys share a lock (more skipping, never a wrong answer).
 */
export const CLAIM_LOCK_NAMESPACE = { lockKey: 0x5251_0001, concurrencyKey: 0x5251_0002, rateBucket: 0x5251_0003 } as const;

export interface ClaimKeyLock {
  namespace: number;
  key: string;
}

/**
 * Tries pg_try_advisory_xact_lock on every (namespace, hashtext(key)), deduplicated, in ascending
 * order. Never waits: a key held by another claim in progress is simply not acquired (that claim
 * is taking rows of the key right now). Must run inside a transaction; acquired locks are held
 * until it ends. Returns the locks now held. Changes nothing else.
 */
export async function taskClaimKeysTryLock(
  sql: Queryable,
  params: { locks: readonly ClaimKeyLock[] },
): Promise<ClaimKeyLock[]> {
  const { locks } = params;
  if (locks.length === 0) return [];
  // The subquery is sorted and not flattened (ORDER BY), so the outer projection calls the lock
  // function row by row in that order.
  const rows = await sql<(ClaimKeyLock & { locked: boolean })[]>`
    SELECT k.namespace, k.key, pg_try_advisory_xact_lock(k.namespace, k.hash) AS locked
    FROM (SELECT DISTINCT u.namespace, hashtext(u.key) AS hash, u.key
          FROM unnest(${locks.map((l) => l.namespace)}::int[], ${locks.map((l) => l.key)}::text[]) AS u(namespace, key)
          ORDER BY 1, 2, 3) AS k`;
  return rows.filter((r) => r.locked).map((r) => ({ namespace: r.namespace, key: r.key }));
}

/** The advisory locks a pick needs: its lock key, concurrency key and enforced bucket. */
export function claimKeyLocks(pick: KeyedPick): ClaimKeyLock[] {
  const locks: ClaimKeyLock[] = [];
  if (pick.lockKey !== null) locks.push({ namespace: CLAIM_LOCK_NAMESPACE.lockKey, key: pick.lockKey });
  if (pick.concurrencyKey !== null) locks.push({ namespace: CLAIM_LOCK_NAMESPACE.concurrencyKey, key: pick.concurrencyKey });
  if (pick.bucket !== null) locks.push({ namespace: CLAIM_LOCK_NAMESPACE.rateBucket, key: pick.bucket });
  return locks;
}

/** The picks all of whose locks are in `held`. */
export function picksWithLocksHeld(picks: readonly KeyedPick[], held: readonly ClaimKeyLock[]): KeyedPick[] {
  const heldKeys = new Set(held.map((l) => `${l.namespace}:${l.key}`));
  return picks.filter((p) => claimKeyLocks(p).every((l) => heldKeys.has(`${l.namespace}:${l.key}`)));
}

/**
 * Claims the picked rows that still qualify, judged on this statement's fresh snapshot (taken
 * after the advisory locks were granted): READY, due, queue not paused, lockable (the picking
 * transaction already holds them), keys unchanged since the pick (so their advisory locks are
 * held), lock_key not held by a RUNNING row, and within the batch limits (concurrency, rate
 * tokens). Consumes one token per claimed row from each enforced bucket. Pass only picks whose
 * locks taskClaimKeysTryLock acquired in the same transaction. Returns the claimed rows with their fair positions;
 * rows that no longer qualify stay READY. Not idempotent.
 */
export async function taskClaimKeyed(
  sql: Queryable,
  params: Pick<ClaimParams, "workerId" | "leaseSeconds"> & { picks: readonly KeyedPick[] },
): Promise<{ fair: number; task: ClaimedTask }[]> {
  const { picks } = params;
  if (picks.length === 0) return [];
  const rows = await sql<(ClaimedTask & { fair: number })[]>`
    WITH
    buckets AS (${bucketsQuery(sql)}),
    ${claimClockCte(sql)},
    wanted AS (
      SELECT * FROM unnest(${picks.map((p) => p.resultId)}::bigint[], ${picks.map((p) => p.fair)}::int[],
                           ${picks.map((p) => p.lockKey)}::text[], ${picks.map((p) => p.concurrencyKey)}::text[],
                           ${picks.map((p) => p.bucket)}::text[])
        AS w(result_id, fair, want_lock, want_conc, want_bucket)
    ),
    locked AS (
      SELECT t.result_id, t.queue_name, t.task_path, t.lock_key, t.concurrency_limit,
             ${concurrencyKeyOf(sql, "t")} AS conc_key,
             w.fair, w.want_lock, w.want_conc, w.want_bucket
      FROM task_runs t
      JOIN wanted w ON w.result_id = t.result_id
      WHERE t.status = 'READY' AND COALESCE(t.run_after, '-infinity'::timestamptz) <= NOW()
        AND NOT EXISTS (SELECT 1 FROM reproq_queue_controls c WHERE c.queue_name = t.queue_name AND c.paused)
      FOR UPDATE OF t SKIP LOCKED
    ),
    -- Keys as they are now; a row whose keys moved since the pick is left for the next claim,
    -- because its new keys are not among the locks this transaction holds.
    fair_rows AS (
      SELECT l.*, bk.bucket, bk.available
      FROM locked l
      LEFT JOIN LATERAL (
        SELECT CASE WHEN x.enforced THEN x.key END AS bucket, x.available FROM (${rowBucketQuery(sql, "l")}) x
      ) bk ON true
      WHERE l.lock_key IS NOT DISTINCT FROM l.want_lock
        AND l.conc_key IS NOT DISTINCT FROM l.want_conc
        AND bk.bucket IS NOT DISTINCT FROM l.want_bucket
        AND (l.lock_key IS NULL
             OR NOT EXISTS (SELECT 1 FROM task_runs r WHERE r.status = 'RUNNING' AND r.lock_key IS NOT NULL AND r.lock_key = l.lock_key))
    ),
    ${batchLimitsCtes(sql)},
    claimed AS (
      UPDATE task_runs t SET ${claimSetList(sql, params.workerId, params.leaseSeconds)}
      FROM conc_ok c
      WHERE t.result_id = c.result_id AND t.status = 'READY'
      RETURNING c.fair, c.bucket, ${claimedColumns(sql)}
    ),
    -- One token per claimed row; the expression re-reads the row, so a concurrent
    -- "limit set" (which does not take our advisory lock) is refilled from, not overwritten.
    spent AS (
      UPDATE rate_limits r
      SET current_tokens = LEAST(r.burst_size::float8,
                                 r.current_tokens::float8
                                   + GREATEST(0, EXTRACT(EPOCH FROM NOW() - r.last_refilled_at))::float8
                                     * r.tokens_per_second::float8) - s.used,
          last_refilled_at = NOW()
      FROM (SELECT bucket, count(*) AS used FROM claimed WHERE bucket IS NOT NULL GROUP BY bucket) s
      WHERE r.key = s.bucket
    )
    SELECT * FROM claimed ORDER BY fair`;
  return rows.map((r) => ({ fair: Number(r.fair), task: toClaimedTask(r) }));
}
