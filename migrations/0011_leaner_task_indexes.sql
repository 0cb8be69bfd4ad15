-- reproq:no-transaction
-- reproq schema 0011: fewer index entries written per task.
--
-- A status change (claim READY → RUNNING, completion RUNNING → SUCCESSFUL) is never a HOT update:
-- `status` is a column of Django's indexes and part of every partial index's predicate. So every
-- claim and every completion writes one entry into each index whose definition the new row
-- version satisfies, NULL keys included. docs/database.md lists every index with the statements
-- that read it; this file removes what none of them needs:
--
-- * idx_task_runs_claim (queue_name, status, priority DESC, enqueued_at) WHERE status = 'READY'
--   (the Go worker's claim index) is dropped. idx_task_runs_ready_order (queue_name, priority
--   DESC, enqueued_at, result_id) WHERE status = 'READY' has the same predicate and the same key
--   order once the constant `status` column is left out, plus result_id: it serves every read
--   the dropped one served (reproq's claim and `reproq top`, the Go worker's one-queue claim) and
--   every enqueue, retry and reclaim wrote both. Django's idx_task_runs_claim_due is kept.
-- * idx_task_runs_lock_key (lock_key) WHERE status = 'RUNNING' gains `AND lock_key IS NOT NULL`:
--   it held an entry for every RUNNING row, though it is only ever probed with `lock_key = <key>`
--   (a NULL never matches). Unkeyed claims no longer write to it.
-- * idx_task_runs_workflow_id (workflow_id) gains `WHERE workflow_id IS NOT NULL`: it held an entry
--   for every row version of every task, though only `workflow_id = <uuid>` reads it. Tasks outside
--   a workflow no longer write to it at enqueue, claim, completion or retry.
--
-- The two narrowed indexes keep their names, so the Go worker's and reproq-django's
-- `CREATE INDEX IF NOT EXISTS` find them and `reproq doctor` checks them as before. Each is built
-- under a temporary name first, then the old one is dropped and the new one renamed: every step
-- is CONCURRENTLY or a rename (no long table lock), and a run cut off anywhere is completed by
-- running `reproq migrate` again (a leftover INVALID build is dropped and rebuilt first).
-- Django's indexes (status, queue_name+status, concurrency_key+status, the parent FK index,
-- idx_task_runs_task_path, idx_task_runs_claim_due) are not touched.
--
-- Going back: reproq migrations have no down step. An older reproq needs nothing from this
-- file's changes except idx_task_runs_claim for its `reproq doctor` check; recreate it with
--   CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_task_runs_claim
--       ON task_runs (queue_name, status, priority DESC, enqueued_at ASC) WHERE status = 'READY';
-- (the narrowed indexes serve every older query as they are).

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_task_runs_lock_key_0011
    ON task_runs (lock_key)
    WHERE status = 'RUNNING' AND lock_key IS NOT NULL;

DROP INDEX CONCURRENTLY IF EXISTS idx_task_runs_lock_key;

ALTER INDEX IF EXISTS idx_task_runs_lock_key_0011 RENAME TO idx_task_runs_lock_key;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_task_runs_workflow_id_0011
    ON task_runs (workflow_id)
    WHERE workflow_id IS NOT NULL;

DROP INDEX CONCURRENTLY IF EXISTS idx_task_runs_workflow_id;

ALTER INDEX IF EXISTS idx_task_runs_workflow_id_0011 RENAME TO idx_task_runs_workflow_id;

DROP INDEX CONCURRENTLY IF EXISTS idx_task_runs_claim;
