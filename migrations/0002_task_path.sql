-- reproq schema 0002: task_path is always filled.
--
-- A BEFORE trigger copies spec_json->>'task_path' into an empty task_path, and a CHECK rejects
-- rows that still have none. reproq-django's migration creates the same trigger and a VALID
-- constraint; we keep whatever exists (the function body is equivalent, so replacing it is safe)
-- and add the constraint NOT VALID so existing rows are not scanned or judged.

CREATE OR REPLACE FUNCTION reproq_task_path_from_spec() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.task_path IS NULL OR NEW.task_path = '' THEN
        NEW.task_path := NEW.spec_json ->> 'task_path';
    END IF;
    RETURN NEW;
END;
$$;

DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_trigger
        WHERE tgrelid = 'task_runs'::regclass AND tgname = 'trg_task_runs_task_path'
    ) THEN
        CREATE TRIGGER trg_task_runs_task_path
            BEFORE INSERT OR UPDATE OF spec_json, task_path ON task_runs
            FOR EACH ROW EXECUTE FUNCTION reproq_task_path_from_spec();
    END IF;
END;
$$;

DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint
        WHERE conrelid = 'task_runs'::regclass AND conname = 'task_runs_task_path_not_empty'
    ) THEN
        ALTER TABLE task_runs
            ADD CONSTRAINT task_runs_task_path_not_empty
            CHECK (task_path IS NOT NULL AND task_path <> '') NOT VALID;
    END IF;
END;
$$;
