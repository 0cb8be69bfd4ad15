// Canonical JSON exactly as reproq-django writes it (django-contract §2.2): Python's
// `json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`, and `spec_hash`,
// the lowercase hex SHA-256 of its UTF-8 bytes.
//
// Numbers. Python tells `1` (int) from `1.0` (float); a JS number cannot. So:
// - a JS number that is an integer is written as Python writes an int (`1`, `-5`, `0` for -0,
//   every digit for 2**60 or 1e21);
// - a non-integral JS number is written as Python's float repr (`0.5`, `1e-05`, `1.5e+16`);
// - `PyFloat` wraps a number that Python holds as a float (`new PyFloat(1)` → `1.0`), and a
//   bigint is an int of any size. `parseJsonPreservingNumbers` produces both from JSON text, so
//   text → value → canonical text matches Python's `json.loads` → `json.dumps`.
// NaN and ±Infinity are refused (Python would write bare `NaN`, which jsonb rejects), as are
// strings with unpaired surrogates (Python's `.encode("utf-8")` would raise).

/** A number Python holds as a float: written with Python's float repr (`1.0`, `1e+16`). */
export class PyFloat {
  constructor(readonly value: number) {}
}

export class CanonicalJsonError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = "CanonicalJsonError";
  }
}

/** Python `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`. */
export function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  write(value, parts, "$");
  return parts.join("");
}

/** Lowercase hex SHA-256 of the UTF-8 bytes of `canonicalJson(spec)`. */
export function specHash(spec: unknown): string {
  return sha256Hex(canonicalJson(spec));
}

export function sha256Hex(text: string): string {
  return new Bun.CryptoHasher("sha256").update(text).digest("hex");
}

/**
 * JSON.parse that keeps what Python's json.loads would keep: a token with `.`, `e` or `E` becomes
 * a PyFloat, an integer outside the safe range a bigint. Throws SyntaxError like JSON.parse.
 */
export function parseJsonPreservingNumbers(text: string): unknown {
  return JSON.parse(text, function (_key, value: unknown, context?: { source?: string }) {
    if (typeof value !== "number" || context?.source === undefined) return value;
    const source = context.source;
    if (/[.eE]/.test(source)) return new PyFloat(value);
    if (!Number.isSafeInteger(value)) return BigInt(source);
    return value;
  });
}

/** Python's ordering of str keys: by code point, not by UTF-16 unit. */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

// UTF-16 order differs from code point order only between a surrogate (an astral character,
// U+10000 and up) and a unit in U+E000–U+FFFF: lift surrogates above that range.
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

function write(value: unknown, parts: string[], path: string): void {
  if (value === null) parts.push("null");
  else if (value === true) parts.push("true");
  else if (value === false) parts.push("false");
  else if (typeof value === "string") parts.push(quote(value, path));
  else if (typeof value === "number") parts.push(formatNumber(value, false, path));
  else if (typeof value === "bigint") parts.push(value.toString());
  else if (value instanceof PyFloat) parts.push(formatNumber(value.value, true, path));
  else if (Array.isArray(value)) {
    parts.push("[");
    value.forEach((item, index) => {
      if (index > 0) parts.push(",");
      write(item, parts, `${path}[${index}]`);
    });
    parts.push("]");
  } else if (isPlainObject(value)) {
    const record = value;
    const keys = Object.keys(record).sort(compareCodePoints);
    parts.push("{");
    keys.forEach((key, index) => {
      if (index > 0) parts.push(",");
      parts.push(quote(key, path), ":");
      write(record[key], parts, `${path}.${key}`);
    });
    parts.push("}");
  } else {
    const kind = value === undefined ? "undefined" : typeof value === "object" ? (value.constructor?.name ?? "object") : typeof value;
    throw new CanonicalJsonError(`${path}: ${kind} is not a JSON value`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

// Python's ESCAPE_DCT: `"` and `\`, the five short escapes, other C0 controls as \u00xx (lowercase
// hex). Everything else (DEL, U+2028, `<`, `&`, non-ASCII) is written raw.
const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  "\\": "\\\\",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

function quote(text: string, path: string): string {
  if (!text.isWellFormed()) throw new CanonicalJsonError(`${path}: string has an unpaired surrogate (not encodable as UTF-8)`);
  return `"${text.replace(/["\\\u0000-\u001f]/g, (c) => SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}"`;
}

function formatNumber(n: number, asFloat: boolean, path: string): string {
  if (!Number.isFinite(n)) throw new CanonicalJsonError(`${path}: ${n} is not allowed in a task spec`);
  // BigInt gives every digit of a large integral double (String would write 1e+21 or round).
  if (!asFloat && Number.isInteger(n)) return Number.isSafeInteger(n) ? String(n === 0 ? 0 : n) : BigInt(n).toString();
  return pythonFloatRepr(n);
}

/**
 * Python's `repr(float)`: the shortest round-tripping digits (same as JS), fixed notation when the
 * decimal exponent is in [-4, 16), else `d.ddde±XX`; integral values keep `.0`.
 */
export function pythonFloatRepr(n: number): string {
  if (n === 0) return Object.is(n, -0) ? "-0.0" : "0.0";
  const [mantissa = "", exponentText = "0"] = n.toExponential().split("e");
  const exponent = Number(exponentText);
  const negative = mantissa.startsWith("-");
  const digits = mantissa.replace("-", "").replace(".", "");
  const sign = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    let body: string;
    if (exponent < 0) body = `0.${"0".repeat(-exponent - 1)}${digits}`;
    else if (digits.length <= exponent + 1) body = `${digits}${"0".repeat(exponent + 1 - digits.length)}.0`;
    else body = `${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
    return sign + body;
  }
  const head = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const expSign = exponent < 0 ? "-" : "+";
  return `${sign}${head}e${expSign}${String(Math.abs(exponent)).padStart(2, "0")}`;
}
