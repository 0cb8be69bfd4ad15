-- reproq:no-transaction
-- reproq schema 0006: recent completions for `reproq top`.
--
-- * idx_task_runs_finished_at: throughput (rows finished in the last 1 and 5 minutes), the success
--   rate and the per-queue completion sparklines read finished_at ranges near NOW(); without it
--   each dashboard refresh scanned the whole table. Partial (finished_at IS NOT NULL) so enqueue,
--   claim and lease renewal never write to it: only a completion (and a discard or cancel) adds one
--   entry, always at the right edge of the btree because finished_at is NOW(). A BRIN index would
--   be smaller but cannot serve these reads: updated rows land wherever a page has free space, so
--   finished_at does not follow the physical order.

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_task_runs_finished_at
    ON task_runs (finished_at)
    WHERE finished_at IS NOT NULL;
