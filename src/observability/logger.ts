// Structured logging for the long-running commands (worker, beat). JSON lines on stdout when not
// on a terminal (one object per line: time, level, msg, then scoped and call-site attributes, as
// the Go worker wrote them), readable consola lines on a terminal. Both formats get the same
// redacted attributes: values under keys that may carry task payloads or secrets become
// [REDACTED], recursively, and every other string is scrubbed of secret-looking pairs and, in a
// task's logger, of that task's argument values (observability/redact.ts).
import { isatty } from "node:tty";
import { IDENTIFIER_KEYS, isSecretName, REDACTED, redactPatterns, type Redact } from "./redact.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogAttrs = Record<string, unknown>;

export interface Logger {
  debug(msg: string, attrs?: LogAttrs): void;
  info(msg: string, attrs?: LogAttrs): void;
  warn(msg: string, attrs?: LogAttrs): void;
  error(msg: string, attrs?: LogAttrs): void;
  /**
   * A logger whose lines all carry `attrs` (e.g. result_id, spec_hash); with `redact` (a task's
   * redactor), its attribute strings are scrubbed with it instead of the secret patterns alone.
   */
  child(attrs: LogAttrs, redact?: Redact): Logger;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const EXACT_KEYS = new Set([
  "args", "authorization", "body", "errors_json", "headers", "kwargs", "payload", "payload_json",
  "return_json", "spec_json", "stderr", "stdout", "traceback",
]);
export { REDACTED };

/** The Go worker's keys (payload_json, password, api_token, …) plus every secret-looking name (redact.ts). */
export function isSecretKey(key: string): boolean {
  if (key === "") return false;
  return EXACT_KEYS.has(key.toLowerCase()) || isSecretName(key);
}

/**
 * Replaces values under sensitive keys and scrubs strings with `scrub`; errors become their
 * message; recurses into plain objects and arrays.
 */
export function redact(value: unknown, scrub: Redact = redactPatterns, depth = 0): unknown {
  if (value instanceof Error) return scrub(value.message);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "string") return scrub(value);
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, scrub, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) out[key] = isSecretKey(key) ? REDACTED : redact(inner, scrub, depth + 1);
  return out;
}

/** The one place log attributes are redacted, for both formats. Identifiers (result_id, task_path, …) are kept as they are. */
function redactAttrs(attrs: LogAttrs, scrub: Redact): LogAttrs {
  const out: LogAttrs = {};
  for (const [key, value] of Object.entries(attrs)) {
    out[key] = isSecretKey(key) ? REDACTED : IDENTIFIER_KEYS.has(key) && typeof value === "string" ? value : redact(value, scrub);
  }
  return out;
}

export interface LoggerOptions {
  format: "auto" | "json" | "pretty";
  level: LogLevel;
  /** Attributes on every line (worker_id, role). */
  base?: LogAttrs;
  /** Where JSON lines go; default stdout. */
  write?: (line: string) => void;
}

/** Writes one line; `attrs` are already redacted. */
type Sink = (level: LogLevel, msg: string, attrs: LogAttrs) => void;

function jsonSink(write: (line: string) => void): Sink {
  return (level, msg, attrs) => {
    const record: LogAttrs = { time: new Date().toISOString(), level: level.toUpperCase(), msg };
    for (const [key, value] of Object.entries(attrs)) {
      // "msg" is ours; a call-site attribute of that name (e.g. the task's message) is renamed.
      record[key === "msg" || key === "time" || key === "level" ? `${key}_attr` : key] = value;
    }
    write(JSON.stringify(record));
  };
}

async function prettySink(): Promise<Sink> {
  const { createConsola } = await import("consola");
  const consola = createConsola({ level: 4, formatOptions: { date: true, compact: true } });
  return (level, msg, attrs) => {
    const pairs = Object.entries(attrs).map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
    const text = pairs.length > 0 ? `${msg}  ${pairs.join(" ")}` : msg;
    if (level === "debug") consola.debug(text);
    else if (level === "info") consola.info(text);
    else if (level === "warn") consola.warn(text);
    else consola.error(text);
  };
}

// `msg` is always a literal of ours; what varies goes in attributes, which are redacted.
function build(sink: Sink, minimum: LogLevel, scoped: LogAttrs, scrub: Redact = redactPatterns): Logger {
  const emit = (level: LogLevel) => (msg: string, attrs: LogAttrs = {}) => {
    if (LEVEL_RANK[level] < LEVEL_RANK[minimum]) return;
    sink(level, msg, redactAttrs({ ...scoped, ...attrs }, scrub));
  };
  return {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    child: (attrs, redact) => build(sink, minimum, { ...scoped, ...attrs }, redact ?? scrub),
  };
}

export async function createLogger(options: LoggerOptions): Promise<Logger> {
  const pretty = options.format === "pretty" || (options.format === "auto" && isatty(1));
  const write = options.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const sink = pretty && !options.write ? await prettySink() : jsonSink(write);
  return build(sink, options.level, options.base ?? {});
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = build(() => {}, "error", {});
