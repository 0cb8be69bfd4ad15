// Shared start-up for commands: load and validate the configuration (before any connection),
// print its warnings, and open the database with the configured pool settings.
import type { Config, ConfigScope } from "../config/index.ts";
import { configArgs, loadConfig } from "../config/index.ts";
import { closeDb, connectDb, createDb, type DbOptions, type Sql } from "../db/client.ts";
import { detectTransactionPooler } from "../db/pooler.ts";
import { CLAIM_SESSION_SETTINGS, ClaimSession } from "../queue/claim.ts";
import { failedClaimSettleMs } from "../worker/unseen-claims.ts";
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

/** The pool settings of a command (see openDatabase). */
function dbSettings(config: Config, options: { poolSize?: number; bounded?: boolean; sessionSettings?: Readonly<Record<string, string>> }): DbOptions {
  return {
    // worker and beat: every statement bounded (database.query_timeout); one-off commands (migrate,
    // prune) may legitimately run long statements and keep the server's own settings.
    ...(options.bounded ? { queryTimeoutMs: config.database.queryTimeoutMs } : {}),
    dsn: requireDsn(config),
    env: config.env,
    poolSize: options.poolSize ?? config.database.poolSize,
    connectTimeoutMs: config.database.connectTimeoutMs,
    prepare: config.database.prepare,
    applicationName: "reproq",
    ...(options.sessionSettings ? { sessionSettings: options.sessionSettings } : {}),
  };
}

/**
 * Connects with `settings` within the configured timeout or throws one clear
 * DatabaseUnavailableError; returns the pool and the settings it connected with.
 */
async function connectWith(settings: DbOptions, logger?: Pick<Logger, "warn">): Promise<{ sql: Sql; settings: DbOptions }> {
  try {
    return { sql: await connectDb(settings), settings };
  } catch (error) {
    // PgBouncer (any pool mode) refuses startup parameters it does not know, statement_timeout
    // among them: keep the client-side bound (the watchdog) and let the server's setting be.
    if (!settings.queryTimeoutMs || !/unsupported startup parameter: statement_timeout/i.test(errorMessage(error))) throw error;
    logger?.warn("The server refuses statement_timeout as a startup parameter (PgBouncer does unless it is in its ignore_startup_parameters); statements are bounded on the client side only (database.query_timeout plus a grace)", {
      query_timeout_ms: settings.queryTimeoutMs,
    });
    const fallback = { ...settings, serverStatementTimeout: false };
    return { sql: await connectDb(fallback), settings: fallback };
  }
}

/** Connects within the configured timeout or throws one clear DatabaseUnavailableError. */
export async function openDatabase(
  config: Config,
  options: { poolSize?: number; bounded?: boolean; logger?: Pick<Logger, "warn"> } = {},
): Promise<Sql> {
  return (await connectWith(dbSettings(config, options), options.logger)).sql;
}

/**
 * Connections of the worker's pool set aside for claims (taskClaimBatch's route): two, so the
 * main claim and the one ahead of need run side by side, when the pool has room for them and
 * three more; one with three; none below (claims then run as transactions on the pool).
 */
export function claimSessionSize(poolSize: number): number {
  return poolSize >= 6 ? 2 : poolSize >= 3 ? 1 : 0;
}

/**
 * The worker's claim session: `size` connections whose sessions carry CLAIM_SESSION_SETTINGS,
 * where an unkeyed claim is one statement. null (claims run as transactions, as before) when the
 * settings do not reach the server as sent — a pooler that refuses or drops startup parameters —
 * or the session cannot be opened; `logger` says which.
 */
export async function openClaimSession(config: Config, size: number, logger: Pick<Logger, "info" | "warn">): Promise<ClaimSession | null> {
  if (size <= 0) return null;
  let opened: { sql: Sql; settings: DbOptions };
  try {
    // No logger: the main pool has said what there is to say about statement_timeout.
    opened = await connectWith(dbSettings(config, { poolSize: size, bounded: true, sessionSettings: CLAIM_SESSION_SETTINGS }));
  } catch (error) {
    const message = errorMessage(error);
    if (/unsupported startup parameter/i.test(message)) {
      // PgBouncer in session mode refuses startup parameters it does not know.
      logger.info("Claims run as transactions: the server refuses the claim session's settings as startup parameters (a pooler)", { error: message });
    } else {
      logger.warn("Claims run as transactions: the claim session could not be opened", { error: message });
    }
    return null;
  }
  const { sql, settings } = opened;
  try {
    const names = Object.keys(CLAIM_SESSION_SETTINGS);
    const rows = await sql<{ name: string; value: string }[]>`SELECT n AS name, current_setting(n) AS value FROM unnest(${names}::text[]) AS n`;
    const off = rows.filter((row) => row.value !== CLAIM_SESSION_SETTINGS[row.name]);
    if (off.length === 0) return new ClaimSession(sql, () => createDb(settings), failedClaimSettleMs(config.database.queryTimeoutMs));
    logger.info("Claims run as transactions: the server did not keep the claim session's settings", {
      settings: off.map((row) => `${row.name}=${row.value}`).join(","),
    });
  } catch (error) {
    logger.warn("Claims run as transactions: the claim session could not be checked", { error: errorMessage(error) });
  }
  await closeDb(sql, 1);
  return null;
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
