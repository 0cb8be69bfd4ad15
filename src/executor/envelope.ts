// The result envelope protocol: find `{"ok": …}` in an executor's stdout. Tasks and libraries
// may print before it (logging bound to sys.stdout, os.write, subprocesses), so the rule is the
// LAST line that is a JSON object with a boolean `ok`; a whole-stdout document (also
// pretty-printed) works too. Python's bare NaN/Infinity are accepted and stored as null.
import { parseLenient, rawMemberText } from "./json-text.ts";
import type { Envelope } from "./types.ts";

export interface EnvelopeParse {
  envelope: Envelope | null;
  problem: string | null;
}

/** How many trailing column-0 "{" lines are tried as the start of a pretty-printed envelope. */
const PRETTY_START_TRIES = 3;
const LAST_LINE_PREVIEW_CHARS = 200;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Envelope text fields: strings as-is, absent/null as "", anything else as JSON text. */
function textField(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/** The envelope in `candidate` (one JSON document), or null when it is not one. */
function envelopeFrom(candidate: string): Envelope | null {
  const parsed = parseLenient(candidate);
  if (!parsed || !isPlainObject(parsed.value)) return null;
  const object = parsed.value;
  const ok = object.ok;
  if (typeof ok !== "boolean") return null;
  let returnJson: string | null = null;
  if (Object.hasOwn(object, "return")) {
    // Keep the source text (big integers, decimals) rather than re-serialising a JS value.
    returnJson = rawMemberText(parsed.text, "return") ?? JSON.stringify(object.return ?? null);
  }
  return {
    ok,
    returnJson,
    exceptionClass: textField(object.exception_class),
    message: textField(object.message),
    traceback: textField(object.traceback),
  };
}

function findEnvelope(trimmed: string): Envelope | null {
  // A whole-stdout document first: inside a pretty-printed envelope an inner line could itself
  // look like an envelope, and the whole document is the better answer.
  if (trimmed.startsWith("{") && trimmed.endsWith("}") && trimmed.includes("\n")) {
    const whole = envelopeFrom(trimmed);
    if (whole) return whole;
  }
  const lines = trimmed.split("\n");
  for (let index = lines.length - 1; index >= 0; index -= 1) {
    const line = (lines[index] ?? "").trim();
    if (!line.startsWith("{") || !line.endsWith("}")) continue;
    const envelope = envelopeFrom(line);
    if (envelope) return envelope;
  }
  // Noise followed by a pretty-printed envelope: try the last few lines that open an object at
  // column 0, each through the end of stdout (bounded so huge outputs stay linear).
  if (!trimmed.endsWith("}")) return null;
  let tries = 0;
  for (let index = lines.length - 1; index > 0 && tries < PRETTY_START_TRIES; index -= 1) {
    if ((lines[index] ?? "").trimEnd() !== "{") continue;
    tries += 1;
    const envelope = envelopeFrom(lines.slice(index).join("\n"));
    if (envelope) return envelope;
  }
  return null;
}

/** The last non-empty line of `text`, quoted and shortened, plus a hint about it when useful. */
function describeLastLine(text: string): string {
  const lines = text.trimEnd().split("\n");
  const last = (lines.at(-1) ?? "").trim();
  const preview = last.length > LAST_LINE_PREVIEW_CHARS ? `${last.slice(0, LAST_LINE_PREVIEW_CHARS)}…` : last;
  let hint = "";
  if (last.startsWith("{") || last.startsWith("[")) {
    const parsed = parseLenient(last);
    if (!parsed) hint = " (not valid JSON)";
    else if (!isPlainObject(parsed.value)) hint = " (JSON, but not an object)";
    else hint = ' (a JSON object without a boolean "ok")';
  }
  return `last line: ${JSON.stringify(preview)}${hint}`;
}

/**
 * Why no envelope was found, describing stdout. `totalBytes` and `limit` describe output cut at
 * max_stdout_bytes (the text is then the end of the output, not all of it).
 */
export function describeMissingEnvelope(text: string, totalBytes: number, limit?: number): string {
  if (totalBytes === 0) return "no result envelope on stdout (stdout was empty)";
  if (limit === undefined) {
    if (text.trim() === "") return `no result envelope on stdout (${totalBytes} bytes, all whitespace)`;
    return `no result envelope on stdout (${totalBytes} bytes, ${describeLastLine(text)})`;
  }
  const size = `${totalBytes} bytes, more than max_stdout_bytes ${limit}`;
  if (text.trim() === "") return `no result envelope on stdout (${size}; no complete line in its last ${limit} bytes)`;
  return `no result envelope on stdout (${size}; ${describeLastLine(text)})`;
}

/** Finds the result envelope in an executor's stdout (see the file comment for the rules). */
export function parseEnvelope(stdout: string): EnvelopeParse {
  const trimmed = stdout.trim();
  const envelope = trimmed === "" ? null : findEnvelope(trimmed);
  if (envelope) return { envelope, problem: null };
  return { envelope: null, problem: describeMissingEnvelope(stdout, Buffer.byteLength(stdout)) };
}
