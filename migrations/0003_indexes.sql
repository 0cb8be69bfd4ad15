-- reproq:no-transaction
-- reproq schema 0003: indexes.
--
-- Built CONCURRENTLY so a busy task_runs keeps accepting writes, which is why this file runs
-- statement by statement outside a transaction. Every statement is idempotent (IF NOT EXISTS);
-- `reproq migrate` drops an INVALID index left by an interrupted earlier run before re-creating it.
-- Names and definitions match the Go worker and reproq-django, so existing indexes are kept.

-- Claim candidates (Go worker).
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_task_runs_claim
    ON task_runs (queue_name, status, priority DESC, enqueued_at ASC)
    WHERE status = 'READY';

-- At most one active (READY or RUNNING) row per spec: the database-level dedup guarantee.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_task_runs_spec_unique
    ON task_runs (spec_hash)
    WHERE status IN ('READY', 'RUNNING');

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_task_runs_lock_key
    ON task_runs (lock_key)
    WHERE status = 'RUNNING';

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_task_runs_concurrency_active
    ON task_runs (concurrency_key, leased_until)
    WHERE status = 'RUNNING' AND concurrency_key IS NOT NULL;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_task_runs_parent_id
    ON task_runs (parent_id)
    WHERE status = 'WAITING';

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_task_runs_workflow_id
    ON task_runs (workflow_id);

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_task_runs_failed_at
    ON task_runs (failed_at)
    WHERE status = 'FAILED';

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_task_runs_task_path
    ON task_runs (task_path);

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_task_runs_claim_due
    ON task_runs (queue_name, COALESCE(run_after, '-infinity'::timestamptz), priority DESC, enqueued_at ASC)
    WHERE status = 'READY';

-- reproq's batch claim: the oldest rows of each priority level of a queue, read as a per-level
-- top-K and re-ranked by effective (aged) priority, so claim cost does not grow with the backlog.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_task_runs_ready_order
    ON task_runs (queue_name, priority DESC, enqueued_at, result_id)
    WHERE status = 'READY';

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_periodic_tasks_next_run
    ON periodic_tasks (next_run_at)
    WHERE enabled = TRUE;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_runs_callback
    ON workflow_runs (callback_result_id);
