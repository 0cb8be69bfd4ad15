-- reproq:no-transaction
-- reproq schema 0008: READY rows by concurrency key, for the metrics collector.
--
-- * idx_task_runs_ready_concurrency: reproq_concurrency_blocked_tasks counts the READY rows whose
--   concurrency_key is at its limit. Every worker with metrics on runs that count every
--   metrics.collect_interval; without this index it read every READY row as soon as one keyed
--   task was RUNNING. Now it probes the index once per running key and reads the limit from the
--   index itself. Partial (READY rows that have a key): unkeyed tasks never write to it.

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_task_runs_ready_concurrency
    ON task_runs (concurrency_key, concurrency_limit)
    WHERE status = 'READY' AND concurrency_key IS NOT NULL;
