// Go `time.ParseDuration` syntax, because config files written for the Go worker use it
// (`250ms`, `1m30s`, `1.5h`). No library matches Go's grammar exactly, so this is a small port
// of the grammar (not of Go's code): an optional sign, then one or more
// `<digits>[.<digits>]<unit>` groups, or a bare `0`.

const NANOS_PER_UNIT: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  "µs": 1e3, // U+00B5 micro sign
  "μs": 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's limit: a duration is an int64 count of nanoseconds. */
const MAX_NANOS = 9223372036854775807;

export class DurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DurationError";
  }
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "9";

/**
 * Parses a Go duration and returns milliseconds (fractional for sub-millisecond values).
 * Throws DurationError with Go's wording (`time: missing unit in duration "3600"`).
 */
export function parseGoDuration(text: string): number {
  const quoted = JSON.stringify(text);
  const invalid = () => new DurationError(`time: invalid duration ${quoted}`);
  let rest = text;
  let negative = false;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    negative = rest.startsWith("-");
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") throw invalid();

  let totalNanos = 0;
  while (rest !== "") {
    if (!(rest[0] === "." || isDigit(rest[0]))) throw invalid();
    let i = 0;
    while (isDigit(rest[i])) i++;
    const whole = rest.slice(0, i);
    let fraction = "";
    if (rest[i] === ".") {
      let j = i + 1;
      while (isDigit(rest[j])) j++;
      fraction = rest.slice(i + 1, j);
      i = j;
    }
    if (whole === "" && fraction === "") throw invalid(); // e.g. ".s"
    rest = rest.slice(i);

    let unitEnd = 0;
    while (unitEnd < rest.length && !(rest[unitEnd] === "." || isDigit(rest[unitEnd]))) unitEnd++;
    if (unitEnd === 0) throw new DurationError(`time: missing unit in duration ${quoted}`);
    const unit = rest.slice(0, unitEnd);
    rest = rest.slice(unitEnd);
    const nanosPerUnit = NANOS_PER_UNIT[unit];
    if (nanosPerUnit === undefined) {
      throw new DurationError(`time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`);
    }
    const value = Number(`${whole || "0"}.${fraction || "0"}`);
    totalNanos += value * nanosPerUnit;
    if (!Number.isFinite(totalNanos) || totalNanos > MAX_NANOS) throw invalid();
  }
  const millis = totalNanos / 1e6;
  return negative && millis !== 0 ? -millis : millis;
}

const DAY_MS = 86_400_000;

/**
 * An age for retention: a Go duration, optionally led by whole or decimal days (`14d`, `1d12h`,
 * `1.5d`); milliseconds. Go has no day unit, and retention ages are naturally written in days.
 */
export function parseAgeDuration(text: string): number {
  const days = /^(\d+(?:\.\d+)?)d(.*)$/.exec(text);
  if (!days) return parseGoDuration(text);
  const rest = days[2] ?? "";
  if (rest !== "" && !/^[\d.]/.test(rest)) throw new DurationError(`time: invalid duration ${JSON.stringify(text)}`);
  return Number(days[1]) * DAY_MS + (rest === "" ? 0 : parseGoDuration(rest));
}

/** A predicate from a parser: true when `parse` accepts the text. */
function accepts(parse: (text: string) => number): (text: string) => boolean {
  return (text) => {
    try {
      parse(text);
      return true;
    } catch {
      return false;
    }
  };
}

/** True when `text` is a valid age (parseAgeDuration). */
export const isAgeDuration = accepts(parseAgeDuration);

/** True when `text` is a valid Go duration. */
export const isGoDuration = accepts(parseGoDuration);
