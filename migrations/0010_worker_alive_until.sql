-- reproq schema 0010: a deadline on each worker's registry row, so a dead worker is noticed in
-- seconds instead of when its leases run out.
--
-- * reproq_workers.alive_until: set by each reproq worker at every registry heartbeat to NOW() +
--   dead_worker_heartbeats × registry_heartbeat_seconds (its own settings). A worker that cannot
--   renew it stops its own tasks before it passes; once it has passed, any live worker may declare
--   that worker dead: requeue its RUNNING rows (worker_lost) and delete its registry row. Rows
--   without a deadline (Go workers, older reproq versions) are never declared dead this way:
--   their tasks come back through lease expiry, as before. Django's model does not know the
--   column; a nullable column without default changes nothing for it.

ALTER TABLE reproq_workers
    ADD COLUMN IF NOT EXISTS alive_until TIMESTAMPTZ;
