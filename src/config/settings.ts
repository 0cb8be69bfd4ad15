// The registry: every setting reproq reads, in one table. Flags, env parsing, file parsing,
// validation, --help text, docs/configuration.md and the example files are all derived from it,
// so adding a setting here (plus one line in build.ts) is the whole job.

import { hostname } from "node:os";
import { EXECUTOR_KINDS, LOG_FORMATS, LOG_LEVELS, PAYLOAD_MODES, POOL_MODES, type CommandScope, type ConfigScope } from "./types.ts";

export type SettingKind =
  | "string"
  | "int"
  | "float"
  | "bool"
  | "duration" // Go duration text → milliseconds
  | "seconds-or-duration" // Go duration, or bare digits meaning seconds → milliseconds
  | "list" // file: array of strings; env/flag: comma-separated
  | "enum";

/** A value as it may appear in a file, before parsing (durations stay Go text). */
export type RawValue = string | number | boolean | readonly string[];

export interface FileAlias {
  /** File key read instead of the main key by one command, e.g. worker.dsn. */
  readonly key: string;
  readonly scope: CommandScope;
  readonly description: string;
}

export interface Setting {
  /** Canonical name and main file key, e.g. "worker.concurrency". */
  readonly key: string;
  readonly kind: SettingKind;
  /** Environment variables, first set (non-empty) one wins. */
  readonly env: readonly string[];
  /** Flag name without dashes (kebab-case). */
  readonly flag: string;
  readonly default: RawValue | (() => RawValue);
  /** Shown instead of the default when it is computed at run time. */
  readonly defaultText?: string;
  /** Commands that use it; "all" (doctor) covers every setting. */
  readonly scopes: readonly CommandScope[];
  readonly description: string;
  /** citty valueHint for --help. */
  readonly hint?: string;
  readonly options?: readonly string[];
  /** Inclusive bounds; `above` is an exclusive lower bound. Durations compare in milliseconds. */
  readonly min?: number;
  readonly max?: number;
  readonly above?: number;
  readonly nonEmpty?: boolean;
  /** duration only: also accepts a leading day count (`14d`, `1d12h`). */
  readonly days?: boolean;
  /** What an empty list turns into (queues: ["default"]). */
  readonly emptyList?: readonly string[];
  readonly aliases?: readonly FileAlias[];
  /** Value written in the example files when it differs from the default. */
  readonly example?: RawValue;
  /** Extra comment line in the example files. */
  readonly exampleNote?: string;
}

const ALL: readonly CommandScope[] = ["worker", "beat", "db"];
const RUNNERS: readonly CommandScope[] = ["worker", "beat"];
const WORKER: readonly CommandScope[] = ["worker"];
const BEAT: readonly CommandScope[] = ["beat"];
const MIB = 1048576;

export const SETTINGS: readonly Setting[] = [
  // Top level
  { key: "dsn", kind: "string", env: ["DATABASE_URL"], flag: "dsn", default: "", scopes: ALL, hint: "url",
    description: "Postgres connection string", example: "postgres://user:pass@localhost:5432/reproq?sslmode=disable",
    aliases: [
      { key: "worker.dsn", scope: "worker", description: "Overrides the top-level dsn for reproq worker" },
      { key: "beat.dsn", scope: "beat", description: "Overrides the top-level dsn for reproq beat" },
    ] },
  { key: "log_format", kind: "enum", options: LOG_FORMATS, env: ["REPROQ_LOG_FORMAT"], flag: "log-format", default: "auto",
    scopes: ALL, description: "Log output: json, pretty, or auto (json when stdout is not a terminal)" },
  { key: "log_level", kind: "enum", options: LOG_LEVELS, env: ["REPROQ_LOG_LEVEL"], flag: "log-level", default: "info",
    scopes: ALL, description: "Lowest level of log lines written" },
  { key: "low_memory_mode", kind: "bool", env: ["LOW_MEMORY_MODE"], flag: "low-memory-mode", default: false,
    scopes: RUNNERS, description: "Turn off the HTTP server (health, metrics, events) to save memory" },
  { key: "memory_log_interval", kind: "seconds-or-duration", env: ["REPROQ_MEMORY_LOG_INTERVAL"],
    flag: "memory-log-interval", default: "0", min: 0, scopes: RUNNERS,
    description: "Log memory usage this often (0 = off; bare digits are seconds)" },

  // [database]
  { key: "database.pool_size", kind: "int", min: 1, env: ["REPROQ_DB_POOL_SIZE"], flag: "db-pool-size", default: 10,
    scopes: ALL, hint: "n", description: "Most open database connections (a worker sets up to 2 of them aside for claims; LISTEN has one of its own)" },
  { key: "database.connect_timeout", kind: "duration", above: 0, env: ["REPROQ_CONNECT_TIMEOUT"],
    flag: "connect-timeout", default: "10s", scopes: ALL, description: "Give up connecting to Postgres after this long" },
  { key: "database.query_timeout", kind: "duration", min: 0, env: ["REPROQ_QUERY_TIMEOUT"], flag: "query-timeout",
    default: "30s", scopes: RUNNERS,
    description: "Bound on each statement: the server cancels it (statement_timeout); no answer 5 s later ends the connection (0 = off)" },
  { key: "database.prepare", kind: "bool", env: ["REPROQ_PREPARE"], flag: "prepare", default: true, scopes: ALL,
    description: "Use prepared statements (turn off for PgBouncer transaction pooling)" },

  // [worker]
  { key: "worker.worker_id", kind: "string", nonEmpty: true, env: ["WORKER_ID"], flag: "worker-id", scopes: WORKER,
    default: () => `${hostname()}-${process.pid}`, defaultText: "<hostname>-<pid>", example: "worker-1", hint: "id",
    description: "Unique worker id" },
  { key: "worker.process_role", kind: "string", env: ["REPROQ_PROCESS_ROLE"], flag: "process-role", default: "worker",
    scopes: WORKER, hint: "role", description: "Process role label in events" },
  { key: "worker.queues", kind: "list", emptyList: ["default"], env: ["QUEUE_NAMES"], flag: "queues",
    default: ["default"], example: ["default", "high"], scopes: WORKER, hint: "a,b", description: "Queues to take tasks from" },
  { key: "worker.allowed_task_modules", kind: "list", env: ["ALLOWED_TASK_MODULES"], flag: "allowed-task-modules",
    default: [], example: ["myapp.tasks.", "tasks."], scopes: WORKER, hint: "a.,b.",
    exampleNote: 'Use ["*"] to disable task module validation (dev only)',
    description: "Task modules allowed to run (a.b. = prefix, a.b = a.b and below; empty = myapp.tasks., tasks.; * = no check)" },
  { key: "worker.concurrency", kind: "int", min: 1, env: ["REPROQ_CONCURRENCY"], flag: "concurrency", default: 10,
    scopes: WORKER, hint: "n", description: "Max concurrent tasks; 100 for bun-inprocess unless set" },
  { key: "worker.poll_min_backoff", kind: "duration", above: 0, env: ["REPROQ_POLL_MIN_BACKOFF"],
    flag: "poll-min-backoff", default: "100ms", scopes: WORKER, description: "Shortest sleep after an empty poll" },
  { key: "worker.poll_max_backoff", kind: "duration", above: 0, env: ["REPROQ_POLL_MAX_BACKOFF"],
    flag: "poll-max-backoff", default: "5s", scopes: WORKER, description: "Longest sleep after empty polls" },
  { key: "worker.lease_seconds", kind: "int", min: 1, env: ["REPROQ_LEASE_SECONDS"], flag: "lease-seconds",
    default: 300, scopes: WORKER, hint: "n", description: "Seconds a claimed task stays leased without a heartbeat" },
  { key: "worker.heartbeat_seconds", kind: "int", min: 0, env: ["REPROQ_HEARTBEAT_SECONDS"], flag: "heartbeat-seconds",
    default: 60, scopes: WORKER, hint: "n", description: "Seconds between lease renewals of a running task (0 = none)" },
  { key: "worker.reclaim_interval_seconds", kind: "int", min: 0, env: ["REPROQ_RECLAIM_INTERVAL_SECONDS"],
    flag: "reclaim-interval-seconds", default: 60, scopes: WORKER, hint: "n",
    description: "Seconds between sweeps for expired leases (0 = off)" },
  { key: "worker.python_bin", kind: "string", nonEmpty: true, env: ["REPROQ_PYTHON_BIN"], flag: "python-bin",
    default: "python3", scopes: WORKER, hint: "path", description: "Python interpreter that runs the executor" },
  { key: "worker.executor_module", kind: "string", nonEmpty: true, env: ["REPROQ_EXECUTOR_MODULE"],
    flag: "executor-module", default: "reproq_django.executor", scopes: WORKER, hint: "module",
    description: "Python module started with -m as the executor" },
  { key: "worker.payload_mode", kind: "enum", options: PAYLOAD_MODES, env: ["REPROQ_PAYLOAD_MODE"],
    flag: "payload-mode", default: "stdin", scopes: WORKER, description: "How the task payload reaches the executor" },
  { key: "worker.max_payload_bytes", kind: "int", min: 1, env: ["REPROQ_MAX_PAYLOAD_BYTES"], flag: "max-payload-bytes",
    default: MIB, scopes: WORKER, hint: "bytes", description: "Largest payload handed to the executor" },
  { key: "worker.max_stdout_bytes", kind: "int", min: 1, env: ["REPROQ_MAX_STDOUT_BYTES"], flag: "max-stdout-bytes",
    default: MIB, scopes: WORKER, hint: "bytes", description: "Executor stdout kept per attempt (over it: first and last halves)" },
  { key: "worker.max_stderr_bytes", kind: "int", min: 1, env: ["REPROQ_MAX_STDERR_BYTES"], flag: "max-stderr-bytes",
    default: MIB, scopes: WORKER, hint: "bytes", description: "Executor stderr kept per attempt (over it: first and last halves)" },
  { key: "worker.logs_dir", kind: "string", env: ["REPROQ_LOGS_DIR"], flag: "logs-dir", default: "", scopes: WORKER,
    hint: "dir", description: "Directory for per-attempt task logs (empty = off)" },
  { key: "worker.journal_dir", kind: "string", nonEmpty: true, env: ["REPROQ_JOURNAL_DIR"], flag: "journal-dir", default: ".reproq",
    scopes: WORKER, hint: "dir", description: "Directory for results that could not be written at shutdown (replayed at the next start)" },
  { key: "worker.exec_timeout", kind: "duration", above: 0, env: ["REPROQ_EXEC_TIMEOUT"], flag: "exec-timeout",
    default: "1h", scopes: WORKER, description: "Longest a task may run (a task's own timeout can only shorten it)" },
  { key: "worker.max_attempts_default", kind: "int", min: 1, env: ["REPROQ_MAX_ATTEMPTS_DEFAULT"],
    flag: "max-attempts-default", default: 3, scopes: WORKER, hint: "n",
    description: "Attempts allowed when a row does not say" },
  { key: "worker.shutdown_timeout", kind: "duration", min: 0, env: ["REPROQ_SHUTDOWN_TIMEOUT"], flag: "shutdown-timeout",
    default: "30s", scopes: WORKER, description: "On SIGTERM, how long running tasks may finish before being stopped" },
  { key: "worker.priority_aging_factor", kind: "float", env: ["PRIORITY_AGING_FACTOR"], flag: "priority-aging-factor",
    default: 60, scopes: WORKER, hint: "seconds", description: "Seconds of waiting per priority point (≤ 0 = no aging)" },
  { key: "worker.listen", kind: "bool", env: ["REPROQ_LISTEN"], flag: "listen", default: true, scopes: WORKER,
    description: "Wake up on LISTEN/NOTIFY (turn off for PgBouncer transaction pooling)" },
  { key: "worker.claim_batch_size", kind: "int", min: 1, env: ["REPROQ_CLAIM_BATCH_SIZE"], flag: "claim-batch-size",
    default: 100, scopes: WORKER, hint: "n", description: "Most tasks claimed by one statement; 200 for bun-inprocess unless set" },
  { key: "worker.short_task_bound", kind: "duration", min: 0, max: 100, env: ["REPROQ_SHORT_TASK_BOUND"], flag: "short-task-bound",
    default: 0, scopes: WORKER,
    description: "Short-task batches: claim and complete a batch in one transaction (one write per task); a task still running after this (at most 100ms) is claimed and shows RUNNING. 0 = off (e.g. 50ms for short bun-inprocess tasks)" },
  { key: "worker.retry_base_seconds", kind: "float", min: 0, env: ["REPROQ_RETRY_BASE_SECONDS"],
    flag: "retry-base-seconds", default: 30, scopes: WORKER, hint: "seconds",
    description: "Retry delay after the first failed attempt; doubles with each attempt" },
  { key: "worker.retry_max_seconds", kind: "float", min: 0, env: ["REPROQ_RETRY_MAX_SECONDS"], flag: "retry-max-seconds",
    default: 3600, scopes: WORKER, hint: "seconds", description: "Longest retry delay" },
  { key: "worker.retry_jitter", kind: "float", min: 0, max: 1, env: ["REPROQ_RETRY_JITTER"], flag: "retry-jitter",
    default: 0.1, scopes: WORKER, hint: "fraction", description: "Random spread of retry delays (0.1 = ±10%)" },
  { key: "worker.registry_heartbeat_seconds", kind: "int", min: 1, env: ["REPROQ_REGISTRY_HEARTBEAT_SECONDS"],
    flag: "registry-heartbeat-seconds", default: 30, scopes: WORKER, hint: "n",
    description: "Seconds between updates of this worker's reproq_workers row" },
  { key: "worker.dead_worker_heartbeats", kind: "float", min: 1.5, env: ["REPROQ_DEAD_WORKER_HEARTBEATS"],
    flag: "dead-worker-heartbeats", default: 1.5, scopes: WORKER, hint: "n",
    description: "A worker whose registry row is this many registry heartbeats old is dead: another worker requeues its running tasks (worker_lost); this worker stops its own tasks before then when it cannot renew its row" },
  { key: "worker.executor", kind: "enum", options: EXECUTOR_KINDS, env: ["REPROQ_EXECUTOR"], flag: "executor",
    default: "python", scopes: WORKER,
    description: "Executor kind: python (python_bin -m executor_module), python-pool (the same, forked from a warm pre-imported Python process), command, bun (TypeScript tasks in a child process) or bun-inprocess (TypeScript tasks inside the worker)" },
  { key: "worker.executor_command", kind: "list", env: ["REPROQ_EXECUTOR_COMMAND"], flag: "executor-command",
    default: [], scopes: WORKER, hint: "prog,arg", description: "Program and arguments run when executor is command" },
  { key: "worker.tasks_dir", kind: "string", nonEmpty: true, env: ["REPROQ_TASKS_DIR"], flag: "tasks-dir", default: "tasks",
    scopes: WORKER, hint: "dir",
    description: "Directory of TypeScript/JavaScript task modules for the bun and bun-inprocess executors (a.b.func → <dir>/a/b.ts)" },
  { key: "worker.executor_env_deny", kind: "list", env: ["REPROQ_EXECUTOR_ENV_DENY"], flag: "executor-env-deny",
    default: ["METRICS_AUTH_TOKEN"], scopes: WORKER, hint: "A,B",
    description: "Environment variables removed before starting the executor" },
  { key: "worker.pool_preload_modules", kind: "list", env: ["REPROQ_POOL_PRELOAD_MODULES"], flag: "pool-preload-modules",
    default: [], example: ["myapp.tasks"], scopes: WORKER, hint: "a,b",
    description: "python-pool: modules imported once in the pool process, besides executor_module (e.g. your task modules)" },
  { key: "worker.pool_mode", kind: "enum", options: POOL_MODES, env: ["REPROQ_POOL_MODE"], flag: "pool-mode", default: "fork",
    scopes: WORKER,
    description: "python-pool: fork (a fresh child forked per task) or persistent (worker.concurrency long-lived children that each run many tasks in sequence, like Celery's prefork; much less CPU per task)" },
  { key: "worker.pool_max_tasks", kind: "int", min: 0, env: ["REPROQ_POOL_MAX_TASKS"], flag: "pool-max-tasks", default: 0,
    scopes: WORKER, hint: "n", description: "python-pool: fork mode: start a fresh pool after this many tasks; persistent mode: replace a child after it ran this many (0 = no limit)" },
  { key: "worker.pool_max_child_rss_mb", kind: "int", min: 0, env: ["REPROQ_POOL_MAX_CHILD_RSS_MB"], flag: "pool-max-child-rss-mb",
    default: 0, scopes: WORKER, hint: "mb",
    description: "python-pool persistent mode: replace a child whose resident memory is above this many MiB after a task (0 = no limit)" },
  { key: "worker.pool_db_reuse", kind: "bool", env: ["REPROQ_POOL_DB_REUSE"], flag: "pool-db-reuse", default: true, scopes: WORKER,
    description: "python-pool persistent mode: a child keeps a healthy Django database connection from one task to the next even with CONN_MAX_AGE = 0 (broken ones, ones left in a transaction and ones past a positive CONN_MAX_AGE are still closed); false: close it after every task as Django does after a request" },
  { key: "worker.pool_max_age", kind: "duration", min: 0, env: ["REPROQ_POOL_MAX_AGE"], flag: "pool-max-age", default: "0s",
    scopes: WORKER, description: "python-pool: start a fresh pool once the current one is this old (0 = no limit)" },
  { key: "worker.pool_stale_check_interval", kind: "duration", min: 0, env: ["REPROQ_POOL_STALE_CHECK_INTERVAL"],
    flag: "pool-stale-check-interval", default: "10s", scopes: WORKER,
    description: "python-pool: how often the pool's loaded source files are checked for changes; a change replaces the pool (0 = off)" },

  // [beat]
  { key: "beat.interval", kind: "duration", above: 0, env: ["REPROQ_BEAT_INTERVAL"], flag: "interval", default: "30s",
    scopes: BEAT, description: "How often beat looks for due periodic tasks" },
  { key: "beat.process_role", kind: "string", env: ["REPROQ_PROCESS_ROLE"], flag: "process-role", default: "beat",
    scopes: BEAT, hint: "role", description: "Process role label in beat logs" },

  // [retention]
  { key: "retention.finished_older_than", kind: "duration", days: true, min: 0, env: ["REPROQ_RETENTION_FINISHED_OLDER_THAN"],
    flag: "retention-finished-older-than", default: "0", scopes: WORKER,
    description: "Delete tasks that finished longer ago than this, in the background (0 = off; days allowed: 14d). One worker at a time prunes" },
  { key: "retention.statuses", kind: "list", env: ["REPROQ_RETENTION_STATUSES"], flag: "retention-statuses",
    default: ["SUCCESSFUL", "FAILED", "CANCELLED"], scopes: WORKER, hint: "A,B",
    description: "Statuses retention deletes: any of SUCCESSFUL, FAILED, CANCELLED (READY, RUNNING and WAITING are never deleted)" },
  { key: "retention.interval", kind: "duration", above: 0, env: ["REPROQ_RETENTION_INTERVAL"], flag: "retention-interval",
    default: "5m", scopes: WORKER, description: "How often retention looks for tasks to delete" },
  { key: "retention.batch_size", kind: "int", min: 1, max: 50000, env: ["REPROQ_RETENTION_BATCH_SIZE"],
    flag: "retention-batch-size", default: 1000, scopes: WORKER, hint: "n",
    description: "Rows deleted per transaction by retention (each batch commits)" },

  // [metrics]
  { key: "metrics.addr", kind: "string", env: ["METRICS_ADDR"], flag: "metrics-addr", default: "",
    example: "127.0.0.1:9090", scopes: WORKER, hint: "host:port",
    description: "Address for health, metrics and events (wins over port)" },
  { key: "metrics.port", kind: "int", min: 0, max: 65535, env: ["METRICS_PORT"], flag: "metrics-port", default: 0,
    scopes: WORKER, hint: "port", description: "Port for health, metrics and events on all interfaces (0 = off)" },
  { key: "metrics.auth_token", kind: "string", env: ["METRICS_AUTH_TOKEN"], flag: "metrics-auth-token", default: "",
    scopes: WORKER, hint: "token", description: "Bearer token (also the JWT secret) for the HTTP endpoints" },
  { key: "metrics.allow_cidrs", kind: "list", env: ["METRICS_ALLOW_CIDRS"], flag: "metrics-allow-cidrs", default: [],
    example: ["127.0.0.1/32"], scopes: WORKER, hint: "cidr,cidr", description: "IP/CIDR allow-list for the HTTP endpoints" },
  { key: "metrics.auth_limit", kind: "int", min: 1, env: ["METRICS_AUTH_LIMIT"], flag: "metrics-auth-limit", default: 30,
    scopes: WORKER, hint: "n", description: "Unauthorized requests allowed per host per window" },
  { key: "metrics.auth_window", kind: "duration", above: 0, env: ["METRICS_AUTH_WINDOW"], flag: "metrics-auth-window",
    default: "1m", scopes: WORKER, description: "Window for counting unauthorized requests" },
  { key: "metrics.auth_max_entries", kind: "int", min: 1, env: ["METRICS_AUTH_MAX_ENTRIES"],
    flag: "metrics-auth-max-entries", default: 1000, scopes: WORKER, hint: "n",
    description: "Most hosts tracked by the unauthorized-request limiter" },
  { key: "metrics.tls_cert", kind: "string", env: ["METRICS_TLS_CERT"], flag: "metrics-tls-cert", default: "",
    scopes: WORKER, hint: "path", description: "TLS certificate file for the HTTP endpoints" },
  { key: "metrics.tls_key", kind: "string", env: ["METRICS_TLS_KEY"], flag: "metrics-tls-key", default: "",
    scopes: WORKER, hint: "path", description: "TLS private key file for the HTTP endpoints" },
  { key: "metrics.tls_client_ca", kind: "string", env: ["METRICS_TLS_CLIENT_CA"], flag: "metrics-tls-client-ca",
    default: "", scopes: WORKER, hint: "path", description: "CA bundle; when set, clients must present a certificate (mTLS)" },
  { key: "metrics.collect_interval", kind: "duration", above: 0, env: ["METRICS_COLLECT_INTERVAL"],
    flag: "metrics-collect-interval", default: "5s", scopes: WORKER,
    description: "How often the database-wide gauges (queue depth, workers, paused queues) are refreshed" },
  { key: "metrics.health_stall_timeout", kind: "duration", above: 0, env: ["REPROQ_HEALTH_STALL_TIMEOUT"],
    flag: "health-stall-timeout", default: "30s", scopes: WORKER,
    description: "/healthz answers 503 once task results could not be written, or claims have failed or waited, for this long (e.g. a lock on task_runs)" },
];

/** File sections (tables) and the commands that read them. */
export const SECTIONS = ["database", "worker", "beat", "retention", "metrics"] as const;
export type Section = (typeof SECTIONS)[number];

export const SETTINGS_BY_KEY: ReadonlyMap<string, Setting> = new Map(SETTINGS.map((s) => [s.key, s]));

/** Every key a config file may contain, including aliases like worker.dsn. */
export const KNOWN_FILE_KEYS: ReadonlySet<string> = new Set(
  SETTINGS.flatMap((s) => [s.key, ...(s.aliases ?? []).map((a) => a.key)]),
);

/** The section a key lives in ("" for top-level keys). */
export function sectionOf(key: string): string {
  const dot = key.indexOf(".");
  return dot === -1 ? "" : key.slice(0, dot);
}

export function defaultOf(setting: Setting): RawValue {
  return typeof setting.default === "function" ? setting.default() : setting.default;
}

/** Whether a command scope uses (and so validates) a setting. */
export function inScope(setting: Setting, scope: ConfigScope): boolean {
  return scope === "all" || setting.scopes.includes(scope);
}
