// Lexical helpers over JSON text that JSON.parse cannot give us: Python's bare NaN/Infinity
// tokens (json.dumps emits them by default) and the exact source text of one member, so a
// task's return value reaches jsonb without going through JS numbers (big ints, 1.0 vs 1).

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Index just past the string literal that starts at `start` (which must be a quote). */
function endOfString(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) i += 2;
    else if (c === QUOTE) return i + 1;
    else i += 1;
  }
  return text.length;
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function skipWhitespace(text: string, i: number): number {
  while (i < text.length && isWhitespace(text.charCodeAt(i))) i += 1;
  return i;
}

/** Index just past the JSON value starting at `start` (text is assumed to be valid JSON). */
function endOfValue(text: string, start: number): number {
  const first = text.charCodeAt(start);
  if (first === QUOTE) return endOfString(text, start);
  if (first === 0x7b || first === 0x5b) {
    let depth = 0;
    let i = start;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        i = endOfString(text, i);
        continue;
      }
      if (c === 0x7b || c === 0x5b) depth += 1;
      else if (c === 0x7d || c === 0x5d) {
        depth -= 1;
        if (depth === 0) return i + 1;
      }
      i += 1;
    }
    return text.length;
  }
  // number, true, false, null: runs until a delimiter
  let i = start;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x2c || c === 0x7d || c === 0x5d || isWhitespace(c)) break;
    i += 1;
  }
  return i;
}

const NON_FINITE = ["-Infinity", "Infinity", "NaN"] as const;

/** Replaces bare NaN, Infinity and -Infinity outside string literals with null. */
export function repairNonFiniteTokens(text: string): string {
  const parts: string[] = [];
  let copiedUpTo = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = endOfString(text, i);
      continue;
    }
    // Only N, I and - can start a non-finite token; skip the search for everything else.
    const token = c === 0x4e || c === 0x49 || c === 0x2d ? NON_FINITE.find((t) => text.startsWith(t, i)) : undefined;
    if (token === undefined) {
      i += 1;
      continue;
    }
    parts.push(text.slice(copiedUpTo, i), "null");
    i += token.length;
    copiedUpTo = i;
  }
  if (copiedUpTo === 0) return text;
  parts.push(text.slice(copiedUpTo));
  return parts.join("");
}

/** JSON.parse, retried once with NaN/Infinity repaired; returns the text that parsed too. */
export function parseLenient(text: string): { value: unknown; text: string } | null {
  try {
    return { value: JSON.parse(text), text };
  } catch {
    if (!text.includes("NaN") && !text.includes("Infinity")) return null;
  }
  const repaired = repairNonFiniteTokens(text);
  try {
    return { value: JSON.parse(repaired), text: repaired };
  } catch {
    return null;
  }
}

/**
 * Source text of the top-level member `key` of a valid JSON object text, or null when absent.
 * The last occurrence wins, as with JSON.parse.
 */
export function rawMemberText(objectText: string, key: string): string | null {
  let found: string | null = null;
  let i = skipWhitespace(objectText, 0);
  if (objectText.charCodeAt(i) !== 0x7b) return null;
  i += 1;
  while (i < objectText.length) {
    i = skipWhitespace(objectText, i);
    if (objectText.charCodeAt(i) !== QUOTE) break; // "}" (or malformed): no more members
    const keyEnd = endOfString(objectText, i);
    const name: unknown = JSON.parse(objectText.slice(i, keyEnd));
    i = skipWhitespace(objectText, keyEnd) + 1; // past ":"
    const valueStart = skipWhitespace(objectText, i);
    const valueEnd = endOfValue(objectText, valueStart);
    if (name === key) found = objectText.slice(valueStart, valueEnd);
    i = skipWhitespace(objectText, valueEnd);
    if (objectText.charCodeAt(i) === 0x2c) i += 1;
  }
  return found;
}
