// describeCron: the periodic view's schedule text, including robfig/cron's CRON_TZ= / TZ= prefix.
import { describe, expect, test } from "bun:test";
import { describeCron } from "../../src/tui/data.ts";

describe("describeCron", () => {
  test("plain expressions", () => {
    expect(describeCron("*/5 * * * *")).toBe("every 5 minutes");
    expect(describeCron("0 3 * * *")).toBe("at 03:00");
  });

  test("a CRON_TZ= or TZ= prefix is described after the schedule", () => {
    expect(describeCron("CRON_TZ=Europe/Paris 0 3 * * *")).toBe("at 03:00 (Europe/Paris)");
    expect(describeCron("TZ=UTC */5 * * * *")).toBe("every 5 minutes (UTC)");
    expect(describeCron("  CRON_TZ=America/New_York   30 9 * * 1-5")).toBe("at 09:30, Monday through Friday (America/New_York)");
  });

  test("invalid: bad schedule, unknown zone, prefix alone, empty", () => {
    expect(describeCron("61 * * * *")).toBeNull();
    expect(describeCron("CRON_TZ=Europe/Paris 61 * * * *")).toBeNull();
    expect(describeCron("CRON_TZ=Not/AZone 0 3 * * *")).toBeNull();
    expect(describeCron("CRON_TZ=UTC")).toBeNull();
    expect(describeCron("")).toBeNull();
  });
});
