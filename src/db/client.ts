// The postgres.js client factory. The DSN is parsed by ./dsn.ts and passed to postgres.js as
// explicit options (never as a URL), so un-encoded passwords from Django DSNs work.
//
// Type note: postgres.js returns bigint (int8) columns such as task_runs.result_id and parent_id
// as strings by default, and we keep that default: ids can exceed 2^53 in principle, and callers
// convert with Number() where they know it is safe.

import postgres from "postgres";
import { DatabaseUnavailableError, errorMessage } from "../errors.ts";
import { describeDsn, parseDsn, type ConnectionOptions, type SslMode } from "./dsn.ts";
import { dbErrorCode } from "./retryable.ts";

/** A postgres.js pool (no custom types). A reserved connection (`sql.reserve()`) is one too. */
export type Sql = postgres.Sql<{}>;

/**
 * What statement functions should take: a pool, a reserved connection or a transaction (the
 * transaction handle of `sql.begin` is not assignable to Sql, but all three share this interface).
 */
export type Queryable = postgres.ISql<{}>;

export interface DbOptions {
  dsn: string;
  env: Record<string, string | undefined>;
  /** Maximum connections in the pool (postgres.js `max`). */
  poolSize: number;
  /** Connect timeout; a `connect_timeout` written in the DSN takes precedence. */
  connectTimeoutMs: number;
  /** Prepared statements; turn off behind PgBouncer in transaction pooling mode. */
  prepare: boolean;
  /** Used when neither the DSN nor PGAPPNAME names the application. */
  applicationName?: string;
  /** Server NOTICE messages; silenced when absent. */
  onNotice?: (msg: string) => void;
  /** Settings sent at connect time (startup parameters), e.g. { statement_timeout: "10s" }. */
  sessionSettings?: Readonly<Record<string, string>>;
  /**
   * Bound on every statement (0 or absent: none). The server cancels a statement running longer
   * (statement_timeout, unless sessionSettings name one); a connection with a statement
   * outstanding that receives no byte for QUERY_GRACE_MS more is destroyed by the client (the
   * patched postgres.js `query_timeout`), failing its statements with the retryable QUERY_TIMEOUT:
   * a killed or stopped backend, or a dead network path, never leaves a statement waiting forever.
   */
  queryTimeoutMs?: number;
  /**
   * With queryTimeoutMs: also send it as the session's statement_timeout at connect (default).
   * false for servers that refuse that startup parameter (PgBouncer): the client-side bound stays.
   */
  serverStatementTimeout?: boolean;
}

/**
 * How long after the server's statement_timeout the client gives up on a silent connection: the
 * server's own cancellation (SQLSTATE 57014, connection kept) normally answers first.
 */
export const QUERY_GRACE_MS = 5_000;

/** The longest one statement can keep its caller waiting under `queryTimeoutMs` (0: unbounded → 0). */
export function statementBoundMs(queryTimeoutMs: number): number {
  return queryTimeoutMs > 0 ? queryTimeoutMs + QUERY_GRACE_MS : 0;
}

/**
 * Seconds before a connection that failed connects again (postgres.js `backoff`). The driver's
 * default grows with a failure count shared by the whole pool, 0.5–1 × min(3^n / 100, 20) s, and
 * resets it only when a connection succeeds: once ten busy connections are reset together, the
 * later ones wait 10–20 s to connect again, so statements wait that long after the database is
 * back (db-reconnect.test.ts: 14.9 s). Here 50 ms doubling to a 1 s cap, with jitter; the
 * worker's own outage backoff paces its retries.
 */
export function reconnectDelaySeconds(failures: number): number {
  return Math.min(1, 0.05 * 2 ** Math.max(0, failures)) * (0.5 + Math.random() / 2);
}

/** Idle connections are closed after 30 minutes, like the Go worker's pool (MaxConnIdleTime). */
const IDLE_TIMEOUT_SECONDS = 30 * 60;

const closing = new WeakMap<Sql, Promise<void>>();

const TLS_REQUIRED: ReadonlySet<SslMode> = new Set(["require", "verify-ca", "verify-full"]);

/** Builds a pool without connecting (postgres.js connects lazily). Throws DsnError on a bad DSN. */
export function createDb(options: DbOptions): Sql {
  const conn = parseDsn(options.dsn, options.env);
  return createDbFromOptions(conn, options);
}

function createDbFromOptions(conn: ConnectionOptions, options: DbOptions): Sql {
  const connectTimeoutSeconds = conn.connectTimeoutSeconds ?? Math.max(1, Math.ceil(options.connectTimeoutMs / 1000));
  const onNotice = options.onNotice;
  const queryTimeoutMs = options.queryTimeoutMs ?? 0;
  const bound = queryTimeoutMs > 0 && options.serverStatementTimeout !== false ? { statement_timeout: queryTimeoutMs } : {}; // milliseconds
  return postgres({
    // Arrays, because postgres.js splits a host string on ":" and "," (which breaks IPv6 literals);
    // its runtime accepts arrays but the public typings only declare strings.
    host: [conn.host] as unknown as string,
    port: [conn.port] as unknown as number,
    ...(conn.socketPath ? { path: conn.socketPath } : {}),
    database: conn.database,
    username: conn.user,
    ...(conn.password !== undefined ? { password: conn.password } : {}),
    ssl: conn.socketPath ? false : sslOption(conn.sslmode),
    max: options.poolSize,
    prepare: options.prepare,
    connect_timeout: connectTimeoutSeconds,
    idle_timeout: IDLE_TIMEOUT_SECONDS,
    backoff: reconnectDelaySeconds,
    ...(queryTimeoutMs > 0 ? { query_timeout: statementBoundMs(queryTimeoutMs) / 1000 } : {}),
    onnotice: onNotice ? (notice) => onNotice(String(notice.message ?? "")) : () => {},
    connection: { ...bound, ...options.sessionSettings, application_name: conn.applicationName ?? options.applicationName ?? "reproq" },
  });
}

/**
 * Creates the pool and proves it works with `select 1` within connectTimeoutMs (or the DSN's
 * connect_timeout). On failure closes the pool and throws DatabaseUnavailableError with one line:
 * `cannot connect to PostgreSQL at host:port/db as user: <reason>`.
 */
export async function connectDb(options: DbOptions): Promise<Sql> {
  const conn = parseDsn(options.dsn, options.env);
  const sql = createDbFromOptions(conn, options);
  const timeoutMs = conn.connectTimeoutSeconds !== undefined ? conn.connectTimeoutSeconds * 1000 : options.connectTimeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error("connect timeout"), { code: "CONNECT_TIMEOUT" })),
        timeoutMs,
      );
    });
    await Promise.race([sql`select 1`, timeout]);
    return sql;
  } catch (err) {
    await sql.end({ timeout: 0 }).catch(() => {});
    let reason = describeConnectError(err, timeoutMs);
    const code = dbErrorCode(err);
    if (TLS_REQUIRED.has(conn.sslmode) && (code === "ECONNRESET" || code === "CONNECTION_CLOSED")) {
      reason += `; with sslmode=${conn.sslmode} this usually means the server does not accept SSL`;
    }
    throw new DatabaseUnavailableError(`cannot connect to PostgreSQL at ${describeTarget(conn)} as ${conn.user}: ${reason}`, err);
  } finally {
    clearTimeout(timer);
  }
}

/** Gracefully closes the pool: waits up to `timeoutSeconds` for running queries. Idempotent. */
export function closeDb(sql: Sql, timeoutSeconds = 5): Promise<void> {
  let done = closing.get(sql);
  if (!done) {
    done = sql.end({ timeout: timeoutSeconds }).catch(() => {});
    closing.set(sql, done);
  }
  return done;
}

function sslOption(mode: SslMode): boolean | "require" | "allow" | "prefer" | object {
  switch (mode) {
    case "disable":
      return false;
    case "allow":
    case "prefer":
    case "require":
      return mode; // encrypt (or try to) without verifying the certificate, as libpq does
    case "verify-ca":
      // Verify the chain against the system CAs but not the host name.
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case "verify-full":
      return { rejectUnauthorized: true };
  }
}

function describeTarget(conn: ConnectionOptions): string {
  const masked = describeDsn(conn); // postgres://user@host:port/db
  return masked.slice(masked.indexOf("@") + 1);
}

const NETWORK_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by the server",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "timed out",
  ENOENT: "no server socket at that path",
  EACCES: "permission denied",
  CONNECTION_CLOSED: "the server closed the connection",
  CONNECTION_DESTROYED: "the connection was destroyed",
};

/** One human-readable reason for a connection failure, never including the password. */
export function describeConnectError(err: unknown, timeoutMs: number): string {
  const code = dbErrorCode(err);
  if (code === "CONNECT_TIMEOUT") return `no answer within ${formatSeconds(timeoutMs)} (CONNECT_TIMEOUT)`;
  if (code !== undefined && code in NETWORK_REASONS) return `${NETWORK_REASONS[code]} (${code})`;
  if (err instanceof postgres.PostgresError) return `${err.message} (SQLSTATE ${err.code})`;
  const nested = (err as { errors?: unknown } | null)?.errors;
  if (Array.isArray(nested) && nested.length > 0) return describeConnectError(nested[0], timeoutMs);
  return code !== undefined ? `${errorMessage(err)} (${code})` : errorMessage(err);
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}
