// The first claim statement: pick the batch from the READY backlog (index-served, aged, fair across
// queues), claim the picked rows that involve no key, and hand back the keyed ones still locked.
// See claim.ts for the whole design; this file only holds the SQL.

import type { Queryable } from "../db/client.ts";
import {
  batchLimitsCtes, bucketsQuery, claimClockCte, claimedColumns, claimSetList, concurrencyKeyOf, rowBucketQuery, toClaimedTask,
} from "./claim-sql.ts";
import type { ClaimedTask, ClaimParams } from "./types.ts";

/** A picked row whose claim needs key locks; its keys as seen when it was picked. */
export interface KeyedPick {
  resultId: string;
  /** Position in the batch's fair order (1 = first). */
  fair: number;
  lockKey: string | null;
  /** concurrency_key when non-empty, else null. */
  concurrencyKey: string | null;
  /** The rate-limit bucket deciding this row when it is enforced, else null. */
  bucket: string | null;
}

export interface PickOutcome {
  /** Rows claimed by this statement, with their fair positions. */
  claimed: { fair: number; task: ClaimedTask }[];
  /** Picked rows left READY but row-locked (until the transaction ends) for taskClaimKeyed. */
  deferred: KeyedPick[];
  /** Lock mode: the database time of the pick (text, microseconds), when it locked any row. */
  claimAt: string | null;
}

interface PickRow extends ClaimedTask {
  fair: string;
  claimAt: string | null;
  pickId: string;
  pickLockKey: string | null;
  pickConcurrencyKey: string | null;
  pickBucket: string | null;
}

/**
 * Picks up to `limit` eligible READY rows of `queues` (round-robin over the queues in the order
 * given, best effective priority first inside each queue) and claims those with no lock_key, no
 * concurrency_key and no enforced rate bucket (status RUNNING, lease, attempts+1, worker
 * appended). The keyed picks are returned unclaimed. Locks the examined candidate rows FOR UPDATE
 * SKIP LOCKED; run it inside a transaction so the keyed picks stay locked for taskClaimKeyed. Not
 * idempotent. `queues` must be non-empty and free of duplicates. With `notAfter` (a timestamptz),
 * a statement the server starts later than that claims nothing. `mode` "lock" (a short-task batch,
 * short-batch.ts) claims nothing: the unkeyed picks come back still READY and row-locked, with
 * the attempt their claim will have, and `claimAt`, the time to record as their start.
 */
export async function taskClaimPick(sql: Queryable, params: ClaimParams, notAfter: string | null = null, mode: "claim" | "lock" = "claim"): Promise<PickOutcome> {
  const { queues, limit, priorityAgingFactor: factor } = params;
  const rows = await sql<PickRow[]>`
    WITH RECURSIVE
    buckets AS (${bucketsQuery(sql)}),
    ${claimClockCte(sql)},
    -- task:<path> buckets: every path that has one (it shadows queue/global) and the empty ones.
    task_buckets AS (
      SELECT COALESCE(array_agg(substr(b.key, 6)), '{}'::text[]) AS paths,
             COALESCE(array_agg(substr(b.key, 6)) FILTER (WHERE b.enforced AND b.available < 1), '{}'::text[])
               AS throttled
      FROM buckets b
      WHERE starts_with(b.key, 'task:')
    ),
    -- The worker's unpaused queues; throttled = the queue:<name> (else global) bucket is empty.
    queues AS (
      SELECT q.name, q.ord,
             COALESCE((SELECT b.enforced AND b.available < 1 FROM buckets b
                       WHERE b.key IN ('queue:' || q.name, 'global')
                       ORDER BY b.key = 'global' LIMIT 1), false) AS throttled
      FROM unnest(${queues as string[]}::text[]) WITH ORDINALITY AS q(name, ord)
      WHERE NOT EXISTS (SELECT 1 FROM reproq_queue_controls c WHERE c.queue_name = q.name AND c.paused)
    ),
    -- Distinct priority levels per queue, lowest first: a loose index scan of
    -- idx_task_runs_ready_order, one LIMIT 1 probe per level instead of reading the backlog.
    -- Read backwards, each probe lands on the NEWEST row of a level, not on its oldest: the
    -- oldest entries are the ones claims just took, whose dead versions stay in the index until
    -- vacuum can remove them (never while an older snapshot is open), and stepping over them is
    -- the candidate scan's cost alone, not paid twice. Order does not matter here (re-ranked below).
    -- A throttled queue with no task:<path> bucket to escape through is not searched at all.
    levels AS (
      SELECT q.name AS queue_name, q.ord, q.throttled,
             (SELECT t.priority FROM task_runs t
              WHERE t.status = 'READY' AND t.queue_name = q.name
              ORDER BY t.priority LIMIT 1) AS priority
      FROM queues q, task_buckets tb
      WHERE NOT (q.throttled AND cardinality(tb.paths) = 0)
      UNION ALL
      SELECT l.queue_name, l.ord, l.throttled,
             (SELECT t.priority FROM task_runs t
              WHERE t.status = 'READY' AND t.queue_name = l.queue_name AND t.priority > l.priority
              ORDER BY t.priority LIMIT 1)
      FROM levels l
      WHERE l.priority IS NOT NULL
    ),
    -- Per level, the first (limit) rows that are eligible right now (index order enqueued_at,
    -- result_id). Ineligible rows (future run_after, lock_key held, concurrency full, bucket empty)
    -- are skipped inside the scan, so they never hide eligible rows behind them. Locked with SKIP
    -- LOCKED so concurrent pickers spread over different rows.
    candidates AS (
      SELECT c.*, l.ord, CASE WHEN bk.enforced THEN bk.key END AS bucket, bk.available
      FROM levels l
      CROSS JOIN task_buckets tb
      CROSS JOIN LATERAL (
        SELECT t.result_id, t.queue_name, t.task_path, t.enqueued_at, t.lock_key, t.concurrency_limit,
               ${concurrencyKeyOf(sql, "t")} AS conc_key,
               CASE WHEN ${factor}::float8 > 0
                    THEN t.priority + GREATEST(0, EXTRACT(EPOCH FROM NOW() - t.enqueued_at))::float8 / ${factor}::float8
                    ELSE t.priority END AS effective
        FROM task_runs t
        WHERE t.status = 'READY' AND t.queue_name = l.queue_name AND t.priority = l.priority
          AND (t.run_after IS NULL OR t.run_after <= NOW())
          -- One "blocked?" expression rather than three filters: the planner rates an opaque
          -- boolean as passing 1/3 of rows (2/3 negated), so three filters would make it expect
          -- 1/27 to pass and drift towards reading whole levels. Branches run in order, so the
          -- subqueries (index probes) run only for keyed rows. "r.lock_key IS NOT NULL" lets
          -- idx_task_runs_lock_key (RUNNING rows that have a key) serve the probe in its hashed form too.
          AND NOT CASE
                WHEN t.lock_key IS NOT NULL
                 AND EXISTS (SELECT 1 FROM task_runs r WHERE r.status = 'RUNNING' AND r.lock_key IS NOT NULL AND r.lock_key = t.lock_key)
                  THEN true
                WHEN t.concurrency_key <> '' AND t.concurrency_limit > 0
                 AND (SELECT count(*) FROM task_runs r
                      WHERE r.status = 'RUNNING' AND r.concurrency_key = t.concurrency_key) >= t.concurrency_limit
                  THEN true
                WHEN t.task_path = ANY(tb.paths) THEN t.task_path = ANY(tb.throttled)
                ELSE l.throttled
              END
        ORDER BY t.enqueued_at, t.result_id
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED
      ) c
      LEFT JOIN LATERAL (${rowBucketQuery(sql, "c")}) bk ON true
      WHERE l.priority IS NOT NULL
    ),
    -- Re-rank by effective priority; qrank = rank inside its queue. The fair order is round-robin:
    -- qrank first, then the queue's position in the list as given (the worker rotates it after
    -- every claim), never the rows' priority or age — that is what let one old backlog take every
    -- refill of one or two slots. Priority and aging order the rows inside each queue only.
    ranked AS (
      SELECT c.*, row_number() OVER (PARTITION BY c.queue_name ORDER BY c.effective DESC, c.enqueued_at, c.result_id)
               AS qrank
      FROM candidates c
    ),
    fair_rows AS (
      SELECT r.*, row_number() OVER (ORDER BY r.qrank, r.ord) AS fair
      FROM ranked r
    ),
    ${batchLimitsCtes(sql)},
    chosen AS (SELECT * FROM conc_ok ORDER BY fair LIMIT ${limit}),
    claimed AS (${mode === "claim"
      ? sql`
      UPDATE task_runs t SET ${claimSetList(sql, params.workerId, params.leaseSeconds)}
      FROM chosen c
      WHERE t.result_id = c.result_id AND t.status = 'READY'
        AND c.lock_key IS NULL AND c.conc_key IS NULL AND c.bucket IS NULL
        -- A statement the server starts after this moment claims nothing (see ClaimSession).
        AND (${notAfter}::timestamptz IS NULL OR statement_timestamp() <= ${notAfter}::timestamptz)
      RETURNING c.fair AS "claimFair", ${claimedColumns(sql)}, NULL::text AS "claimAt"`
      : sql`
      -- Lock mode: the rows stay READY, locked by the candidate scan until the transaction ends.
      SELECT c.fair AS "claimFair", ${claimedColumns(sql, true)},
             (SELECT at FROM claim_clock)::text AS "claimAt"
      FROM chosen c
      JOIN task_runs t ON t.result_id = c.result_id
      WHERE c.lock_key IS NULL AND c.conc_key IS NULL AND c.bucket IS NULL`}
    )
    -- The claimed rows, then the keyed picks (left to taskClaimKeyed). Not a join of chosen with
    -- claimed: the generic plan rates each CTE at one row and joined them by a nested loop, a
    -- scan of every claimed row per chosen row (200 × 200 rows, ~14 ms of a 19 ms claim under
    -- load). The keyed branch takes its NULL claimed columns from an empty scan of claimed.
    SELECT cl."claimFair" AS fair, NULL::text AS "pickId", NULL::text AS "pickLockKey",
           NULL::text AS "pickConcurrencyKey", NULL::text AS "pickBucket", cl.*
    FROM claimed cl
    UNION ALL
    SELECT c.fair, c.result_id::text, c.lock_key::text, c.conc_key::text, c.bucket::text, none.*
    FROM chosen c
    LEFT JOIN (SELECT * FROM claimed WHERE false) none ON true
    WHERE c.lock_key IS NOT NULL OR c.conc_key IS NOT NULL OR c.bucket IS NOT NULL
    ORDER BY fair`;

  const outcome: PickOutcome = { claimed: [], deferred: [], claimAt: null };
  for (const r of rows) {
    const fair = Number(r.fair);
    if (r.resultId !== null) {
      outcome.claimed.push({ fair, task: toClaimedTask(r) });
      outcome.claimAt ??= r.claimAt;
    }
    else if (r.pickLockKey !== null || r.pickConcurrencyKey !== null || r.pickBucket !== null) {
      outcome.deferred.push({
        resultId: r.pickId, fair, lockKey: r.pickLockKey, concurrencyKey: r.pickConcurrencyKey, bucket: r.pickBucket,
      });
    }
  }
  return outcome;
}
