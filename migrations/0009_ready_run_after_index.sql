-- reproq:no-transaction
-- reproq schema 0009: scheduled READY rows for `reproq top`.
--
-- * idx_task_runs_ready_run_after: READY rows that carry a run_after (a retry backoff, a delayed
--   enqueue). `reproq top` counts the ones not due yet (run_after > NOW(), its "scheduled" view)
--   per queue from index entries alone, and the due READY rows as all READY minus those. The claim
--   index idx_task_runs_claim_due holds COALESCE(run_after, …) as an expression, which the planner
--   never reads without the heap: counting through it read every READY row's heap tuple on each
--   refresh (400,000 READY rows: ~1 s). Partial (READY with a run_after): plain enqueues and
--   claims of tasks without a delay never write to it.

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_task_runs_ready_run_after
    ON task_runs (queue_name, run_after)
    WHERE status = 'READY' AND run_after IS NOT NULL;
