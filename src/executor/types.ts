// The one interface between the worker runtime and task processes. The runtime hands over an
// ExecutionRequest and always gets an ExecutionResult back (run() never throws); deciding what
// the result means for the row (success, retry, failure kind) is the runtime's job.
import type { WorkerConfig } from "../config/index.ts";
import type { Logger } from "../observability/logger.ts";

export interface ExecutionRequest {
  /** task_runs.result_id as a decimal string. */
  resultId: string;
  /** 1-based attempt count (attempts after the claim). */
  attempt: number;
  taskPath: string;
  /** spec_json::text, passed to the executor byte-for-byte. */
  payload: string;
  /**
   * `payload` already parsed by the caller (resolveTaskPath), so an executor that needs the
   * object (bun-inprocess) does not parse it again. Must be JSON.parse(payload) when given.
   */
  spec?: Readonly<Record<string, unknown>>;
  /** Already min(task timeout, exec_timeout); ≤ 0 or non-finite means no limit. */
  timeoutMs: number;
  /** Aborted by the runtime for cancel / lost lease / shutdown: the process group is stopped. */
  signal: AbortSignal;
}

export type ExecutionOutcome =
  | "exited" // the process ended on its own (any exit code)
  | "timeout" // we stopped it because timeoutMs elapsed
  | "aborted" // we stopped it because request.signal aborted
  | "payload_too_large" // never started: payload bytes > maxPayloadBytes
  | "start_failed" // never started: spawn error, temp file error, bad configuration
  | "security_violation"; // never started: the task path resolves outside tasks_dir (bun kinds)

export interface Envelope {
  ok: boolean;
  /** Raw JSON text of `return` (NaN/Infinity repaired to null); null when the key is absent. */
  returnJson: string | null;
  exceptionClass: string;
  message: string;
  traceback: string;
}

export interface ExecutionResult {
  outcome: ExecutionOutcome;
  /** Human text for errors_json, e.g. "timed out after 30s; stopped by SIGTERM". */
  message: string;
  /** null when killed by a signal or never started. */
  exitCode: number | null;
  /** Signal that ended the process, e.g. "SIGTERM". */
  signal: string | null;
  envelope: Envelope | null;
  /** When envelope is null: why, describing what stdout held. */
  envelopeProblem: string | null;
  /** Captured text; over its limit, the head and tail around a truncationMarker() (capture.ts). */
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  durationMs: number;
  pid: number | null;
}

export interface Executor {
  run(request: ExecutionRequest): Promise<ExecutionResult>;
  /**
   * Optional lifecycle for kinds that keep processes between tasks (python-pool). The runtime
   * calls start() before the first claim and stop() after the last task; neither throws.
   */
  start?(): Promise<void>;
  stop?(): Promise<void>;
  /** Pick up code changes (SIGHUP): replace warm processes; running tasks finish where they are. */
  reload?(reason: string): void;
  /**
   * Set by the kinds that run reproq_django.executor (python, python-pool, command): the
   * DJANGO_SETTINGS_MODULE their processes get (null: none). That executor imports a row's
   * spec_json.django.settings_module in its place, so the worker checks the key first
   * (settingsModuleRefusal). Absent for the bun kinds, which never load Django settings.
   */
  readonly django?: { readonly settingsModule: string | null };
  /**
   * The worker is shutting down and about to stop the tasks still running. bun-inprocess then
   * abandons a task that ignores its aborted signal after SHUTDOWN_GRACE_MS instead of the kill
   * grace: there is no process to kill, and the worker exits right after.
   */
  shuttingDown?(): void;
  /**
   * Tasks this executor takes beyond the worker's concurrency while tasks are short: they wait
   * inside it and start the moment one of its `concurrency` runners frees, without a round trip
   * to the worker (python-pool persistent: 1, as a Celery child prefetches). Their timeout starts
   * when they start. The worker counts them as running. Absent: 0.
   */
  readonly queueAhead?: number;
}

export interface ExecutorOptions {
  worker: WorkerConfig;
  /** The config's environment snapshot; the child gets it minus worker.executorEnvDeny. */
  env: Readonly<Record<string, string>>;
  /**
   * SIGTERM → SIGKILL delay for the process group. Default 5000. bun-inprocess: how long a
   * stopped task may take to settle after its signal was aborted before the slot is freed.
   */
  killGraceMs?: number;
  /** How long to wait for pipe EOF once the direct child has exited. Default 2000. */
  pipeDrainMs?: number;
  /** Where payload files go (payload_mode file). Default env TMPDIR, else /tmp. */
  tmpDir?: string;
  /** Lifecycle messages of long-lived executors (python-pool). Default: none. */
  logger?: Logger;
  /** python-pool supervision timing (tests shorten them). */
  pool?: PoolTiming;
}

export interface PoolTiming {
  /** Ping the pool this often. Default 3000. */
  pingIntervalMs?: number;
  /** No pong for this long: the pool is hung and gets killed. Default 15000. */
  pingTimeoutMs?: number;
  /** Longest wait for the pool's imports and django.setup(). Default 120000. */
  startTimeoutMs?: number;
  /** First restart delay after a crash; doubles per consecutive failure. Default 500. */
  restartBackoffMs?: number;
  /** Consecutive failures before falling back to spawn-per-task. Default 3. */
  maxFailures?: number;
}

export const DEFAULT_KILL_GRACE_MS = 5000;

/**
 * An abort reason that skips the kill grace: the task's process group gets SIGKILL at once. The
 * worker uses it when other workers may declare it dead any moment (its rows are about to be
 * rescued), so nothing of the task may outlive that.
 */
export class KillAtOnce extends Error {}

/** The signal was aborted with KillAtOnce. */
export function killsAtOnce(signal: AbortSignal): boolean {
  return signal.reason instanceof KillAtOnce;
}
/** bun-inprocess at shutdown: how long a stopped task may take to settle before it is abandoned. */
export const SHUTDOWN_GRACE_MS = 1000;
export const DEFAULT_PIPE_DRAIN_MS = 2000;
