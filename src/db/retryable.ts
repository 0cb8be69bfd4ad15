// Which database errors are worth retrying, decided in one table, and one small retry helper.
// Retryable = the statement may succeed if simply run again later: the connection went away, the
// server is restarting or full, or the transaction lost a serialization/deadlock race.

/** SQLSTATE classes (first two characters) that are always retryable. */
const RETRYABLE_SQLSTATE_CLASSES: Readonly<Record<string, string>> = {
  "08": "connection exception",
};

/** Individual SQLSTATEs that are retryable. */
const RETRYABLE_SQLSTATES: Readonly<Record<string, string>> = {
  "57P01": "admin_shutdown (e.g. pg_terminate_backend)",
  // statement_timeout (database.query_timeout) or an operator's pg_cancel_backend: the statement
  // was stopped, not refused; the worker's statements are safe to run again.
  "57014": "query_canceled (statement_timeout)",
  "57P02": "crash_shutdown",
  "57P03": "cannot_connect_now (server starting up or shutting down)",
  "40001": "serialization_failure",
  "40P01": "deadlock_detected",
  "53300": "too_many_connections",
  "55P03": "lock_not_available (a lock_timeout expired: another session held the lock)",
};

/** Socket errors (Node/Bun) and postgres.js connection error codes that are retryable. */
const RETRYABLE_NETWORK_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EPIPE: "broken pipe",
  ETIMEDOUT: "timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EAI_AGAIN: "temporary DNS failure",
  CONNECTION_CLOSED: "connection closed (postgres.js)",
  CONNECTION_DESTROYED: "connection destroyed (postgres.js)",
  // The pool was ended (sql.end()). Retrying only helps if the caller re-creates the pool; a caller
  // that ends the pool on purpose should abort its retry signal first.
  CONNECTION_ENDED: "connection ended (postgres.js)",
  CONNECT_TIMEOUT: "connect timeout (postgres.js)",
  // The connection was destroyed because a statement got no answer in time (db/client.ts).
  QUERY_TIMEOUT: "no answer within the query timeout (patched postgres.js)",
};

/**
 * Errors that mean the statement's connection died (killed backend, reset): the pool opens a new
 * one at once, so the first retry of such an error does not wait. Not QUERY_TIMEOUT: seconds of
 * silence from the server are worth a log line and a backoff.
 */
const LOST_CONNECTION_CODES: ReadonlySet<string> = new Set(["CONNECTION_CLOSED", "CONNECTION_DESTROYED", "ECONNRESET", "EPIPE", "57P01"]);

/** True when `err` says the statement's connection died (see LOST_CONNECTION_CODES). */
export function isLostConnectionError(err: unknown): boolean {
  return LOST_CONNECTION_CODES.has(dbErrorCode(err) ?? "");
}

/** The code an error carries (SQLSTATE or socket/driver code), if any. */
export function dbErrorCode(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/**
 * True when `err` (or an error it wraps via `cause` / AggregateError `errors`) is a transient
 * database failure that a retry may cure. Constraint violations, syntax errors etc. are false.
 */
export function isRetryableDbError(err: unknown, depth = 0): boolean {
  if (typeof err !== "object" || err === null || depth > 4) return false;
  const code = dbErrorCode(err);
  if (code !== undefined) {
    if (code in RETRYABLE_SQLSTATES || code in RETRYABLE_NETWORK_CODES) return true;
    if (/^[0-9A-Z]{5}$/.test(code) && code.slice(0, 2) in RETRYABLE_SQLSTATE_CLASSES) return true;
  }
  const nested = (err as { errors?: unknown }).errors;
  if (Array.isArray(nested) && nested.some((e) => isRetryableDbError(e, depth + 1))) return true;
  const cause = (err as { cause?: unknown }).cause;
  return cause !== undefined && cause !== err && isRetryableDbError(cause, depth + 1);
}

export interface RetryOptions {
  /** Total attempts including the first; Infinity retries until success or abort. */
  attempts: number;
  /** Delay before the second attempt; doubles each time. */
  baseMs: number;
  /** Upper bound of one delay. */
  maxMs: number;
  /** Aborting stops waiting at once and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called before each wait (e.g. to log once per outage). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs `fn`, retrying retryable database errors with exponential backoff (each delay is drawn from
 * [d/2, d] where d = min(baseMs·2^(n−1), maxMs) for the n-th wait). When the first attempt fails
 * because its connection died, the second runs at once and `onRetry` is not called for it: one
 * killed connection is no outage. Non-retryable errors and the error of the last attempt are
 * rethrown unchanged.
 */
export async function withDbRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const { attempts, baseMs, maxMs, signal, onRetry } = options;
  let waits = 0;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= attempts || !isRetryableDbError(err) || signal?.aborted) throw err;
      if (attempt === 1 && isLostConnectionError(err)) continue;
      const ceiling = Math.min(baseMs * 2 ** waits++, maxMs);
      const delayMs = ceiling / 2 + Math.random() * (ceiling / 2);
      onRetry?.(err, attempt, delayMs);
      await sleep(delayMs, signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
