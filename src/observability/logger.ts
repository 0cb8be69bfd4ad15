// Structured logging for the long-running commands (worker, beat). JSON lines on stdout when not
// on a terminal (one object per line: time, level, msg, then scoped and call-site attributes, as
// the Go worker wrote them), readable consola lines on a terminal. Attribute keys that may carry
// task payloads or secrets are redacted, recursively.
import { isatty } from "node:tty";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogAttrs = Record<string, unknown>;

export interface Logger {
  debug(msg: string, attrs?: LogAttrs): void;
  info(msg: string, attrs?: LogAttrs): void;
  warn(msg: string, attrs?: LogAttrs): void;
  error(msg: string, attrs?: LogAttrs): void;
  /** A logger whose lines all carry `attrs` (e.g. result_id, spec_hash). */
  child(attrs: LogAttrs): Logger;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const EXACT_KEYS = new Set([
  "args", "authorization", "body", "errors_json", "headers", "kwargs", "payload", "payload_json",
  "return_json", "spec_json", "stderr", "stdout", "traceback",
]);
const KEY_FRAGMENTS = ["secret", "token", "password", "apikey", "api_key", "authorization"];
export const REDACTED = "[REDACTED]";

export function isSecretKey(key: string): boolean {
  if (key === "") return false;
  const lower = key.toLowerCase();
  return EXACT_KEYS.has(lower) || KEY_FRAGMENTS.some((fragment) => lower.includes(fragment));
}

/** Replaces values under sensitive keys; errors become their message; recurses into plain objects. */
export function redact(value: unknown, depth = 0): unknown {
  if (value instanceof Error) return value.message;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "bigint") return value.toString();
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) out[key] = isSecretKey(key) ? REDACTED : redact(inner, depth + 1);
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

type Sink = (level: LogLevel, msg: string, attrs: LogAttrs) => void;

function jsonSink(write: (line: string) => void): Sink {
  return (level, msg, attrs) => {
    const record: LogAttrs = { time: new Date().toISOString(), level: level.toUpperCase(), msg };
    for (const [key, value] of Object.entries(attrs)) {
      // "msg" is ours; a call-site attribute of that name (e.g. the task's message) is renamed.
      record[key === "msg" || key === "time" || key === "level" ? `${key}_attr` : key] = isSecretKey(key) ? REDACTED : redact(value);
    }
    write(JSON.stringify(record));
  };
}

async function prettySink(): Promise<Sink> {
  const { createConsola } = await import("consola");
  const consola = createConsola({ level: 4, formatOptions: { date: true, compact: true } });
  return (level, msg, attrs) => {
    const pairs = Object.entries(attrs).map(([key, value]) => {
      const shown = isSecretKey(key) ? REDACTED : redact(value);
      return `${key}=${typeof shown === "string" ? shown : JSON.stringify(shown)}`;
    });
    const text = pairs.length > 0 ? `${msg}  ${pairs.join(" ")}` : msg;
    if (level === "debug") consola.debug(text);
    else if (level === "info") consola.info(text);
    else if (level === "warn") consola.warn(text);
    else consola.error(text);
  };
}

function build(sink: Sink, minimum: LogLevel, scoped: LogAttrs): Logger {
  const emit = (level: LogLevel) => (msg: string, attrs: LogAttrs = {}) => {
    if (LEVEL_RANK[level] < LEVEL_RANK[minimum]) return;
    sink(level, msg, { ...scoped, ...attrs });
  };
  return {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    child: (attrs) => build(sink, minimum, { ...scoped, ...attrs }),
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
