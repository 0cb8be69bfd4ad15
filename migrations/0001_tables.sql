-- reproq schema 0001: the six tables and every column the worker uses.
--
-- Safe on an empty database, on the schema reproq-django's migration creates (no column defaults,
-- varchar(64) spec_hash, identity primary key, deferrable parent FK), on the Go reproq-worker
-- baseline, and on older variants of either: CREATE TABLE IF NOT EXISTS leaves an existing table
-- as it is, ADD COLUMN IF NOT EXISTS only adds what is missing. Nothing existing is altered,
-- dropped or rewritten. Run `manage.py migrate` first, then `reproq migrate`.

CREATE TABLE IF NOT EXISTS task_runs (
    result_id BIGSERIAL PRIMARY KEY,
    backend_alias TEXT NOT NULL DEFAULT 'default',
    queue_name TEXT NOT NULL DEFAULT 'default',
    priority INTEGER NOT NULL DEFAULT 0,
    run_after TIMESTAMPTZ,
    spec_json JSONB NOT NULL,
    spec_hash CHAR(64) NOT NULL,
    task_path TEXT,
    status TEXT NOT NULL DEFAULT 'READY',
    enqueued_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    started_at TIMESTAMPTZ,
    last_attempted_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    timeout_seconds INTEGER NOT NULL DEFAULT 900,
    lock_key TEXT,
    concurrency_key TEXT,
    concurrency_limit INTEGER NOT NULL DEFAULT 0,
    worker_ids JSONB NOT NULL DEFAULT '[]',
    return_json JSONB,
    errors_json JSONB NOT NULL DEFAULT '[]',
    metadata_json JSONB NOT NULL DEFAULT '{}',
    last_error TEXT,
    failed_at TIMESTAMPTZ,
    leased_until TIMESTAMPTZ,
    leased_by TEXT,
    logs_uri TEXT,
    artifacts_uri TEXT,
    expires_at TIMESTAMPTZ,
    parent_id BIGINT REFERENCES task_runs (result_id) ON DELETE SET NULL,
    workflow_id UUID,
    wait_count INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE
);

-- Columns that older worker or Django schemas may lack. NOT NULL columns get a constant default,
-- which PostgreSQL 11+ records in the catalog without rewriting the table.
ALTER TABLE task_runs
    ADD COLUMN IF NOT EXISTS task_path TEXT,
    ADD COLUMN IF NOT EXISTS last_attempted_at TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS lock_key TEXT,
    ADD COLUMN IF NOT EXISTS concurrency_key TEXT,
    ADD COLUMN IF NOT EXISTS concurrency_limit INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS metadata_json JSONB NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS last_error TEXT,
    ADD COLUMN IF NOT EXISTS failed_at TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS leased_until TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS leased_by TEXT,
    ADD COLUMN IF NOT EXISTS logs_uri TEXT,
    ADD COLUMN IF NOT EXISTS artifacts_uri TEXT,
    ADD COLUMN IF NOT EXISTS expires_at TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS workflow_id UUID,
    ADD COLUMN IF NOT EXISTS wait_count INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS cancel_requested BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE IF NOT EXISTS periodic_tasks (
    name TEXT PRIMARY KEY,
    cron_expr TEXT NOT NULL,
    task_path TEXT NOT NULL,
    payload_json JSONB NOT NULL DEFAULT '{}',
    queue_name TEXT NOT NULL DEFAULT 'default',
    priority INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    concurrency_key TEXT,
    concurrency_limit INTEGER NOT NULL DEFAULT 0,
    last_run_at TIMESTAMPTZ,
    next_run_at TIMESTAMPTZ NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

ALTER TABLE periodic_tasks
    ADD COLUMN IF NOT EXISTS concurrency_key TEXT,
    ADD COLUMN IF NOT EXISTS concurrency_limit INTEGER NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS reproq_queue_controls (
    queue_name TEXT PRIMARY KEY,
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    paused_at TIMESTAMPTZ,
    reason TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE TABLE IF NOT EXISTS reproq_workers (
    worker_id TEXT PRIMARY KEY,
    hostname TEXT,
    concurrency INTEGER,
    queues JSONB NOT NULL DEFAULT '[]',
    started_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    last_seen_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    version TEXT
);

ALTER TABLE reproq_workers
    ADD COLUMN IF NOT EXISTS version TEXT;

CREATE TABLE IF NOT EXISTS rate_limits (
    key TEXT PRIMARY KEY,
    tokens_per_second REAL NOT NULL,
    burst_size INTEGER NOT NULL,
    current_tokens REAL NOT NULL,
    last_refilled_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- Global limiting starts disabled (rate 0). An existing row is never reset.
INSERT INTO rate_limits (key, tokens_per_second, burst_size, current_tokens, last_refilled_at)
VALUES ('global', 0, 1, 0, NOW())
ON CONFLICT (key) DO NOTHING;

CREATE TABLE IF NOT EXISTS workflow_runs (
    workflow_id UUID PRIMARY KEY,
    expected_count INTEGER NOT NULL,
    success_count INTEGER NOT NULL DEFAULT 0,
    failure_count INTEGER NOT NULL DEFAULT 0,
    callback_result_id BIGINT,
    status TEXT NOT NULL DEFAULT 'RUNNING',
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
