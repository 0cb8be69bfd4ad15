// bun run bench:pool django … — the real-Django, whole-worker benchmark: see python-pool-django.ts.
// bun run bench:pool [tasks] [concurrencies] — spawn-per-task (executor python) against the warm
// pool (executor python-pool) on the fake Django-like project in tests/helpers/executors/fakedjango
// (a ~300 ms import, a setup() step, the real executor protocol). Executor level, no database:
// N tasks (default 40) per run at each concurrency (default "1,4"); prints tasks/s and the
// p50/p95 of the per-task time (request → result).
import { join } from "node:path";
import type { WorkerConfig } from "../../src/config/index.ts";
import { createExecutor, type ExecutionRequest, type Executor } from "../../src/executor/index.ts";
import { percentile } from "./common.ts";

if (Bun.argv[2] === "django") {
  await import("./python-pool-django.ts");
  process.exit(0);
}

const root = join(import.meta.dir, "..", "..");
const executorsDir = join(root, "tests", "helpers", "executors");
const total = Number(Bun.argv[2] ?? 40);
const concurrencies = (Bun.argv[3] ?? "1,4").split(",").map(Number);

const python = (() => {
  const probe = Bun.spawnSync(["python3", "-c", "import sys; print(sys.executable)"]);
  return probe.exitCode === 0 ? probe.stdout.toString().trim() : "python3";
})();

function workerConfig(executor: "python" | "python-pool"): WorkerConfig {
  return {
    workerId: "bench", processRole: "worker", queues: ["default"], allowedTaskModules: [], concurrency: 4,
    pollMinBackoffMs: 100, pollMaxBackoffMs: 1000, leaseSeconds: 300, heartbeatSeconds: 60, reclaimIntervalSeconds: 60,
    pythonBin: python, executorModule: "fakedjango.executor", payloadMode: "stdin", maxPayloadBytes: 1 << 20,
    maxStdoutBytes: 1 << 20, maxStderrBytes: 1 << 20, logsDir: "", journalDir: ".reproq", execTimeoutMs: 60_000, maxAttemptsDefault: 3,
    shutdownTimeoutMs: 30_000, priorityAgingFactor: 0, listen: true, claimBatchSize: 10, shortTaskBoundMs: 0, retryBaseSeconds: 30,
    retryMaxSeconds: 3600, retryJitter: 0.1, registryHeartbeatSeconds: 30, deadWorkerHeartbeats: 1.5, executor, executorCommand: [], tasksDir: "tasks",
    executorEnvDeny: [], poolPreloadModules: ["fakedjango.tasks"], poolMode: "fork", poolMaxTasks: 0, poolMaxChildRssMb: 0, poolDbReuse: true, poolMaxAgeMs: 0, poolStaleCheckIntervalMs: 10_000,
  };
}

function request(index: number): ExecutionRequest {
  const payload = JSON.stringify({ task_path: "tasks.bench", args: [], kwargs: { mode: "succeed", value: index } });
  return { resultId: String(index + 1), attempt: 1, taskPath: "tasks.bench", payload, timeoutMs: 60_000, signal: new AbortController().signal };
}

interface Measured {
  tasksPerSecond: number;
  p50: number;
  p95: number;
}

async function measure(executor: Executor, concurrency: number): Promise<Measured> {
  const durations: number[] = [];
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < total) {
      const index = next++;
      const t0 = performance.now();
      const result = await executor.run(request(index));
      durations.push(performance.now() - t0);
      if (result.envelope?.ok !== true) throw new Error(`task ${index} failed: ${result.message} ${result.stderr}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const elapsed = (performance.now() - started) / 1000;
  durations.sort((a, b) => a - b);
  return { tasksPerSecond: total / elapsed, p50: percentile(durations, 50), p95: percentile(durations, 95) };
}

const env: Record<string, string> = {};
for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value;
env.PYTHONPATH = executorsDir;

const fmt = (n: number) => n.toFixed(1);
console.log(`python-pool benchmark: ${total} tasks per run, fake slow-import executor (fakedjango), ${python}`);
console.log("kind         conc  tasks/s   p50 ms   p95 ms");
const rows: Record<string, Measured> = {};
for (const kind of ["python", "python-pool"] as const) {
  const executor = createExecutor({ worker: workerConfig(kind), env });
  const startedAt = performance.now();
  await executor.start?.();
  if (kind === "python-pool") console.log(`(pool start-up: ${fmt(performance.now() - startedAt)} ms, paid once per worker)`);
  for (const concurrency of concurrencies) {
    await measure(executor, concurrency); // warm-up run (page cache, pyc files)
    const result = await measure(executor, concurrency);
    rows[`${kind}/${concurrency}`] = result;
    console.log(`${kind.padEnd(12)} ${String(concurrency).padStart(4)}  ${fmt(result.tasksPerSecond).padStart(7)}  ${fmt(result.p50).padStart(7)}  ${fmt(result.p95).padStart(7)}`);
  }
  await executor.stop?.();
}
for (const concurrency of concurrencies) {
  const spawn = rows[`python/${concurrency}`];
  const pool = rows[`python-pool/${concurrency}`];
  if (spawn && pool) console.log(`concurrency ${concurrency}: pool is ${fmt(pool.tasksPerSecond / spawn.tasksPerSecond)}× spawn throughput`);
}
