// Test helpers for the executor layer: paths of the fake executors, a complete WorkerConfig,
// payload builders and a way to run one request with sensible defaults.
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WorkerConfig } from "../../../src/config/index.ts";
import { createExecutor, type ExecutionRequest, type ExecutionResult, type ExecutorOptions } from "../../../src/executor/index.ts";

export const EXECUTORS_DIR = import.meta.dir;
export const FAKE_EXECUTOR = join(EXECUTORS_DIR, "fake_executor.py");
export const MINIMAL_EXECUTOR = join(EXECUTORS_DIR, "minimal.sh");

/** The real interpreter behind `python3` (version-manager shims add ~300 ms per start). */
export const PYTHON = (() => {
  const probe = Bun.spawnSync(["python3", "-c", "import sys; print(sys.executable)"]);
  const path = probe.stdout.toString().trim();
  return probe.exitCode === 0 && path !== "" ? path : "python3";
})();

/** A worker config running the fake through the python kind (`python3 -m fake_executor`). */
export function workerConfig(overrides: Partial<WorkerConfig> = {}): WorkerConfig {
  return {
    workerId: "test-worker",
    processRole: "worker",
    queues: ["default"],
    allowedTaskModules: [],
    concurrency: 1,
    pollMinBackoffMs: 100,
    pollMaxBackoffMs: 1000,
    leaseSeconds: 300,
    heartbeatSeconds: 60,
    reclaimIntervalSeconds: 60,
    pythonBin: PYTHON,
    executorModule: "fake_executor",
    payloadMode: "stdin",
    maxPayloadBytes: 1024 * 1024,
    maxStdoutBytes: 1024 * 1024,
    maxStderrBytes: 1024 * 1024,
    logsDir: "",
    // Per config: a test's unwritten results never reach another test (created only when written).
    journalDir: join(tmpdir(), `reproq-test-journal-${randomUUID()}`),
    execTimeoutMs: 60_000,
    maxAttemptsDefault: 3,
    shutdownTimeoutMs: 30_000,
    priorityAgingFactor: 0,
    listen: true,
    claimBatchSize: 10,
    shortTaskBoundMs: 0,
    retryBaseSeconds: 30,
    retryMaxSeconds: 3600,
    retryJitter: 0.1,
    registryHeartbeatSeconds: 30,
    deadWorkerHeartbeats: 1.5,
    executor: "python",
    executorCommand: [],
    tasksDir: "tasks",
    executorEnvDeny: ["METRICS_AUTH_TOKEN"],
    poolPreloadModules: [],
    poolMode: "fork",
    poolMaxTasks: 0,
    poolMaxChildRssMb: 0, poolDbReuse: true,
    poolMaxAgeMs: 0,
    poolStaleCheckIntervalMs: 10_000,
    ...overrides,
  };
}

/** The test process's environment plus PYTHONPATH so `python3 -m fake_executor` resolves. */
export function testEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value;
  return { ...env, PYTHONPATH: EXECUTORS_DIR, ...extra };
}

/** A payload in Postgres' jsonb text style selecting a fake-executor mode. */
export function payloadFor(mode: string, kwargs: Record<string, unknown> = {}): string {
  return JSON.stringify({ args: [], kwargs: { mode, ...kwargs }, task_path: "tasks.fake" }).replace(/":/g, '": ').replace(/,"/g, ', "');
}

export function request(payload: string, overrides: Partial<ExecutionRequest> = {}): ExecutionRequest {
  return {
    resultId: "42",
    attempt: 1,
    taskPath: "tasks.fake",
    payload,
    timeoutMs: 30_000,
    signal: new AbortController().signal,
    ...overrides,
  };
}

/** Runs one request through a fresh executor; short kill grace / drain so tests stay quick. */
export function runFake(
  payload: string,
  options: { worker?: Partial<WorkerConfig>; request?: Partial<ExecutionRequest>; executor?: Partial<ExecutorOptions> } = {},
): Promise<ExecutionResult> {
  const executor = createExecutor({
    worker: workerConfig(options.worker),
    env: testEnv(),
    killGraceMs: 1000,
    pipeDrainMs: 1000,
    ...options.executor,
  });
  return executor.run(request(payload, options.request));
}

/** Is a process with this pid alive (and not a zombie)? */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = Bun.spawnSync(["ps", "-o", "stat=", "-p", String(pid)]).stdout.toString().trim();
  return stat !== "" && !stat.startsWith("Z");
}

/** The pid from a "grandchild pid N" line the fake writes to stderr. */
export function grandchildPid(stderr: string): number {
  const match = /grandchild pid (\d+)/.exec(stderr);
  if (!match?.[1]) throw new Error(`no grandchild pid in stderr: ${stderr}`);
  return Number(match[1]);
}

/** Polls until `check` is true or `timeoutMs` passes; returns the last result. */
export async function eventually(check: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (check()) return true;
    await Bun.sleep(50);
  }
  return check();
}
