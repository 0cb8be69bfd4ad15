// Cron grammar and next-slot times (SPEC §6), from fixed instants. `from` is exclusive.
import { describe, expect, test } from "bun:test";
import { CronError, nextSlot, parseCron } from "../../src/beat/cron.ts";

const WED = "2025-01-01T10:07:30Z"; // a Wednesday

const NEXT: [expression: string, from: string, expected: string | null][] = [
  ["* * * * *", WED, "2025-01-01T10:08:00Z"],
  ["*/15 * * * *", WED, "2025-01-01T10:15:00Z"],
  ["*/15 * * * *", "2025-01-01T10:15:00Z", "2025-01-01T10:30:00Z"], // strictly after
  ["5/10 * * * *", WED, "2025-01-01T10:15:00Z"], // N/S = from N to max, Go style
  ["15,45 * * * *", WED, "2025-01-01T10:15:00Z"],
  ["0 * * * *", WED, "2025-01-01T11:00:00Z"],
  ["30 9 * * *", WED, "2025-01-02T09:30:00Z"],
  ["0 8-10 * * *", WED, "2025-01-02T08:00:00Z"],
  ["0 8-18/4 * * *", WED, "2025-01-01T12:00:00Z"],
  // Vixie: both day fields restricted → either matches (1st of month OR Monday)
  ["0 0 1 * 1", WED, "2025-01-06T00:00:00Z"],
  ["0 0 1 * 1", "2025-01-27T12:00:00Z", "2025-02-01T00:00:00Z"], // Sat 1 Feb beats Mon 3 Feb
  ["0 0 */2 * 1", WED, "2025-01-03T00:00:00Z"], // a step clears the star bit: still OR
  // a wildcard day field → both must match
  ["0 0 * * 1", WED, "2025-01-06T00:00:00Z"],
  ["0 0 ? * 1", WED, "2025-01-06T00:00:00Z"],
  ["0 0 1,* * 1", WED, "2025-01-06T00:00:00Z"], // `*` anywhere in the list sets the star bit
  ["0 0 */1 * 1", WED, "2025-01-06T00:00:00Z"],
  ["? * * * *", WED, "2025-01-01T10:08:00Z"], // `?` is `*`, not croner's "now"
  ["0 9 * * mon-fri", "2025-01-03T10:00:00Z", "2025-01-06T09:00:00Z"],
  ["0 9 * * MON-Fri", "2025-01-03T10:00:00Z", "2025-01-06T09:00:00Z"],
  ["0 0 1 jan-mar *", WED, "2025-02-01T00:00:00Z"],
  ["0 0 1 JAN *", WED, "2026-01-01T00:00:00Z"],
  ["0 12 * * sun", WED, "2025-01-05T12:00:00Z"],
  ["0 12 * * 0", WED, "2025-01-05T12:00:00Z"],
  ["0 12 * * 7", WED, "2025-01-05T12:00:00Z"], // 7 = Sunday (Vixie, croniter)
  ["0 0 29 2 *", WED, "2028-02-29T00:00:00Z"],
  ["  0   0 * * *  ", WED, "2025-01-02T00:00:00Z"],
  ["@hourly", WED, "2025-01-01T11:00:00Z"],
  ["@daily", WED, "2025-01-02T00:00:00Z"],
  ["@midnight", WED, "2025-01-02T00:00:00Z"],
  ["@weekly", WED, "2025-01-05T00:00:00Z"],
  ["@monthly", WED, "2025-02-01T00:00:00Z"],
  ["@yearly", WED, "2026-01-01T00:00:00Z"],
  ["@ANNUALLY", WED, "2026-01-01T00:00:00Z"],
  // time zones: UTC by default, prefix selects the zone the fields are read in
  ["0 9 * * *", WED, "2025-01-02T09:00:00Z"],
  ["CRON_TZ=America/New_York 0 9 * * *", WED, "2025-01-01T14:00:00Z"], // EST = UTC-5
  ["CRON_TZ=America/New_York 0 9 * * *", "2025-03-08T14:30:00Z", "2025-03-09T13:00:00Z"], // DST began: EDT = UTC-4
  ["CRON_TZ=America/New_York 0 9 * * *", "2025-11-01T13:30:00Z", "2025-11-02T14:00:00Z"], // DST ended
  ["CRON_TZ=America/New_York 30 2 * * *", "2025-03-09T05:00:00Z", "2025-03-09T07:00:00Z"], // 02:30 missing: first time after the gap (03:00 EDT)
  ["TZ=Europe/Paris 0 0 * * *", WED, "2025-01-01T23:00:00Z"],
  ["TZ=Europe/Paris @daily", WED, "2025-01-01T23:00:00Z"],
  // impossible: parses, never matches
  ["0 0 30 2 *", WED, null],
  ["0 0 31 4,6,9,11 *", WED, null],
];

describe("cron next slot", () => {
  test.each(NEXT)("%p after %p → %p", (expression, from, expected) => {
    const next = parseCron(expression).next(new Date(from));
    expect(next === null ? null : next.toISOString().replace(".000Z", "Z")).toBe(expected);
  });

  test("nextSlot throws a clear error for an impossible schedule", () => {
    expect(() => nextSlot(parseCron("0 0 30 2 *"), new Date(WED))).toThrow("cron expression never matches (e.g. Feb 30): 0 0 30 2 *");
  });

  test("the zone is reported", () => {
    expect(parseCron("0 0 * * *").timezone).toBe("UTC");
    expect(parseCron("CRON_TZ=Asia/Tokyo 0 0 * * *").timezone).toBe("Asia/Tokyo");
  });
});

const INVALID: [expression: string, message: string][] = [
  ["", "empty cron expression"],
  ["   ", "empty cron expression"],
  ["* * * *", "expected exactly 5 fields (minute hour day-of-month month day-of-week), found 4: * * * *"],
  ["0 * * * * *", "expected exactly 5 fields (minute hour day-of-month month day-of-week), found 6: 0 * * * * *"],
  ["60 * * * *", "minute field '60': value out of range (0-59)"],
  ["0 24 * * *", "hour field '24': value out of range (0-23)"],
  ["0 0 32 * *", "day-of-month field '32': value out of range (1-31)"],
  ["0 0 * 13 *", "month field '13': value out of range (1-12)"],
  ["0 0 * * 8", "day-of-week field '8': value out of range (0-7 or sun-sat)"],
  ["0 0 0 * *", "day-of-month field '0': value out of range (1-31)"],
  ["0 0 1 0 *", "month field '0': value out of range (1-12)"],
  ["*/0 * * * *", "illegal stepping: 0"],
  ["5-1 * * * *", "From value is larger than to value: '5-1'"],
  ["1-2-3 * * * *", "illegal range: '1-2-3'"],
  ["x * * * *", "contains illegal characters"],
  ["/5 * * * *", "minute field '/5': a step needs a range or * before it"],
  ["1,,2 * * * *", "minute field '1,,2': empty list element"],
  ["0 0 L * *", "day-of-month field 'L': L, W and # are not supported"],
  ["0 0 * * 1#2", "day-of-week field '1#2': L, W and # are not supported"],
  ["0 0 15W * *", "L, W and # are not supported"],
  ["TZ=UTC", "TZ=UTC must be followed by a space and the cron fields"],
  ["CRON_TZ= 0 0 * * *", "CRON_TZ= needs a time zone name"],
  ["CRON_TZ=Mars/Olympus 0 0 * * *", "unknown time zone 'Mars/Olympus'"],
  ["@every 5m", "unsupported descriptor @every 5m"],
  ["@reboot", "unsupported descriptor @reboot"],
];

describe("invalid cron expressions", () => {
  test.each(INVALID)("%p → %p", (expression, message) => {
    let caught: unknown;
    try {
      parseCron(expression);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CronError);
    expect((caught as Error).message).toContain(message);
  });
});
