// Connection-string parsing. We parse the DSN ourselves (instead of handing a URL to postgres.js)
// because reproq-django builds URLs without percent-encoding: `postgres://u:p@ss:w/rd@host/db` is
// a real DSN with the password `p@ss:w/rd`. Both the URL form and libpq's key=value form are
// accepted; PG* environment variables fill what the DSN leaves out, as libpq does.

import { DsnError } from "../errors.ts";

export type SslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";

const SSL_MODES: readonly SslMode[] = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

export interface ConnectionOptions {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  sslmode: SslMode;
  applicationName?: string;
  /** Unix socket file (`<dir>/.s.PGSQL.<port>`) when the host is a directory. */
  socketPath?: string;
  /** `connect_timeout` from the DSN (or PGCONNECT_TIMEOUT), in seconds; absent when unset or 0. */
  connectTimeoutSeconds?: number;
}

/** Raw values as written in the DSN (strings, not yet validated). */
interface RawParts {
  host?: string;
  port?: string;
  database?: string;
  user?: string;
  password?: string;
  sslmode?: string;
  applicationName?: string;
  connectTimeout?: string;
}

const DEFAULT_HOST = "localhost";
const DEFAULT_PORT = 5432;
const DEFAULT_USER = "postgres";
const DEFAULT_SSLMODE: SslMode = "prefer";

/**
 * Parses a DSN (URL or key=value form) into explicit connection options. PG* variables from `env`
 * fill gaps; the database name defaults to the user name (libpq's rule). Throws DsnError naming
 * the problem; messages never contain the password.
 */
export function parseDsn(dsn: string, env: Record<string, string | undefined>): ConnectionOptions {
  const text = dsn.trim();
  const raw = looksLikeUrl(text) ? parseUrl(text) : parseKeyValue(text);
  return resolve(raw, env);
}

/** A masked form for messages and logs: `postgres://user@host:port/db` (never the password). */
export function describeDsn(opts: ConnectionOptions): string {
  const host = opts.host.includes(":") && !opts.host.startsWith("/") ? `[${opts.host}]` : opts.host;
  return `postgres://${opts.user}@${host}:${opts.port}/${opts.database}`;
}

function looksLikeUrl(text: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
}

function parseUrl(text: string): RawParts {
  const schemeEnd = text.indexOf("://");
  const scheme = text.slice(0, schemeEnd).toLowerCase();
  if (scheme !== "postgres" && scheme !== "postgresql") {
    throw new DsnError(`unsupported DSN scheme "${scheme}://": expected postgres:// or postgresql://`);
  }
  const rest = text.slice(schemeEnd + 3);
  // Userinfo ends at the LAST "@": un-encoded passwords may themselves contain "@", ":" and "/".
  // (An "@" inside a query value must therefore be written as %40.)
  const at = rest.lastIndexOf("@");
  const userinfo = at >= 0 ? rest.slice(0, at) : undefined;
  const afterUserinfo = at >= 0 ? rest.slice(at + 1) : rest;

  const raw: RawParts = {};
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(":");
    const user = colon >= 0 ? userinfo.slice(0, colon) : userinfo;
    const password = colon >= 0 ? userinfo.slice(colon + 1) : undefined;
    if (user !== "") raw.user = decodeLenient(user);
    if (password !== undefined && password !== "") raw.password = decodeLenient(password);
  }

  const hostEnd = afterUserinfo.search(/[/?]/);
  const hostport = hostEnd >= 0 ? afterUserinfo.slice(0, hostEnd) : afterUserinfo;
  const tail = hostEnd >= 0 ? afterUserinfo.slice(hostEnd) : "";
  Object.assign(raw, splitHostPort(hostport));

  const queryStart = tail.indexOf("?");
  const path = queryStart >= 0 ? tail.slice(0, queryStart) : tail;
  const query = queryStart >= 0 ? tail.slice(queryStart + 1) : "";
  const database = path.startsWith("/") ? path.slice(1) : path;
  if (database !== "") raw.database = decodeLenient(database);

  for (const pair of query.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const key = decodeLenient(eq >= 0 ? pair.slice(0, eq) : pair);
    const value = decodeLenient(eq >= 0 ? pair.slice(eq + 1) : "");
    applyKeyword(raw, key, value);
  }
  return raw;
}

function splitHostPort(hostport: string): Pick<RawParts, "host" | "port"> {
  if (hostport.includes(",")) {
    throw new DsnError("DSN lists several hosts; reproq connects to exactly one host");
  }
  let host: string;
  let port: string | undefined;
  if (hostport.startsWith("[")) {
    const close = hostport.indexOf("]");
    if (close < 0) throw new DsnError("DSN host has an unterminated IPv6 address (missing \"]\")");
    host = hostport.slice(1, close);
    const after = hostport.slice(close + 1);
    if (after !== "" && !after.startsWith(":")) throw new DsnError("unexpected text after the IPv6 address in the DSN host");
    port = after.startsWith(":") ? after.slice(1) : undefined;
  } else {
    const colon = hostport.indexOf(":");
    host = colon >= 0 ? hostport.slice(0, colon) : hostport;
    port = colon >= 0 ? hostport.slice(colon + 1) : undefined;
  }
  const parts: Pick<RawParts, "host" | "port"> = {};
  if (host !== "") parts.host = decodeLenient(host);
  if (port !== undefined && port !== "") parts.port = port;
  return parts;
}

/** libpq key=value form: `host=db port=5432 password='a b\'c'`; backslash escapes any character. */
function parseKeyValue(text: string): RawParts {
  const raw: RawParts = {};
  if (text === "") return raw; // libpq: an empty conninfo means "everything from PG* and defaults"
  if (!/^[A-Za-z_][A-Za-z0-9_]*\s*=/.test(text)) {
    throw new DsnError(
      "DSN is neither a postgres:// URL nor key=value pairs (expected e.g. postgres://user:password@host:5432/dbname)",
    );
  }
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    const keyMatch = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (!keyMatch) throw new DsnError(`unexpected character "${text[i]}" in key=value DSN (expected a keyword)`);
    const key = keyMatch[0];
    i += key.length;
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (text[i] !== "=") throw new DsnError(`missing "=" after "${key}" in key=value DSN`);
    i++;
    while (i < text.length && /\s/.test(text[i]!)) i++;
    let value = "";
    if (text[i] === "'") {
      i++;
      let closed = false;
      while (i < text.length) {
        const ch = text[i]!;
        if (ch === "\\" && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
        } else if (ch === "'") {
          closed = true;
          i++;
          break;
        } else {
          value += ch;
          i++;
        }
      }
      if (!closed) throw new DsnError(`unterminated quoted value for "${key}" in key=value DSN`);
    } else {
      while (i < text.length && !/\s/.test(text[i]!)) {
        if (text[i] === "\\" && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
        } else {
          value += text[i];
          i++;
        }
      }
    }
    applyKeyword(raw, key, value);
  }
  return raw;
}

/** Applies one libpq keyword (shared by URL query parameters and key=value form); unknown ones are ignored. */
function applyKeyword(raw: RawParts, key: string, value: string): void {
  switch (key) {
    case "host":
    case "hostaddr": // libpq's numeric address; we simply connect to it
      if (value.includes(",")) throw new DsnError("DSN lists several hosts; reproq connects to exactly one host");
      if (value !== "") raw.host = value;
      return;
    case "port":
      if (value !== "") raw.port = value;
      return;
    case "dbname":
      if (value !== "") raw.database = value;
      return;
    case "user":
      if (value !== "") raw.user = value;
      return;
    case "password":
      if (value !== "") raw.password = value;
      return;
    case "sslmode":
      raw.sslmode = value;
      return;
    case "application_name":
      raw.applicationName = value;
      return;
    case "connect_timeout":
      raw.connectTimeout = value;
      return;
    default:
      return; // unknown parameters (options, target_session_attrs, …) are accepted and ignored
  }
}

function resolve(raw: RawParts, env: Record<string, string | undefined>): ConnectionOptions {
  const host = raw.host ?? nonEmpty(env.PGHOST) ?? DEFAULT_HOST;
  const port = parsePort(raw.port, "DSN") ?? parsePort(nonEmpty(env.PGPORT), "PGPORT") ?? DEFAULT_PORT;
  const user = raw.user ?? nonEmpty(env.PGUSER) ?? DEFAULT_USER;
  const database = raw.database ?? nonEmpty(env.PGDATABASE) ?? user;
  const sslmodeText = raw.sslmode ?? nonEmpty(env.PGSSLMODE);
  const sslmode = parseSslMode(sslmodeText, raw.sslmode !== undefined ? "DSN" : "PGSSLMODE");
  const timeoutText = raw.connectTimeout ?? nonEmpty(env.PGCONNECT_TIMEOUT);
  const connectTimeoutSeconds = parseConnectTimeout(timeoutText, raw.connectTimeout !== undefined ? "DSN" : "PGCONNECT_TIMEOUT");

  const opts: ConnectionOptions = { host, port, database, user, sslmode };
  const password = raw.password ?? nonEmpty(env.PGPASSWORD);
  if (password !== undefined) opts.password = password;
  const applicationName = raw.applicationName ?? nonEmpty(env.PGAPPNAME);
  if (applicationName !== undefined && applicationName !== "") opts.applicationName = applicationName;
  if (host.startsWith("/")) opts.socketPath = `${host.replace(/\/+$/, "")}/.s.PGSQL.${port}`;
  if (connectTimeoutSeconds !== undefined) opts.connectTimeoutSeconds = connectTimeoutSeconds;
  return opts;
}

function parsePort(value: string | undefined, source: string): number | undefined {
  if (value === undefined) return undefined;
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new DsnError(`invalid port "${value}" in ${source}: expected a number from 1 to 65535`);
  }
  return port;
}

function parseSslMode(value: string | undefined, source: string): SslMode {
  if (value === undefined) return DEFAULT_SSLMODE;
  const mode = SSL_MODES.find((m) => m === value);
  if (!mode) throw new DsnError(`invalid sslmode "${value}" in ${source}: expected one of ${SSL_MODES.join(", ")}`);
  return mode;
}

function parseConnectTimeout(value: string | undefined, source: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^\d+$/.test(value)) {
    throw new DsnError(`invalid connect_timeout "${value}" in ${source}: expected whole seconds`);
  }
  const seconds = Number(value);
  return seconds > 0 ? seconds : undefined; // libpq: 0 means "wait indefinitely"; we keep the caller's timeout
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/** Percent-decodes valid %XX runs; anything that is not valid encoding (a bare "%", bad UTF-8) stays literal. */
function decodeLenient(text: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}
