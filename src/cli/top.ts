// reproq top: the interactive dashboard (SPEC §9). Loads the database settings like the other
// operator commands, opens a small pool, hands a DashboardSource to renderTop (src/tui/) and
// closes the pool when the operator quits. Needs a terminal on stdin and stdout.
import { isatty } from "node:tty";
import { defineCommand } from "citty";
import { configArgs, parseGoDuration } from "../config/index.ts";
import type { Config } from "../config/index.ts";
import { closeDb, connectDb, type Sql } from "../db/client.ts";
import { errorMessage, UsageError } from "../errors.ts";
import { flagValues, loadCommandConfig, requireDsn } from "./context.ts";
import { uiOf } from "./ui.ts";

const settingArgs = configArgs("db");
const DEFAULT_REFRESH = "2s";
const MIN_REFRESH_MS = 100;
const DEFAULT_HORIZON_WARN = "60s";
const POOL_SIZE = 3;

/**
 * Session settings of the dashboard's pool: the server cancels any statement after 10 s (that
 * refresh shows as degraded/down and the next one tries again), so one pathological query can
 * never hold the database; a lock wait ends after 3 s (an ACCESS EXCLUSIVE lock on task_runs
 * must not hold the pool's three connections, so the hazard warning that names the lock's holder
 * gets through); JIT off (it costs tens of ms per read and never pays off here).
 */
export const TOP_SESSION_SETTINGS: Readonly<Record<string, string>> = { statement_timeout: "10s", lock_timeout: "3s", jit: "off" };

/**
 * openDatabase (context.ts) with TOP_SESSION_SETTINGS. A pooler that refuses them as startup
 * parameters (PgBouncer: "unsupported startup parameter") gets a plain connection instead.
 */
export async function openTopDatabase(config: Config, settings: Readonly<Record<string, string>> = TOP_SESSION_SETTINGS): Promise<Sql> {
  const options = {
    dsn: requireDsn(config),
    env: config.env,
    poolSize: Math.min(POOL_SIZE, config.database.poolSize),
    connectTimeoutMs: config.database.connectTimeoutMs,
    prepare: config.database.prepare,
    applicationName: "reproq",
  };
  try {
    return await connectDb({ ...options, sessionSettings: settings });
  } catch (err) {
    if (!/unsupported startup parameter/i.test(errorMessage(err))) throw err;
    return connectDb(options);
  }
}

const topArgs = {
  refresh: { type: "string", valueHint: "duration", description: `Time between refreshes, a Go duration (default ${DEFAULT_REFRESH})` },
  "read-only": { type: "boolean", description: "Hide and refuse every action (retry, discard, cancel, replay, pause, resume)" },
  "events-url": { type: "string", valueHint: "url", description: "A worker's /events URL to tail live, e.g. http://worker:9100/events (key e)" },
  token: { type: "string", valueHint: "token", description: "Bearer token for --events-url (default env METRICS_AUTH_TOKEN)" },
  "no-color": { type: "boolean", description: "No colours (also when NO_COLOR is set or TERM=dumb)" },
  "horizon-warn": { type: "string", valueHint: "duration", description: `Warn when a snapshot has held back the xmin horizon this long, a Go duration (default ${DEFAULT_HORIZON_WARN})` },
} as const;

export function parseRefresh(value: unknown): number {
  const text = typeof value === "string" && value.trim() !== "" ? value.trim() : DEFAULT_REFRESH;
  let ms: number;
  try {
    ms = parseGoDuration(text);
  } catch {
    throw new UsageError(`--refresh must be a duration such as 500ms, 2s or 1m, got "${text}"`);
  }
  if (!(ms >= MIN_REFRESH_MS)) throw new UsageError(`--refresh must be at least ${MIN_REFRESH_MS}ms, got "${text}"`);
  return ms;
}

export function parseHorizonWarn(value: unknown): number {
  const text = typeof value === "string" && value.trim() !== "" ? value.trim() : DEFAULT_HORIZON_WARN;
  let ms: number;
  try {
    ms = parseGoDuration(text);
  } catch {
    throw new UsageError(`--horizon-warn must be a duration such as 30s or 2m, got "${text}"`);
  }
  if (!(ms >= 0)) throw new UsageError(`--horizon-warn must not be negative, got "${text}"`);
  return ms / 1000;
}

function eventsUrl(value: unknown): string | null {
  if (typeof value !== "string" || value.trim() === "") return null;
  try {
    const url = new URL(value.trim());
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http");
    return url.toString();
  } catch {
    throw new UsageError(`--events-url must be an http(s) URL, got "${value}"`);
  }
}

export default defineCommand({
  meta: { name: "top", description: "Interactive dashboard: queues, workers, failures, periodic tasks; retry/cancel/pause with confirmation" },
  args: { ...settingArgs, ...topArgs },
  async run(context) {
    const ui = uiOf(context);
    const args = context.args as Record<string, unknown>;
    const refreshMs = parseRefresh(args.refresh);
    const horizonWarnSeconds = parseHorizonWarn(args["horizon-warn"]);
    const url = eventsUrl(args["events-url"]);
    if (!isatty(1) || !isatty(0)) throw new UsageError("reproq top needs a terminal (stdin and stdout must be a TTY); for scripts use 'reproq queue' or 'reproq triage'");
    const config = await loadCommandConfig(ui, "db", flagValues(args, Object.keys(settingArgs)));
    const { colourEnabled } = await import("../tui/theme.tsx");
    const colour = colourEnabled(config.env, args["no-color"] === true || args.color === false);
    const token = typeof args.token === "string" && args.token !== "" ? args.token : config.env.METRICS_AUTH_TOKEN || null;
    const readOnly = args["read-only"] === true;
    const sql = await openTopDatabase(config);
    const [{ createDashboardSource }, { renderTop }] = await Promise.all([import("../tui/data.ts"), import("../tui/index.tsx")]);
    // The READY list shows the claim order of workers configured like this file/environment.
    const source = createDashboardSource(sql, { readOnly, ownsPool: false, priorityAgingFactor: config.worker.priorityAgingFactor, horizonWarnSeconds });
    try {
      await renderTop({ source, refreshMs, readOnly, colour, eventsUrl: url, token });
    } finally {
      await source.close().catch(() => {});
      await closeDb(sql, 2);
    }
    // A driver reconnect timer left by a dropped connection must not keep the process alive.
    setTimeout(() => process.exit(0), 1_000).unref();
    return 0;
  },
});
