// reproq demo, start to finish: a database (server.ts), `migrate`, the demo task module written
// into a scratch tasks_dir (so the compiled binary needs no checkout), the scenario (seed.ts),
// then a worker and beat in this process until every task has finished, with a live status line
// and a summary. Everything it started is stopped and removed on the way out (also on Ctrl-C).
import { appendFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { Beat } from "../beat/scheduler.ts";
import { loadConfig, type Config } from "../config/index.ts";
import { closeDb, connectDb, type Sql } from "../db/client.ts";
import { migrate } from "../db/migrate.ts";
import { createExecutor } from "../executor/index.ts";
import { createLogger } from "../observability/logger.ts";
import { demoProgressRead, type DemoProgress } from "../queue/demo.ts";
import { VERSION } from "../version.ts";
import { Worker } from "../worker/runtime.ts";
import { DEMO_TASKS_FILE, DEMO_TASKS_SOURCE } from "./assets.ts";
import { formatStatusLine, formatSummary } from "./report.ts";
import { DEFAULT_SCENARIO, DEMO_QUEUES, DEMO_TASK_PREFIX, PERIODIC_TASK_PATH, seedScenario, type ScenarioSize } from "./seed.ts";
import { openDemoServer, type DemoServer } from "./server.ts";

export type DemoExecutor = "bun" | "bun-inprocess";

export interface DemoIo {
  info(message: string): void;
  success(message: string): void;
  warn(message: string): void;
  /** Summary lines (stdout). */
  out(line: string): void;
  /** The live one-line status (overwritten on a terminal). */
  status(line: string): void;
  /** Ends the status line (before other output). */
  statusDone(): void;
}

export interface DemoOptions {
  /** "" = no server given (see server.ts). */
  dsn: string;
  keep: boolean;
  executor: DemoExecutor;
  concurrency: number;
  env: Record<string, string | undefined>;
  io: DemoIo;
  /** Runs the dashboard on the demo database while the worker runs; null = no dashboard. */
  openTop: ((dsn: string) => Promise<void>) | null;
  size?: ScenarioSize;
  /** Give up waiting for the tasks after this long (the summary says what was left). */
  deadlineMs?: number;
  /** Aborts the demo early (Ctrl-C); cleanup still runs. */
  signal?: AbortSignal;
}

export interface DemoSummary {
  progress: DemoProgress;
  /** Every seeded task reached a final state before the deadline. */
  completed: boolean;
  elapsedSeconds: number;
  server: string;
}

const POLL_MS = 250;
/** How long the finally waits for the worker and beat to stop after an error (shutdown-timeout is 5s). */
const STOP_BOUND_MS = 10_000;
const DEFAULT_DEADLINE_MS = 45_000;
const FINAL = ["SUCCESSFUL", "FAILED", "CANCELLED"];
const ACTIVE = ["READY", "RUNNING", "WAITING"];

/** Environment variables that would change the demo's worker settings are not passed on. */
function demoEnvironment(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  const setting = /^(REPROQ_|PG|METRICS_)|^(DATABASE_URL|WORKER_ID|QUEUE_NAMES|ALLOWED_TASK_MODULES|PRIORITY_AGING_FACTOR|LOW_MEMORY_MODE)$/;
  for (const [name, value] of Object.entries(env)) if (!setting.test(name)) out[name] = value;
  return out;
}

async function demoConfig(options: DemoOptions, dsn: string, workDir: string, tasksDir: string): Promise<Config> {
  return loadConfig({
    scope: "worker",
    cwd: workDir, // no reproq.yaml of the user's project is picked up
    env: demoEnvironment(options.env),
    flags: {
      dsn,
      executor: options.executor,
      "tasks-dir": tasksDir,
      "allowed-task-modules": DEMO_TASK_PREFIX,
      queues: DEMO_QUEUES.join(","),
      concurrency: String(options.concurrency),
      "worker-id": `demo-${hostname()}-${process.pid}`,
      "poll-min-backoff": "20ms",
      "poll-max-backoff": "250ms",
      "retry-base-seconds": "0.5",
      "retry-max-seconds": "2",
      "heartbeat-seconds": "5",
      "lease-seconds": "30",
      "exec-timeout": "30s",
      "shutdown-timeout": "5s",
      "log-format": "json",
    },
  });
}

function isDone(progress: DemoProgress, expectedRows: number): boolean {
  const total = Object.values(progress.counts).reduce((a, b) => a + b, 0);
  const active = ACTIVE.reduce((n, status) => n + (progress.counts[status] ?? 0), 0);
  const final = FINAL.reduce((n, status) => n + (progress.counts[status] ?? 0), 0);
  return total >= expectedRows && active === 0 && final === total && progress.periodicRuns > 0;
}

/** Settles `promises`, giving up after `ms` (a stuck task or driver must not hang the demo). */
async function settleWithin(promises: Array<Promise<unknown> | null>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([Promise.allSettled(promises), bound]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const { io } = options;
  const stop = new AbortController();
  options.signal?.addEventListener("abort", () => stop.abort(), { once: true });
  const workDir = await mkdtemp(join(tmpdir(), "reproq-demo-"));
  const tasksDir = join(workDir, "tasks");
  const logFile = join(workDir, "worker.log");
  let server: DemoServer | null = null;
  let sql: Sql | null = null;
  let worker: Worker | null = null;
  let running: Array<Promise<unknown> | null> = [];
  try {
    server = await openDemoServer({ dsn: options.dsn, keep: options.keep, env: options.env, say: io.info });
    io.info(`database: ${server.description}`);
    const config = await demoConfig(options, server.dsn, workDir, tasksDir);
    sql = await connectDb({ dsn: server.dsn, env: {}, poolSize: Math.max(4, options.concurrency + 3), connectTimeoutMs: 10_000, prepare: true, applicationName: "reproq demo" });
    const migrated = await migrate(sql);
    io.info(`migrate: ${migrated.applied.length} migrations applied`);

    await Bun.write(join(tasksDir, DEMO_TASKS_FILE), DEMO_TASKS_SOURCE);
    const seeded = await seedScenario(sql, options.size ?? DEFAULT_SCENARIO);
    io.info(`enqueued ${seeded.enqueued} tasks: ${seeded.description.join("; ")}`);
    io.info(`running a worker (executor ${options.executor}, concurrency ${options.concurrency}) and beat; worker log: ${logFile}`);

    await writeFile(logFile, "");
    const logger = await createLogger({ format: "json", level: "info", base: { worker_id: config.worker.workerId }, write: (line) => appendFileSync(logFile, `${line}\n`) });
    worker = new Worker({
      sql,
      worker: config.worker,
      executor: createExecutor({ worker: config.worker, env: config.env, killGraceMs: 2_000 }),
      logger,
      identity: { workerId: config.worker.workerId, hostname: hostname(), concurrency: config.worker.concurrency, queues: config.worker.queues, version: VERSION },
    });
    const beat = new Beat({ sql, logger: logger.child({ role: "beat" }), intervalMs: 1_000 });
    const started = performance.now();
    const workerDone = worker.run();
    const beatDone = beat.start(stop.signal);
    const top = options.openTop ? options.openTop(server.dsn).finally(() => stop.abort()) : null;
    top?.catch(() => {}); // handled below (allSettled); not an unhandled rejection meanwhile
    running = [workerDone, beatDone, top];

    let progress = await demoProgressRead(sql, { periodicTaskPath: PERIODIC_TASK_PATH });
    let completed = false;
    const deadline = started + (options.deadlineMs ?? DEFAULT_DEADLINE_MS);
    while (!stop.signal.aborted) {
      progress = await demoProgressRead(sql, { periodicTaskPath: PERIODIC_TASK_PATH });
      if (!top) io.status(formatStatusLine(progress, seeded.expectedRows, (performance.now() - started) / 1000));
      if (isDone(progress, seeded.expectedRows)) {
        completed = true;
        if (!top) break;
      }
      if (!top && performance.now() > deadline) break;
      await sleep(POLL_MS, stop.signal);
    }
    io.statusDone();
    const elapsedSeconds = (performance.now() - started) / 1000;
    worker.requestShutdown();
    const stopped = await Promise.allSettled([workerDone, beat.stop(), beatDone]);
    const topEnded = top ? await Promise.allSettled([top]) : [];
    running = [];
    for (const result of [...stopped, ...topEnded]) if (result.status === "rejected") throw result.reason;
    progress = await demoProgressRead(sql, { periodicTaskPath: PERIODIC_TASK_PATH });
    const summary: DemoSummary = { progress, completed: completed || isDone(progress, seeded.expectedRows), elapsedSeconds, server: server.description };
    for (const line of formatSummary(summary, seeded.expectedRows)) io.out(line);
    return summary;
  } finally {
    io.statusDone();
    // After an error (or with the worker still draining): stop the worker and beat before the
    // pool is closed and the database dropped, without waiting forever.
    stop.abort();
    if (running.length > 0) {
      worker?.requestShutdown();
      await settleWithin(running, STOP_BOUND_MS);
    }
    if (sql) await closeDb(sql, 2).catch(() => {});
    if (server) {
      await server.cleanup().catch((error: unknown) => io.warn(`cleanup: ${error instanceof Error ? error.message : String(error)}`));
      if (server.keptNote) io.info(server.keptNote);
    }
    if (options.keep) io.info(`kept the demo's tasks_dir and worker log in ${workDir}`);
    else await rm(workDir, { recursive: true, force: true }).catch(() => {});
  }
}
