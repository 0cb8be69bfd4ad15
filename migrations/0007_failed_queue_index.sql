-- reproq:no-transaction
-- reproq schema 0007: FAILED rows per queue for `reproq top`.
--
-- * idx_task_runs_failed_queue: the dashboard's per-queue FAILED counts find the queues that have
--   FAILED rows with one index probe each (a loose index scan) and count each queue's rows from
--   index entries alone (capped; estimated beyond), instead of reading every FAILED row's heap
--   tuple on every refresh (200,000 FAILED rows: ~130 ms and 16,000 buffers per refresh before).
--   The task list of one queue's FAILED rows (newest result_id first) and the ids of a bulk
--   retry/discard in a queue are read from it in order. Partial (status = 'FAILED'): enqueue,
--   claim and lease renewal never write to it; only a final failure adds an entry.

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_task_runs_failed_queue
    ON task_runs (queue_name, result_id)
    WHERE status = 'FAILED';
