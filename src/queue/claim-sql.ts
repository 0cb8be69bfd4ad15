// SQL fragments shared by the two claim statements (claim-pick.ts, claim-keyed.ts): the rate-limit
// bucket view, the per-batch key limits, the RUNNING transition and the returned columns. Kept in
// one place so the optimistic pick and the locked re-check apply exactly the same rules.

import type { Queryable } from "../db/client.ts";
import type { ClaimedTask } from "./types.ts";

/**
 * `rate_limits` with each bucket's lazily refilled token count (SPEC §4.2, Go §3.4 step 3):
 * available = LEAST(burst, current + elapsed × rate). A bucket is enforced only when both its rate
 * and its burst are positive; an unenforced row still *shadows* lower-precedence keys. The table
 * holds a handful of rows, so reading all of it is cheap.
 */
export function bucketsQuery(sql: Queryable) {
  return sql`
    SELECT key,
           tokens_per_second > 0 AND burst_size > 0 AS enforced,
           LEAST(burst_size::float8,
                 current_tokens::float8
                   + GREATEST(0, EXTRACT(EPOCH FROM NOW() - last_refilled_at))::float8 * tokens_per_second::float8)
             AS available
    FROM rate_limits`;
}

/**
 * The bucket deciding row `alias`: the first EXISTING key among task:<task_path>, queue:<queue>,
 * global (a NULL task_path skips the task key). Use as `LEFT JOIN LATERAL (…) bk ON true` after a
 * `buckets` CTE built from bucketsQuery.
 */
export function rowBucketQuery(sql: Queryable, alias: string) {
  const row = sql(alias);
  return sql`
    SELECT b.key, b.enforced, b.available
    FROM buckets b
    WHERE b.key IN ('task:' || ${row}.task_path, 'queue:' || ${row}.queue_name, 'global')
    ORDER BY array_position(ARRAY['task:' || ${row}.task_path, 'queue:' || ${row}.queue_name, 'global'], b.key)
    LIMIT 1`;
}

/**
 * Four CTEs, `keyed_rows`, `rate_ok`, `lock_ok` and `conc_ok`, that cut a ranked candidate list (a CTE named
 * `fair_rows` with result_id, fair, bucket, available, lock_key, conc_key, concurrency_limit) down
 * to what one batch may take, walking the rows in `fair` order:
 *  - rate_ok: at most floor(available) rows per enforced bucket (bucket NULL = not limited);
 *  - lock_ok: at most one row per lock_key (the caller already dropped keys held by a RUNNING row);
 *  - conc_ok: RUNNING rows of the key + this row's rank within the batch ≤ its concurrency_limit,
 *    checked for rows with a limit > 0; rows of the key with no limit still count (as in Go, the
 *    count is over every RUNNING row with the key, whatever its own limit).
 * Each layer counts only the survivors of the previous one. A row dropped by a later layer still
 * counted in an earlier one, which can only make the batch smaller, never exceed a limit.
 * conc_key is the normalized key: NULL unless concurrency_key <> '' (see concurrencyKeyOf).
 * Only keyed rows (an enforced bucket, a lock_key or a conc_key) go through the layers: a row with
 * none passes each of them whatever the others do, and is in no partition a keyed row is ranked
 * in, so unkeyed rows join conc_ok directly (ranks 0) and a batch without keys sorts nothing here.
 */
export function batchLimitsCtes(sql: Queryable) {
  return sql`
    keyed_rows AS (
      SELECT * FROM fair_rows f WHERE f.bucket IS NOT NULL OR f.lock_key IS NOT NULL OR f.conc_key IS NOT NULL
    ),
    rate_ok AS (
      SELECT * FROM (
        SELECT f.*, row_number() OVER (PARTITION BY f.bucket ORDER BY f.fair) AS rate_rank FROM keyed_rows f
      ) x
      WHERE x.bucket IS NULL OR x.rate_rank <= floor(x.available)
    ),
    lock_ok AS (
      SELECT * FROM (
        SELECT r.*, row_number() OVER (PARTITION BY r.lock_key ORDER BY r.fair) AS lock_rank FROM rate_ok r
      ) x
      WHERE x.lock_key IS NULL OR x.lock_rank = 1
    ),
    conc_ok AS (
      SELECT * FROM (
        SELECT l.*, row_number() OVER (PARTITION BY l.conc_key ORDER BY l.fair) AS conc_rank FROM lock_ok l
      ) x
      WHERE x.conc_key IS NULL OR x.concurrency_limit <= 0
         OR x.conc_rank + (SELECT count(*) FROM task_runs r
                           WHERE r.status = 'RUNNING' AND r.concurrency_key = x.conc_key) <= x.concurrency_limit
      UNION ALL
      SELECT f.*, 0::bigint AS rate_rank, 0::bigint AS lock_rank, 0::bigint AS conc_rank FROM fair_rows f
      WHERE f.bucket IS NULL AND f.lock_key IS NULL AND f.conc_key IS NULL
    )`;
}

/** Row `alias`'s concurrency key for locking and counting: NULL when absent or empty. */
export function concurrencyKeyOf(sql: Queryable, alias: string) {
  return sql`NULLIF(${sql(alias)}.concurrency_key, '')`;
}

/**
 * The CTE claimSetList reads its time from: the database clock once, when the claim statement
 * runs (after its snapshot), not NOW(). NOW() is when the transaction began; a claim transaction
 * whose pick runs a round trip after its BEGIN could see a chain child released by a parent that
 * finished after that moment, and record the child as started before its parent finished.
 */
export function claimClockCte(sql: Queryable) {
  return sql`claim_clock AS MATERIALIZED (SELECT clock_timestamp() AS at)`;
}

/** The SET list of a claim: row `t` becomes RUNNING, leased to the worker (claim_clock's time). */
export function claimSetList(sql: Queryable, workerId: string, leaseSeconds: number) {
  return sql`
    status = 'RUNNING',
    attempts = t.attempts + 1,
    started_at = COALESCE(t.started_at, (SELECT at FROM claim_clock)),
    last_attempted_at = (SELECT at FROM claim_clock),
    leased_until = (SELECT at FROM claim_clock) + make_interval(secs => ${leaseSeconds}::float8),
    leased_by = ${workerId}::text,
    worker_ids = COALESCE(t.worker_ids, '[]'::jsonb) || jsonb_build_array(${workerId}::text),
    updated_at = (SELECT at FROM claim_clock)`;
}

/**
 * RETURNING columns of row `t`, named like ClaimedTask (bigints as text, spec_hash trimmed). With
 * `locked`, `t` is a READY row only locked (a short-task batch, claim-pick.ts): the attempt is the
 * one its claim will have (attempts + 1).
 */
export function claimedColumns(sql: Queryable, locked = false) {
  return sql`
    t.result_id::text AS "resultId", t.queue_name AS "queueName", t.priority,
    t.spec_json::text AS "specText", rtrim(t.spec_hash) AS "specHash", t.task_path AS "taskPath",
    ${locked ? sql`t.attempts + 1 AS attempts` : sql`t.attempts`}, t.max_attempts AS "maxAttempts",
    t.timeout_seconds AS "timeoutSeconds", t.lock_key AS "lockKey",
    t.concurrency_key AS "concurrencyKey", t.concurrency_limit AS "concurrencyLimit",
    t.workflow_id::text AS "workflowId", t.parent_id::text AS "parentId",
    GREATEST(0, EXTRACT(EPOCH FROM NOW() - GREATEST(t.enqueued_at, COALESCE(t.run_after, t.enqueued_at))))::float8 AS "waitSeconds"`;
}

/** Picks the ClaimedTask fields out of a row that carries claimedColumns (plus anything else). */
export function toClaimedTask(row: ClaimedTask): ClaimedTask {
  return {
    resultId: row.resultId,
    queueName: row.queueName,
    priority: row.priority,
    specText: row.specText,
    specHash: row.specHash,
    taskPath: row.taskPath,
    attempts: row.attempts,
    maxAttempts: row.maxAttempts,
    timeoutSeconds: row.timeoutSeconds,
    lockKey: row.lockKey,
    concurrencyKey: row.concurrencyKey,
    concurrencyLimit: row.concurrencyLimit,
    workflowId: row.workflowId,
    parentId: row.parentId,
    waitSeconds: row.waitSeconds,
  };
}
