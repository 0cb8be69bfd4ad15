// reproq beat: enqueue due periodic tasks every interval (SPEC §6), or once with --once (for a
// system cron / `manage.py reproq schedule`). Safe to run more than one (SKIP LOCKED).
// Exit codes: 0 after a clean shutdown or a clean --once; 1 when --once had a failing row or the
// tick failed; 2 for bad flags/settings (e.g. --interval 0).
import { type CommandContext, defineCommand } from "citty";
import { Beat } from "../beat/scheduler.ts";
import { configArgs } from "../config/index.ts";
import { closeDb } from "../db/client.ts";
import { createLogger, type Logger } from "../observability/logger.ts";
import { runMemoryLogger } from "../observability/memory.ts";
import { EXIT_FAILURE, EXIT_OK } from "./exit.ts";
import { ConfigError } from "../errors.ts";
import { beatPoolerMessage, poolerVerdictForBeat, withoutSessionState } from "../worker/pooler-guard.ts";
import { configuredPooler, flagValues, loadCommandConfig, openDatabase, requireDsn } from "./context.ts";
import { guardStartup, type StartupSignals } from "./startup-signals.ts";
import { uiOf } from "./ui.ts";

const settingArgs = configArgs("beat");
const beatArgs = {
  ...settingArgs,
  once: { type: "boolean", description: "Enqueue due tasks once and exit (non-zero if any row failed)", default: false },
} as const;

export default defineCommand({
  meta: { name: "beat", description: "Enqueue due periodic tasks (periodic_tasks) on their cron schedules" },
  args: beatArgs,
  async run(context) {
    let startedLogger: Logger | null = null;
    const signals = guardStartup(() => startedLogger);
    try {
      return await runBeat(context, (created) => (startedLogger = created), signals);
    } finally {
      signals.release();
    }
  },
});

async function runBeat(context: CommandContext<typeof beatArgs>, setLogger: (logger: Logger) => void, signals: StartupSignals): Promise<number> {
  const ui = uiOf(context);
  let config = await loadCommandConfig(ui, "beat", flagValues(context.args, Object.keys(settingArgs)));
  const once = context.args.once === true;
  const role = config.beat.processRole.trim() || "beat";
  const logger = await createLogger({ format: config.log.format, level: config.log.level, base: { worker_id: role, role } });
  setLogger(logger);

  requireDsn(config); // a missing DSN is a usage error (exit 2), like the worker
  let sql;
  try {
    // Prepared statements must never cross a transaction pooler (pooler-guard.ts), as for the worker.
    const pooler = poolerVerdictForBeat(config, await configuredPooler(config, "reproq beat"));
    if (pooler.kind === "refuse") throw new ConfigError([beatPoolerMessage(pooler)]);
    if (pooler.kind === "switch") {
      logger.warn(beatPoolerMessage(pooler), { switched_off: pooler.settings.join(",") });
      config = withoutSessionState(config);
    }
    sql = await openDatabase(config, { poolSize: Math.min(config.database.poolSize, 2), bounded: true, logger });
  } catch (error) {
    if (error instanceof ConfigError) throw error; // exit 2 with the flags to use
    logger.error("Failed to open database", { error });
    return EXIT_FAILURE;
  }
  // `interval` in nanoseconds, as the Go worker logged a Duration; interval_ms for people.
  logger.info("Starting reproq beat", { interval: config.beat.intervalMs * 1_000_000, interval_ms: config.beat.intervalMs, once });
  const beat = new Beat({ sql, logger, intervalMs: config.beat.intervalMs });
  try {
    if (once) {
      signals.release(); // a stop during the tick: the default action (143), the tick's transaction rolls back
      const result = await beat.tick();
      logger.info("Beat run complete", { once: true, enqueued: result.enqueued, failed: result.failed });
      return result.error !== undefined || result.failed > 0 ? EXIT_FAILURE : EXIT_OK;
    }
    const shutdown = new AbortController();
    signals.handOff(() => shutdown.abort());
    const memoryLogger = runMemoryLogger(logger, config.memoryLogIntervalMs, shutdown.signal);
    await beat.start(shutdown.signal);
    await memoryLogger;
    logger.info("Shutting down beat");
    return EXIT_OK;
  } finally {
    await closeDb(sql, 2);
    // Do not let a stray reconnect timer of the driver keep the process alive.
    setTimeout(() => process.exit(), 3_000).unref(); // keeps process.exitCode
  }
}
