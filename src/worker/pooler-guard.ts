// What the worker does behind a transaction pooler (PgBouncer pool_mode=transaction): prepared
// statements and LISTEN are session state, and a pooler hands each statement to whichever server
// connection is free, so both silently cross to other clients (tasks run twice, claims lost,
// notifications never arrive). Settings left at their defaults are switched off with a warning;
// an explicit `true` is refused with the flags to use. The worker's other session-level needs are
// none: advisory locks are transaction-level (pg_advisory_xact_lock) and settings are set with
// set_config(..., true) inside transactions.
import type { Config } from "../config/index.ts";

/** The flags that make the safe settings explicit. */
export const SAFE_FLAGS = "--no-prepare --no-listen";
export const SAFE_ENV = "REPROQ_PREPARE=false REPROQ_LISTEN=false";
const SAFE_KEYS = "database.prepare = false, worker.listen = false";

export type PoolerVerdict =
  | { kind: "none" }
  /** Pooler found; prepare and listen are already off. */
  | { kind: "safe" }
  /** Pooler found; these defaulted settings get switched off. */
  | { kind: "switch"; settings: string[] }
  /** Pooler found; these settings were turned on explicitly (with where from). */
  | { kind: "refuse"; settings: string[] };

const SESSION_SETTINGS = [
  { key: "database.prepare", on: (config: Config) => config.database.prepare },
  { key: "worker.listen", on: (config: Config) => config.worker.listen },
] as const;

export function poolerVerdict(config: Config, transactionPooling: boolean): PoolerVerdict {
  if (!transactionPooling) return { kind: "none" };
  const on = SESSION_SETTINGS.filter((setting) => setting.on(config));
  if (on.length === 0) return { kind: "safe" };
  const explicit = on.filter((setting) => (config.sources[setting.key] ?? "default") !== "default");
  if (explicit.length > 0) {
    return { kind: "refuse", settings: explicit.map((setting) => `${setting.key} = true (${config.sources[setting.key]})`) };
  }
  return { kind: "switch", settings: on.map((setting) => setting.key) };
}

/** The worker's configuration with prepared statements and LISTEN off. */
export function withoutSessionState(config: Config): Config {
  return { ...config, database: { ...config.database, prepare: false }, worker: { ...config.worker, listen: false } };
}

const DETECTED = "Connected through a transaction pooler (the server connection changed between two statements of one client connection)";

export function refusalMessage(settings: readonly string[]): string {
  return `${DETECTED}; prepared statements and LISTEN do not work through it, but ${settings.join(" and ")}. ` +
    `Use ${SAFE_FLAGS} (or ${SAFE_ENV}, or ${SAFE_KEYS} in the config file), or connect directly or through session pooling`;
}

/** `reproq beat` has no LISTEN: only prepared statements matter (verdict from poolerVerdictForBeat). */
export function poolerVerdictForBeat(config: Config, transactionPooling: boolean): PoolerVerdict {
  return poolerVerdict({ ...config, worker: { ...config.worker, listen: false } }, transactionPooling);
}

export function beatPoolerMessage(verdict: Extract<PoolerVerdict, { kind: "switch" | "refuse" }>): string {
  return verdict.kind === "switch"
    ? `${DETECTED}: prepared statements switched off. Make it explicit with --no-prepare (or REPROQ_PREPARE=false)`
    : `${DETECTED}; prepared statements do not work through it, but ${verdict.settings.join(" and ")}. ` +
        "Use --no-prepare (or REPROQ_PREPARE=false, or database.prepare = false in the config file), or connect directly or through session pooling";
}

export function switchMessage(): string {
  return `${DETECTED}: prepared statements and LISTEN switched off (polling only). Make it explicit with ${SAFE_FLAGS} (or ${SAFE_ENV})`;
}
