// Assembling the typed, deeply frozen Config from the resolved setting values.

import type { SettingValue } from "./kinds.ts";
import { withExecutorDefaults } from "./kind-defaults.ts";
import { SETTINGS } from "./settings.ts";
import {
  EXECUTOR_KINDS,
  LOG_FORMATS,
  LOG_LEVELS,
  PAYLOAD_MODES,
  POOL_MODES,
  type Config,
} from "./types.ts";

export interface BuildInput {
  readonly values: ReadonlyMap<string, SettingValue>;
  readonly configFile: string | null;
  readonly warnings: readonly string[];
  readonly sources: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string>>;
}

/** Typed reads of the resolved values; remembers which keys were read. */
function reader(values: ReadonlyMap<string, SettingValue>) {
  const read = new Set<string>();
  const get = (key: string): SettingValue => {
    const value = values.get(key);
    if (value === undefined) throw new Error(`config build reads unknown setting ${key}`);
    read.add(key);
    return value;
  };
  const typed = <T>(key: string, ok: (value: SettingValue) => value is SettingValue & T): T => {
    const value = get(key);
    if (!ok(value)) throw new Error(`setting ${key} has an unexpected type`); // kinds.ts guarantees the type
    return value;
  };
  return {
    read,
    str: (key: string) => typed<string>(key, (x): x is string => typeof x === "string"),
    num: (key: string) => typed<number>(key, (x): x is number => typeof x === "number"),
    bool: (key: string) => typed<boolean>(key, (x): x is boolean => typeof x === "boolean"),
    list: (key: string) => Object.freeze([...typed<readonly string[]>(key, (x): x is readonly string[] => Array.isArray(x))]),
    oneOf: <const T extends string>(key: string, options: readonly T[]) =>
      typed<T>(key, (x): x is T => typeof x === "string" && (options as readonly string[]).includes(x)),
  };
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

export function buildConfig(raw: BuildInput): Config {
  const input = { ...raw, ...withExecutorDefaults(raw.values, raw.sources) };
  const r = reader(input.values);
  const config: Config = {
    dsn: r.str("dsn"),
    configFile: input.configFile,
    warnings: [...input.warnings],
    sources: { ...input.sources },
    settings: Object.fromEntries(input.values),
    env: { ...input.env },
    database: {
      poolSize: r.num("database.pool_size"),
      connectTimeoutMs: r.num("database.connect_timeout"),
      queryTimeoutMs: r.num("database.query_timeout"),
      prepare: r.bool("database.prepare"),
    },
    log: { format: r.oneOf("log_format", LOG_FORMATS), level: r.oneOf("log_level", LOG_LEVELS) },
    lowMemoryMode: r.bool("low_memory_mode"),
    memoryLogIntervalMs: r.num("memory_log_interval"),
    worker: {
      workerId: r.str("worker.worker_id"),
      processRole: r.str("worker.process_role"),
      queues: r.list("worker.queues"),
      allowedTaskModules: r.list("worker.allowed_task_modules"),
      concurrency: r.num("worker.concurrency"),
      pollMinBackoffMs: r.num("worker.poll_min_backoff"),
      pollMaxBackoffMs: r.num("worker.poll_max_backoff"),
      leaseSeconds: r.num("worker.lease_seconds"),
      heartbeatSeconds: r.num("worker.heartbeat_seconds"),
      reclaimIntervalSeconds: r.num("worker.reclaim_interval_seconds"),
      pythonBin: r.str("worker.python_bin"),
      executorModule: r.str("worker.executor_module"),
      payloadMode: r.oneOf("worker.payload_mode", PAYLOAD_MODES),
      maxPayloadBytes: r.num("worker.max_payload_bytes"),
      maxStdoutBytes: r.num("worker.max_stdout_bytes"),
      maxStderrBytes: r.num("worker.max_stderr_bytes"),
      logsDir: r.str("worker.logs_dir"),
      journalDir: r.str("worker.journal_dir"),
      execTimeoutMs: r.num("worker.exec_timeout"),
      maxAttemptsDefault: r.num("worker.max_attempts_default"),
      shutdownTimeoutMs: r.num("worker.shutdown_timeout"),
      priorityAgingFactor: r.num("worker.priority_aging_factor"),
      listen: r.bool("worker.listen"),
      claimBatchSize: r.num("worker.claim_batch_size"),
      shortTaskBoundMs: r.num("worker.short_task_bound"),
      retryBaseSeconds: r.num("worker.retry_base_seconds"),
      retryMaxSeconds: r.num("worker.retry_max_seconds"),
      retryJitter: r.num("worker.retry_jitter"),
      registryHeartbeatSeconds: r.num("worker.registry_heartbeat_seconds"),
      deadWorkerHeartbeats: r.num("worker.dead_worker_heartbeats"),
      executor: r.oneOf("worker.executor", EXECUTOR_KINDS),
      executorCommand: r.list("worker.executor_command"),
      tasksDir: r.str("worker.tasks_dir"),
      executorEnvDeny: r.list("worker.executor_env_deny"),
      poolPreloadModules: r.list("worker.pool_preload_modules"),
      poolMode: r.oneOf("worker.pool_mode", POOL_MODES),
      poolMaxTasks: r.num("worker.pool_max_tasks"),
      poolMaxChildRssMb: r.num("worker.pool_max_child_rss_mb"),
      poolDbReuse: r.bool("worker.pool_db_reuse"),
      poolMaxAgeMs: r.num("worker.pool_max_age"),
      poolStaleCheckIntervalMs: r.num("worker.pool_stale_check_interval"),
    },
    beat: { intervalMs: r.num("beat.interval"), processRole: r.str("beat.process_role") },
    retention: {
      finishedOlderThanMs: r.num("retention.finished_older_than"),
      statuses: Object.freeze(r.list("retention.statuses").map((status) => status.toUpperCase())),
      intervalMs: r.num("retention.interval"),
      batchSize: r.num("retention.batch_size"),
    },
    metrics: {
      addr: r.str("metrics.addr"),
      port: r.num("metrics.port"),
      authToken: r.str("metrics.auth_token"),
      allowCidrs: r.list("metrics.allow_cidrs"),
      authLimit: r.num("metrics.auth_limit"),
      authWindowMs: r.num("metrics.auth_window"),
      authMaxEntries: r.num("metrics.auth_max_entries"),
      tlsCert: r.str("metrics.tls_cert"),
      tlsKey: r.str("metrics.tls_key"),
      tlsClientCa: r.str("metrics.tls_client_ca"),
      collectIntervalMs: r.num("metrics.collect_interval"),
      healthStallTimeoutMs: r.num("metrics.health_stall_timeout"),
    },
  };
  const unread = SETTINGS.filter((s) => !r.read.has(s.key)).map((s) => s.key);
  if (unread.length > 0) throw new Error(`settings missing from Config: ${unread.join(", ")}`); // registry/build mismatch
  return deepFreeze(config);
}
