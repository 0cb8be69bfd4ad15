// reproq worker: claim and run tasks until SIGTERM/SIGINT (SPEC §4). Accepts every flag
// `manage.py reproq worker` passes; all settings also come from env and the config file.
import { hostname } from "node:os";
import { type CommandContext, defineCommand } from "citty";
import { configArgs } from "../config/index.ts";
import { closeDb, statementBoundMs } from "../db/client.ts";
import { ConfigError } from "../errors.ts";
import { allowListWarning, createExecutor, effectiveAllowList, logsDirProblem } from "../executor/index.ts";
import { pythonSpeedHint } from "../executor/python-pool/speed-hint.ts";
import { listenAddress } from "../http/address.ts";
import type { HttpServer } from "../http/server.ts";
import { createLogger, type Logger } from "../observability/logger.ts";
import { runIdleCollector, runMemoryLogger } from "../observability/memory.ts";
import { BUILD_CHANNEL, VERSION } from "../version.ts";
import { loopStallMs, workerHealth } from "../worker/health.ts";
import { Worker } from "../worker/runtime.ts";
import { Telemetry } from "../worker/telemetry.ts";
import { poolerVerdict, refusalMessage, switchMessage, withoutSessionState } from "../worker/pooler-guard.ts";
import { claimSessionSize, configuredPooler, flagValues, loadCommandConfig, openClaimSession, openDatabase } from "./context.ts";
import { EXIT_OK, EXIT_RESULTS_UNWRITTEN } from "./exit.ts";
import { guardStartup, type StartupSignals } from "./startup-signals.ts";
import { uiOf } from "./ui.ts";

const settingArgs = configArgs("worker");

export default defineCommand({
  meta: { name: "worker", description: "Claim due tasks and run them through the executor until stopped" },
  args: settingArgs,
  async run(context) {
    let logger: Logger | null = null;
    const signals = guardStartup(() => logger);
    try {
      return await runWorker(context, (created) => (logger = created), signals);
    } finally {
      signals.release();
    }
  },
});

async function runWorker(context: CommandContext<typeof settingArgs>, setLogger: (logger: Logger) => void, signals: StartupSignals): Promise<number> {
  const ui = uiOf(context);
  let config = await loadCommandConfig(ui, "worker", flagValues(context.args, Object.keys(settingArgs)));
  let worker = config.worker;
  // A logs_dir that cannot be written would lose every task's output without a word: refuse it
  // like any other bad setting (exit 2), before connecting.
  const logsDir = await logsDirProblem(config);
  if (logsDir !== null) throw new ConfigError([logsDir]);
  const logger = await createLogger({ format: config.log.format, level: config.log.level, base: { worker_id: worker.workerId } });
  setLogger(logger);
  const allowList = allowListWarning(worker.allowedTaskModules);
  if (allowList) {
    logger.warn(`allowed_task_modules ${allowList.message}`, { allowed_task_modules: effectiveAllowList(worker.allowedTaskModules).join(","), hint: allowList.hint });
  }

  if (worker.payloadMode === "inline") {
    if (BUILD_CHANNEL === "release") {
      logger.error("Payload mode inline disabled in production builds; use stdin or file", { payload_mode: "inline" });
      return 1;
    }
    logger.warn("Payload mode inline exposes payload in process args; prefer stdin or file", { payload_mode: "inline" });
  }
  let address = listenAddress(config.metrics); // a malformed address is a usage error (exit 2)
  if (config.lowMemoryMode) {
    logger.warn("Low memory mode enabled; metrics/health/events disabled", { env: "LOW_MEMORY_MODE" });
    if (address) logger.warn("Skipping metrics server due to low memory mode", { addr: config.metrics.addr || `:${config.metrics.port}` });
    address = null;
  }

  // The server and its libraries (prom-client, jose) load only when it is on.
  const http = address ? await loadHttp() : null;
  if (http) await http.checkHttpConfig(config.metrics); // bad settings fail before connecting (exit 2)
  // Prepared statements and LISTEN must never cross a transaction pooler (pooler-guard.ts).
  const pooler = poolerVerdict(config, await configuredPooler(config));
  if (pooler.kind === "refuse") throw new ConfigError([refusalMessage(pooler.settings)]);
  if (pooler.kind === "switch") {
    logger.warn(switchMessage(), { switched_off: pooler.settings.join(",") });
    config = withoutSessionState(config);
    worker = config.worker;
  }
  // Behind a transaction pooler the claim session's settings would not stay with its connections.
  const claimSize = pooler.kind === "none" ? claimSessionSize(config.database.poolSize) : 0;
  const sql = await openDatabase(config, { poolSize: config.database.poolSize - claimSize, bounded: true, logger });
  const claimSession = await openClaimSession(config, claimSize, logger);
  const observed = http ? { metrics: new http.Metrics(), events: new http.EventBroker() } : null;
  const executor = createExecutor({ worker, env: config.env, logger });
  if (worker.executor === "python-pool") logger.info("Python executor: python-pool", { pool_mode: worker.poolMode });
  const speedHint = pythonSpeedHint(worker);
  if (speedHint !== null) logger.info("A faster Python executor setting is available", { executor: worker.executor, hint: speedHint });
  const runtime = new Worker({
    sql,
    worker,
    executor,
    logger,
    identity: { workerId: worker.workerId, hostname: hostname(), concurrency: worker.concurrency, queues: worker.queues, version: VERSION },
    telemetry: new Telemetry({
      metrics: observed?.metrics ?? null,
      events: observed?.events ?? null,
      workerId: worker.workerId,
      role: worker.processRole,
      poolSize: config.database.poolSize,
    }),
    collectIntervalMs: config.metrics.collectIntervalMs,
    retention: config.retention,
    queryTimeoutMs: config.database.queryTimeoutMs,
    claimSession,
    // Each open short-task batch holds a connection while its tasks run: at most half the pool.
    shortBatchLimit: Math.max(1, Math.floor((config.database.poolSize - claimSize) / 2)),
  });
  const background = new AbortController();
  const memoryLogger = runMemoryLogger(logger, config.memoryLogIntervalMs, background.signal);
  const idleCollector = runIdleCollector(runtime, logger, background.signal);
  let server: HttpServer | null = null;
  // SIGTERM/SIGINT: stop claiming and drain (a second one stops running tasks).
  signals.handOff(() => runtime.requestShutdown());
  // SIGHUP: pick up new code (python-pool starts a fresh pool). Other kinds keep the default.
  const onHangup = () => executor.reload?.("SIGHUP");
  if (executor.reload) process.on("SIGHUP", onHangup);
  try {
    if (http && observed) {
      server = await http.startHttpServer({
        config: config.metrics,
        logger,
        registry: observed.metrics.registry,
        broker: observed.events,
        health: workerHealth(sql, runtime, {
          // A claim may take a connect timeout, then its statement bound and the watchdog's grace.
          maxLoopAgeMs: loopStallMs(worker.pollMaxBackoffMs, config.database.connectTimeoutMs + statementBoundMs(config.database.queryTimeoutMs)),
          pingTimeoutMs: 5_000,
          concurrency: worker.concurrency,
          workerId: worker.workerId,
          stallTimeoutMs: config.metrics.healthStallTimeoutMs,
        }),
      });
    }
    await runtime.run();
  } finally {
    background.abort();
    await memoryLogger;
    await idleCollector;
    await server?.stop();
    await Promise.all([closeDb(sql, 2), claimSession?.close(2)]);
    process.off("SIGHUP", onHangup);
  }
  // Everything the worker held is released; do not let a stray reconnect timer of the driver, or
  // a bun-inprocess task abandoned at shutdown (its timers), keep the process alive. The short
  // delay lets the last log lines reach a slow reader.
  // Results that could not be written (database unreachable until the end): a distinct code, so
  // a supervisor or an operator sees that the result journal holds them.
  const code = runtime.unwrittenResults > 0 ? EXIT_RESULTS_UNWRITTEN : EXIT_OK;
  setTimeout(() => process.exit(code), 250).unref();
  return code;
}

async function loadHttp() {
  const [server, metrics, events] = await Promise.all([
    import("../http/server.ts"),
    import("../observability/metrics.ts"),
    import("../observability/events.ts"),
  ]);
  return { checkHttpConfig: server.checkHttpConfig, startHttpServer: server.startHttpServer, Metrics: metrics.Metrics, EventBroker: events.EventBroker };
}
