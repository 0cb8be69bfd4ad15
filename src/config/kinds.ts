// Turning a raw value (file scalar, env text, flag text) into a typed setting value, and the
// phrases error messages use to say what is allowed. valibot does the checking; the messages
// are ours because they must name the setting, the value and the source in one line.

import * as v from "valibot";
import { isAgeDuration, isGoDuration, parseAgeDuration, parseGoDuration } from "./duration.ts";
import type { Setting } from "./settings.ts";

export type SettingValue = string | number | boolean | readonly string[];
/** "file" values may be numbers, booleans or arrays; "text" values come from env vars and flags. */
export type RawOrigin = "file" | "text";

export type Coerced = { ok: true; value: SettingValue } | { ok: false; parsed: boolean; allowed: string };

const INT_TEXT = /^[+-]?\d+$/;
const FLOAT_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const SECONDS_TEXT = /^\d+$/;
const TRUE_WORDS = ["1", "true", "yes", "on"];
const FALSE_WORDS = ["0", "false", "no", "off"];
const DURATION_LIKE = "a duration like 250ms, 1m30s or 1h";

/** Comma list from env/flags: split, trim, drop empties. */
export function splitList(text: string): string[] {
  return text
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

const scalarText = v.pipe(
  v.union([v.number(), v.boolean()]),
  v.transform((value) => String(value)),
);
const goDuration = v.pipe(v.string(), v.trim(), v.check(isGoDuration), v.transform(parseGoDuration));
const ageDuration = v.pipe(v.string(), v.trim(), v.check(isAgeDuration), v.transform(parseAgeDuration));
const secondsText = v.pipe(v.string(), v.trim(), v.regex(SECONDS_TEXT), v.transform((t) => Number(t) * 1000));

function parserFor(setting: Setting, origin: RawOrigin): v.GenericSchema<unknown, SettingValue> {
  switch (setting.kind) {
    case "string":
      return origin === "file" ? v.union([v.string(), scalarText]) : v.string();
    case "int":
      return v.union([
        v.pipe(v.number(), v.safeInteger()),
        v.pipe(v.string(), v.trim(), v.regex(INT_TEXT), v.transform(Number), v.safeInteger()),
      ]);
    case "float":
      return v.union([
        v.pipe(v.number(), v.finite()),
        v.pipe(v.string(), v.trim(), v.regex(FLOAT_TEXT), v.transform(Number), v.finite()),
      ]);
    case "bool":
      return v.union([
        v.boolean(),
        v.pipe(v.picklist([0, 1]), v.transform((n) => n === 1)),
        v.pipe(
          v.string(),
          v.trim(),
          v.toLowerCase(),
          v.picklist([...TRUE_WORDS, ...FALSE_WORDS]),
          v.transform((word) => TRUE_WORDS.includes(word)),
        ),
      ]);
    case "duration":
      return v.union([v.pipe(v.literal(0), v.transform(() => 0)), setting.days ? ageDuration : goDuration]);
    case "seconds-or-duration":
      return v.union([
        v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.transform((n) => n * 1000)),
        secondsText,
        goDuration,
      ]);
    case "list": {
      const items =
        origin === "file"
          ? v.pipe(v.array(v.union([v.string(), scalarText])), v.transform((list) => splitList(list.join(","))))
          : v.pipe(v.string(), v.transform(splitList));
      const fallback = setting.emptyList;
      return fallback ? v.pipe(items, v.transform((list) => (list.length === 0 ? [...fallback] : list))) : items;
    }
    case "enum":
      return v.pipe(v.string(), v.trim(), v.picklist(setting.options ?? []));
  }
}

/** Range and emptiness checks that run on the parsed value. */
function checkerFor(setting: Setting): v.GenericSchema<unknown, unknown> | null {
  if (setting.nonEmpty) return v.pipe(v.string(), v.minLength(1));
  const actions: v.GenericValidation<number>[] = [];
  if (setting.min !== undefined) actions.push(v.minValue(setting.min));
  if (setting.max !== undefined) actions.push(v.maxValue(setting.max));
  if (setting.above !== undefined) actions.push(v.gtValue(setting.above));
  return actions.length === 0 ? null : v.pipe(v.number(), ...actions);
}

/** " ≥ 1", " between 0 and 65535", " > 0" — or "" when unbounded. `unit` follows each non-zero bound (durations: "ms"). */
function boundsPhrase(setting: Setting, unit = ""): string {
  const at = (n: number) => (n === 0 ? "0" : `${n}${unit}`);
  const { min, max, above } = setting;
  if (min !== undefined && max !== undefined) return ` between ${at(min)} and ${at(max)}`;
  if (above !== undefined) return ` > ${at(above)}`;
  if (min !== undefined) return ` ≥ ${at(min)}`;
  if (max !== undefined) return ` ≤ ${at(max)}`;
  return "";
}

/** What the setting accepts, for "must be …". `parsed` = the syntax was fine, the range was not. */
export function allowedPhrase(setting: Setting, parsed: boolean): string {
  switch (setting.kind) {
    case "string":
      return setting.nonEmpty ? "a non-empty string" : "a string";
    case "int":
      return `an integer${boundsPhrase(setting)}`;
    case "float":
      return `a number${boundsPhrase(setting)}`;
    case "bool":
      return "true or false (also 1/0, yes/no, on/off)";
    case "duration":
      return parsed ? `a duration${boundsPhrase(setting, "ms")}` : setting.days ? "a duration like 14d, 12h or 90m" : DURATION_LIKE;
    case "seconds-or-duration":
      return parsed ? `a duration${boundsPhrase(setting, "ms")}` : `${DURATION_LIKE}, or a whole number of seconds`;
    case "list":
      return "a list of strings";
    case "enum":
      return `one of ${(setting.options ?? []).join(", ")}`;
  }
}

const parserCache = new Map<string, v.GenericSchema<unknown, SettingValue>>();

export function coerce(setting: Setting, raw: unknown, origin: RawOrigin): Coerced {
  const cacheKey = `${setting.key}\u0000${origin}`;
  let parser = parserCache.get(cacheKey);
  if (!parser) {
    parser = parserFor(setting, origin);
    parserCache.set(cacheKey, parser);
  }
  const parsed = v.safeParse(parser, raw);
  if (!parsed.success) return { ok: false, parsed: false, allowed: allowedPhrase(setting, false) };
  const checker = checkerFor(setting);
  if (checker && !v.safeParse(checker, parsed.output).success) {
    return { ok: false, parsed: true, allowed: allowedPhrase(setting, true) };
  }
  return { ok: true, value: parsed.output };
}

/**
 * A raw value as messages show it: text that parsed is shown bare (`got 0`, `got 50ms`), text
 * that did not is quoted (`got "fast"`), numbers and booleans bare, anything else as JSON.
 */
export function showValue(raw: unknown, parsed: boolean): string {
  if (typeof raw === "string") return parsed ? raw : JSON.stringify(raw);
  if (typeof raw === "number" || typeof raw === "boolean") return String(raw);
  if (raw instanceof Date) return raw.toISOString();
  return JSON.stringify(raw) ?? String(raw);
}
