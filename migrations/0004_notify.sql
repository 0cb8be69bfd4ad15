-- reproq schema 0004: wake-up notifications (LISTEN/NOTIFY).
--
-- Channel `reproq_tasks`, payload = queue name (text):
--   sent when rows become READY, so idle workers serving that queue claim at once:
--   * trg_task_runs_notify_insert: statement-level AFTER INSERT; one NOTIFY per distinct queue
--     among the READY rows of the statement (a bulk insert of 10,000 rows into 2 queues sends 2).
--     Rows with a future run_after notify too: the worker re-reads the earliest run_after and
--     sleeps until then.
--   * trg_task_runs_notify_update: row-level AFTER UPDATE OF status, run_after when a row turns
--     READY or a READY row's run_after moves (retry with backoff, chain release, chord callback,
--     triage retry, reclaim).
-- Channel `reproq_cancel`, payload = result_id (decimal text):
--   * trg_task_runs_notify_cancel: row-level AFTER UPDATE OF cancel_requested when it turns true,
--     so the worker running that row stops it within about a second.
--
-- Notifications are delivered when the transaction commits (never for a rollback), and PostgreSQL
-- folds identical channel+payload pairs within one transaction into one. They are a hint only:
-- workers still poll, so a missed notification delays a task, never loses it.

CREATE OR REPLACE FUNCTION reproq_notify_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    queue text;
BEGIN
    FOR queue IN SELECT DISTINCT inserted.queue_name FROM reproq_inserted_rows AS inserted
                 WHERE inserted.status = 'READY'
    LOOP
        PERFORM pg_notify('reproq_tasks', queue);
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION reproq_notify_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('reproq_tasks', NEW.queue_name);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION reproq_notify_cancel() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('reproq_cancel', NEW.result_id::text);
    RETURN NULL;
END;
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = 'task_runs'::regclass AND tgname = 'trg_task_runs_notify_insert') THEN
        CREATE TRIGGER trg_task_runs_notify_insert
            AFTER INSERT ON task_runs
            REFERENCING NEW TABLE AS reproq_inserted_rows
            FOR EACH STATEMENT EXECUTE FUNCTION reproq_notify_insert();
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = 'task_runs'::regclass AND tgname = 'trg_task_runs_notify_update') THEN
        CREATE TRIGGER trg_task_runs_notify_update
            AFTER UPDATE OF status, run_after ON task_runs
            FOR EACH ROW
            WHEN (NEW.status = 'READY'
                  AND (OLD.status IS DISTINCT FROM NEW.status OR OLD.run_after IS DISTINCT FROM NEW.run_after))
            EXECUTE FUNCTION reproq_notify_update();
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = 'task_runs'::regclass AND tgname = 'trg_task_runs_notify_cancel') THEN
        CREATE TRIGGER trg_task_runs_notify_cancel
            AFTER UPDATE OF cancel_requested ON task_runs
            FOR EACH ROW
            WHEN (NEW.cancel_requested AND NOT OLD.cancel_requested)
            EXECUTE FUNCTION reproq_notify_cancel();
    END IF;
END;
$$;
