// Cron schedules for periodic_tasks.cron_expr (SPEC §6), evaluated with croner. The grammar is
// the Go worker's (robfig/cron: 5 fields, names, ranges, steps, lists, `*`/`?`, Vixie
// day-of-month OR day-of-week, `CRON_TZ=Zone ` / `TZ=Zone ` prefix, UTC default) plus the
// descriptors @hourly/@daily/@midnight/@weekly/@monthly/@yearly/@annually, which Go rejected.
//
// What we hand croner is normalised first, because croner differs from robfig in three places:
//  * `?` means "the current time" in croner; robfig (and we) read it as `*`.
//  * `N/S` (from N to the maximum in steps of S) needs croner's `sloppyRanges`.
//  * robfig's "star bit": a day field that contains `*`/`?`/`*/1` anywhere in its list is a
//    wildcard for the OR rule; croner only recognises a bare `*`. A list containing `*` matches
//    every value anyway, so we rewrite the whole field to `*`, which keeps both semantics equal.
// Deliberate extensions: day-of-week 7 means Sunday (Vixie, croniter). Rejected: croner's own
// extensions `L`, `W`, `#` (not in the Go grammar, so a schedule means the same everywhere),
// @reboot and @every.
// DST (zones with a prefix): a slot with a single minute and hour (`30 2 * * *`) that falls in a
// spring-forward gap runs at the first valid time after it, and runs once when the hour repeats;
// wildcard/stepped schedules skip gap times and run on both repeated occurrences (croner's rule).
import { Cron } from "croner";

export class CronError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CronError";
  }
}

export interface CronSchedule {
  /** The expression as written (prefix included). */
  readonly expression: string;
  /** IANA zone the fields are read in ("UTC" without a prefix). */
  readonly timezone: string;
  /** First matching instant strictly after `after` (whole minute), or null when none exists. */
  next(after: Date): Date | null;
}

const DESCRIPTORS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

const FIELD_NAMES = ["minute", "hour", "day-of-month", "month", "day-of-week"] as const;
const ZONE_PREFIX = /^(CRON_TZ|TZ)=(\S*)(\s+|$)/;

/** Parses and validates; throws CronError with a message naming the problem. */
export function parseCron(expression: string): CronSchedule {
  const trimmed = expression.trim();
  if (trimmed === "") throw new CronError("empty cron expression");
  let body = trimmed;
  let timezone = "UTC";
  const prefix = ZONE_PREFIX.exec(trimmed);
  if (prefix) {
    const [whole, name, zone = "", gap = ""] = prefix;
    if (zone === "") throw new CronError(`${name}= needs a time zone name, e.g. ${name}=Europe/Paris`);
    if (gap === "") throw new CronError(`${name}=${zone} must be followed by a space and the cron fields`);
    timezone = checkZone(zone);
    body = trimmed.slice(whole.length).trim();
  }
  const fields = expandDescriptor(body).split(/\s+/);
  if (fields.length !== 5) {
    throw new CronError(`expected exactly 5 fields (minute hour day-of-month month day-of-week), found ${fields.length}: ${body}`);
  }
  const normalised = fields.map((field, index) => normaliseField(field, index)).join(" ");
  let cron: Cron;
  try {
    cron = new Cron(normalised, { timezone, mode: "5-part", sloppyRanges: true, domAndDow: false, paused: true });
  } catch (error) {
    throw new CronError(croneMessage(error, fields));
  }
  return {
    expression,
    timezone,
    next(after: Date): Date | null {
      return cron.nextRun(after);
    },
  };
}

/** Next slot strictly after `after`; throws CronError when the schedule never matches. */
export function nextSlot(schedule: CronSchedule, after: Date): Date {
  const next = schedule.next(after);
  if (next === null) throw new CronError(`cron expression never matches (e.g. Feb 30): ${schedule.expression}`);
  return next;
}

function expandDescriptor(body: string): string {
  if (!body.startsWith("@")) return body;
  const macro = DESCRIPTORS[body.toLowerCase()];
  if (macro === undefined) {
    throw new CronError(`unsupported descriptor ${body} (use @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually)`);
  }
  return macro;
}

function normaliseField(field: string, index: number): string {
  const name = FIELD_NAMES[index] ?? "field";
  if (/[LW#]/i.test(field.replace(/[a-z]{3}/gi, (word) => (/^(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat)$/i.test(word) ? "" : word)))) {
    throw new CronError(`${name} field '${field}': L, W and # are not supported`);
  }
  const parts = field.split(",").map((part) => (part === "?" || part.startsWith("?/") ? `*${part.slice(1)}` : part));
  for (const part of parts) {
    if (part === "") throw new CronError(`${name} field '${field}': empty list element`);
    if (part.startsWith("/")) throw new CronError(`${name} field '${field}': a step needs a range or * before it`);
  }
  const isDayField = index === 2 || index === 4;
  if (isDayField && parts.some((part) => part === "*" || part === "*/1")) return "*";
  return parts.join(",");
}

function checkZone(zone: string): string {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return zone;
  } catch {
    throw new CronError(`unknown time zone '${zone}' (use an IANA name such as America/New_York)`);
  }
}

const CRONER_FIELDS: Record<string, number> = { minute: 0, hour: 1, day: 2, month: 3, dayOfWeek: 4 };
const RANGES = ["0-59", "0-23", "1-31", "1-12", "0-7 or sun-sat"];

// croner reports day/month values zero-based ("Invalid value for day: 31" for 32); name the field
// and show it as written instead.
function croneMessage(error: unknown, fields: readonly string[]): string {
  const message = (error instanceof Error ? error.message : String(error)).replace(/^CronPattern:\s*/, "");
  const range = /^Invalid value for (\w+)/.exec(message);
  const index = range ? CRONER_FIELDS[range[1] ?? ""] : undefined;
  if (index === undefined) return message;
  return `${FIELD_NAMES[index]} field '${fields[index]}': value out of range (${RANGES[index]})`;
}
