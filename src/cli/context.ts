// Shared start-up for commands: load and validate the configuration (before any connection),
// print its warnings, and open the database with the configured pool settings.
import type { Config, ConfigScope } from "../config/index.ts";
import { configArgs, loadConfig } from "../config/index.ts";
import { closeDb, connectDb, type Sql } from "../db/client.ts";
import { detectTransactionPooler } from "../db/pooler.ts";
import { ConfigError, errorMessage, UsageError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { Ui } from "./ui.ts";

export type FlagValues = Record<string, string | boolean | undefined>;

export const DSN_REQUIRED = "DSN required (use --dsn, DATABASE_URL, or config file)";

/** Flag values as citty parsed them, keyed by declared flag name; undefined when not given. */
export function flagValues(args: Record<string, unknown>, names: readonly string[]): FlagValues {
  const out: FlagValues = {};
  for (const name of names) {
    const value = args[name];
    out[name] = typeof value === "string" || typeof value === "boolean" ? value : undefined;
  }
  return out;
}

export async function loadCommandConfig(ui: Ui, scope: ConfigScope, flags: FlagValues): Promise<Config> {
  const config = await loadConfig({ scope, flags });
  for (const warning of config.warnings) ui.warn(warning);
  return config;
}

export function requireDsn(config: Config): string {
  if (config.dsn.trim() === "") throw new ConfigError([DSN_REQUIRED]);
  return config.dsn;
}

/** Connects within the configured timeout or throws one clear DatabaseUnavailableError. */
export async function openDatabase(
  config: Config,
  options: { poolSize?: number; bounded?: boolean; logger?: Pick<Logger, "warn"> } = {},
): Promise<Sql> {
  const settings = {
    // worker and beat: every statement bounded (database.query_timeout); one-off commands (migrate,
    // prune) may legitimately run long statements and keep the server's own settings.
    ...(options.bounded ? { queryTimeoutMs: config.database.queryTimeoutMs } : {}),
    dsn: requireDsn(config),
    env: config.env,
    poolSize: options.poolSize ?? config.database.poolSize,
    connectTimeoutMs: config.database.connectTimeoutMs,
    prepare: config.database.prepare,
    applicationName: "reproq",
  };
  try {
    return await connectDb(settings);
  } catch (error) {
    // PgBouncer (any pool mode) refuses startup parameters it does not know, statement_timeout
    // among them: keep the client-side bound (the watchdog) and let the server's setting be.
    if (!settings.queryTimeoutMs || !/unsupported startup parameter/i.test(errorMessage(error))) throw error;
    options.logger?.warn("The server refuses statement_timeout as a startup parameter (PgBouncer does unless it is in its ignore_startup_parameters); statements are bounded on the client side only (database.query_timeout plus a grace)", {
      query_timeout_ms: settings.queryTimeoutMs,
    });
    return connectDb({ ...settings, serverStatementTimeout: false });
  }
}

/** Whether the configured DSN leads through a transaction pooler (db/pooler.ts). */
export function configuredPooler(config: Config, applicationName = "reproq"): Promise<boolean> {
  return detectTransactionPooler({ dsn: requireDsn(config), env: config.env, connectTimeoutMs: config.database.connectTimeoutMs, applicationName });
}

/** A database id flag (bigint as decimal text): a positive integer that fits int8, else exit 2. */
export function positiveInt(flag: string, value: string): string {
  const text = value.trim();
  if (!/^\d+$/.test(text) || BigInt(text) === 0n || BigInt(text) > 9223372036854775807n) {
    throw new UsageError(`--${flag} must be a positive integer, got "${value}"`);
  }
  return BigInt(text).toString();
}

/**
 * For utility commands: load the database settings from the command's flags, connect, run `work`,
 * always close the pool.
 */
export async function withDatabase<T>(ui: Ui, args: Record<string, unknown>, work: (sql: Sql) => Promise<T>, options: { poolSize?: number } = {}): Promise<T> {
  const config = await loadCommandConfig(ui, "db", flagValues(args, Object.keys(configArgs("db"))));
  const sql = await openDatabase(config, { poolSize: options.poolSize ?? 2 });
  try {
    return await work(sql);
  } finally {
    await closeDb(sql);
  }
}
