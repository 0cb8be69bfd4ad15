// The shape of the one configuration object every command receives. Durations are
// milliseconds; every object and array is frozen.

export type ConfigScope = "worker" | "beat" | "db" | "all";
/** The scopes a setting can belong to; "all" (doctor) covers every setting. */
export type CommandScope = Exclude<ConfigScope, "all">;

export const LOG_FORMATS = ["auto", "json", "pretty"] as const;
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export const PAYLOAD_MODES = ["stdin", "file", "inline"] as const;
export const EXECUTOR_KINDS = ["python", "python-pool", "command", "bun", "bun-inprocess"] as const;
export const POOL_MODES = ["fork", "persistent"] as const;

export type LogFormat = (typeof LOG_FORMATS)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];
export type PayloadMode = (typeof PAYLOAD_MODES)[number];
export type ExecutorKind = (typeof EXECUTOR_KINDS)[number];
export type PoolMode = (typeof POOL_MODES)[number];

export interface DatabaseConfig {
  readonly poolSize: number;
  readonly connectTimeoutMs: number;
  /** worker and beat: statement_timeout of their sessions; the client gives up QUERY_GRACE_MS later (0 = no bound). */
  readonly queryTimeoutMs: number;
  /** Prepared statements; off for PgBouncer in transaction pooling mode. */
  readonly prepare: boolean;
}

export interface LogConfig {
  /** auto = json when stdout is not a TTY, pretty otherwise. */
  readonly format: LogFormat;
  readonly level: LogLevel;
}

export interface WorkerConfig {
  readonly workerId: string;
  readonly processRole: string;
  readonly queues: readonly string[];
  /** Empty means "use the built-in fallback" (myapp.tasks., tasks.); ["*"] disables the check. */
  readonly allowedTaskModules: readonly string[];
  readonly concurrency: number;
  readonly pollMinBackoffMs: number;
  readonly pollMaxBackoffMs: number;
  readonly leaseSeconds: number;
  /** 0 disables per-task heartbeats. */
  readonly heartbeatSeconds: number;
  /** 0 disables reclaiming expired leases. */
  readonly reclaimIntervalSeconds: number;
  readonly pythonBin: string;
  readonly executorModule: string;
  readonly payloadMode: PayloadMode;
  readonly maxPayloadBytes: number;
  readonly maxStdoutBytes: number;
  readonly maxStderrBytes: number;
  /** "" disables log files. */
  readonly logsDir: string;
  /** Where unwritten results go at shutdown and are replayed from at start (relative = to the working directory). */
  readonly journalDir: string;
  readonly execTimeoutMs: number;
  readonly maxAttemptsDefault: number;
  readonly shutdownTimeoutMs: number;
  /** Seconds of waiting per priority point; ≤ 0 disables aging. */
  readonly priorityAgingFactor: number;
  readonly listen: boolean;
  readonly claimBatchSize: number;
  /** Short-task batches: claim and complete in one transaction, tasks still running after this are claimed (0 = off). */
  readonly shortTaskBoundMs: number;
  readonly retryBaseSeconds: number;
  readonly retryMaxSeconds: number;
  readonly retryJitter: number;
  readonly registryHeartbeatSeconds: number;
  /** A worker whose registry heartbeat is this many registry_heartbeat_seconds old is dead. */
  readonly deadWorkerHeartbeats: number;
  readonly executor: ExecutorKind;
  readonly executorCommand: readonly string[];
  /** Task modules of the bun and bun-inprocess kinds, as configured (relative to the working directory). */
  readonly tasksDir: string;
  readonly executorEnvDeny: readonly string[];
  /** python-pool: modules imported once in the pool process besides executor_module. */
  readonly poolPreloadModules: readonly string[];
  /** python-pool: fork (a fresh child per task) or persistent (long-lived children, many tasks each). */
  readonly poolMode: PoolMode;
  /** python-pool: fork: replace the pool after this many tasks; persistent: replace a child after this many (0 = never). */
  readonly poolMaxTasks: number;
  /** python-pool persistent: replace a child whose resident size is above this after a task (0 = never). */
  readonly poolMaxChildRssMb: number;
  /** python-pool persistent: keep a healthy Django connection between tasks even with CONN_MAX_AGE = 0. */
  readonly poolDbReuse: boolean;
  /** python-pool: replace the pool once it is this old (0 = never). */
  readonly poolMaxAgeMs: number;
  /** python-pool: how often loaded source files are checked for changes (0 = never). */
  readonly poolStaleCheckIntervalMs: number;
}

export interface BeatConfig {
  readonly intervalMs: number;
  readonly processRole: string;
}

/** Background deletion of finished tasks by age (the worker's retention service). */
export interface RetentionConfig {
  /** 0 = off. */
  readonly finishedOlderThanMs: number;
  /** Upper-case; only SUCCESSFUL, FAILED, CANCELLED (validated). */
  readonly statuses: readonly string[];
  readonly intervalMs: number;
  readonly batchSize: number;
}

export interface MetricsConfig {
  /** "" = not set; wins over port. */
  readonly addr: string;
  /** 0 = disabled. */
  readonly port: number;
  readonly authToken: string;
  readonly allowCidrs: readonly string[];
  readonly authLimit: number;
  readonly authWindowMs: number;
  readonly authMaxEntries: number;
  readonly tlsCert: string;
  readonly tlsKey: string;
  readonly tlsClientCa: string;
  /** How often the collector refreshes the database-wide gauges. */
  readonly collectIntervalMs: number;
  /** /healthz fails once result writes or claims have made no progress for this long. */
  readonly healthStallTimeoutMs: number;
}

/** Where a setting's value came from: "default" | "file <path>" | "env NAME" | "flag --name". */
export type SettingSource = string;

export interface Config {
  /** "" when no DSN was given anywhere (commands that need one report it). */
  readonly dsn: string;
  readonly configFile: string | null;
  /** Non-fatal findings (unknown keys, …) for the CLI to print. */
  readonly warnings: readonly string[];
  /** Setting key (e.g. "worker.concurrency") → where its value came from. */
  readonly sources: Readonly<Record<string, SettingSource>>;
  /** Setting key → resolved value (durations in milliseconds), for `reproq config`. */
  readonly settings: Readonly<Record<string, string | number | boolean | readonly string[]>>;
  /** Snapshot of the environment, for the executor and PG* variables. */
  readonly env: Readonly<Record<string, string>>;
  readonly database: DatabaseConfig;
  readonly log: LogConfig;
  readonly lowMemoryMode: boolean;
  /** 0 = memory logging off. */
  readonly memoryLogIntervalMs: number;
  readonly worker: WorkerConfig;
  readonly beat: BeatConfig;
  readonly retention: RetentionConfig;
  readonly metrics: MetricsConfig;
}
