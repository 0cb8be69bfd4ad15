// Pure helpers that make worker-built text safe to store: PostgreSQL rejects NUL bytes in text,
// `\u0000` and unpaired surrogate escapes in jsonb, and (through Go's byte slicing, §3.5 #12) a
// last_error cut in the middle of a UTF-8 sequence. Any of these would make a completion fail on
// every retry and leave the task RUNNING until reclaim, so they are repaired before writing.

import type { ErrorEntry } from "./types.ts";

/** Most bytes `last_error` may hold (the Go worker's limit). */
export const LAST_ERROR_MAX_BYTES = 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The last_error summary of an errors_json entry: `<exception_class>: <message>` when
 * exception_class is non-empty, else the message, else the kind. Non-string values are rendered as
 * JSON (not Go's `%v`). Cut to 1024 UTF-8 bytes without splitting a character.
 */
export function summarizeLastError(entry: ErrorEntry): string {
  const exceptionClass = renderValue(entry["exception_class"]);
  const message = renderValue(entry.message);
  let summary: string;
  if (exceptionClass !== "") summary = message !== "" ? `${exceptionClass}: ${message}` : exceptionClass;
  else summary = message !== "" ? message : renderValue(entry.kind);
  return cutUtf8(textForPostgres(summary), LAST_ERROR_MAX_BYTES);
}

/** `text` cut to at most `maxBytes` UTF-8 bytes, always on a code point boundary. */
export function cutUtf8(text: string, maxBytes: number): string {
  // Fast path: every UTF-16 unit encodes to at most 3 bytes.
  if (text.length * 3 <= maxBytes) return text;
  const bytes = encoder.encode(text);
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  // Continuation bytes look like 10xxxxxx; back up to the first byte of the cut character.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return decoder.decode(bytes.subarray(0, end));
}

/** Text PostgreSQL accepts: NUL replaced by U+FFFD, unpaired surrogates made well-formed. */
export function textForPostgres(text: string): string {
  const wellFormed = text.isWellFormed() ? text : text.toWellFormed();
  return wellFormed.includes("\0") ? wellFormed.replaceAll("\0", "\uFFFD") : wellFormed;
}

// `\u0000`, a high surrogate escape not followed by a low one, or a low one not preceded by a
// high one. Paired escapes (Python's json.dumps writes every emoji that way) are fine. An escaped
// backslash before "u0000" also matches: a harmless false positive (the text is re-serialised).
const JSONB_REFUSED_ESCAPE =
  /\\u0000|\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}/;

/**
 * JSON text jsonb accepts. Valid JSON may still be refused (`\u0000`, a lone `\ud800`); only then
 * is it parsed and re-serialised with those strings repaired, so normal payloads keep their bytes.
 */
export function jsonTextForPostgres(json: string): string {
  if (!JSONB_REFUSED_ESCAPE.test(json)) return textForPostgres(json);
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return json; // not JSON at all: let PostgreSQL report it rather than guess
  }
  return jsonForPostgres(value);
}

/** JSON.stringify with every string (values and keys) made acceptable to jsonb. */
export function jsonForPostgres(value: unknown): string {
  return JSON.stringify(repairStrings(value)) ?? "null";
}

function repairStrings(value: unknown): unknown {
  if (typeof value === "string") return textForPostgres(value);
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return value.map(repairStrings);
  if (value !== null && typeof value === "object") {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") return repairStrings(toJSON.call(value)); // Date and friends
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) out[textForPostgres(key)] = repairStrings(inner);
    return out;
  }
  return value;
}

function renderValue(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(repairStrings(value)) ?? String(value);
  } catch {
    return String(value); // e.g. a cyclic object
  }
}
