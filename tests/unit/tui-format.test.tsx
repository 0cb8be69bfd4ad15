// Pure pieces of `reproq top`: text formatting, column fitting, the table at 80/140/250 columns,
// sparklines, the filter grammar, the SSE parser and cursor motion.
import { describe, expect, test } from "bun:test";
import { COLUMN_GAP, fitColumns, type ColumnSpec } from "../../src/tui/components/columns.ts";
import { sparkline } from "../../src/tui/components/sparkline.tsx";
import { Table } from "../../src/tui/components/table.tsx";
import { cycleStatus, formatFilter, parseFilter } from "../../src/tui/filter.ts";
import { fit, formatAge, formatAgo, formatCount, formatDuration, formatNumber, formatPercent, formatRate, formatUntil, pagerText, text, truncate, truncateMiddle, wrapLine, wrapWords } from "../../src/tui/format.ts";
import { keyPresses } from "../../src/tui/hooks/use-keymap.ts";
import { moveCursor, pageOffset } from "../../src/tui/navigation.ts";
import { SseParser, backoffMs, toTailEvent } from "../../src/tui/sse.ts";
import { colourEnabled } from "../../src/tui/theme.tsx";
import { QUEUE_COLUMNS } from "../../src/tui/views/queue-rows.ts";
import { renderSized } from "../helpers/fake-dashboard.ts";

describe("format", () => {
  test("ages", () => {
    expect(formatAge(5)).toBe("5s");
    expect(formatAge(59.9)).toBe("59s");
    expect(formatAge(180)).toBe("3m");
    expect(formatAge(7500)).toBe("2h 5m");
    expect(formatAge(7200)).toBe("2h");
    expect(formatAge(90_000)).toBe("1d 1h");
    expect(formatAge(-3)).toBe("0s");
    expect(formatAgo(125)).toBe("2m ago");
  });

  test("schedules: in 2m, 5m overdue, now", () => {
    expect(formatUntil(120)).toBe("in 2m");
    expect(formatUntil(-300)).toBe("5m overdue");
    expect(formatUntil(0.2)).toBe("now");
  });

  test("missing values are a dash, never NaN or undefined", () => {
    for (const render of [formatAge, formatAgo, formatUntil, formatDuration, formatNumber, formatPercent, formatRate]) {
      for (const value of [null, undefined, Number.NaN, Number.POSITIVE_INFINITY]) expect(render(value as number)).toBe("–");
    }
    expect(text(undefined)).toBe("–");
    expect(text(null)).toBe("–");
    expect(text("  ")).toBe("–");
    expect(text("a\nb")).toBe("a b");
    expect(formatCount(undefined)).toBe("–");
    expect(formatCount({ value: Number.NaN, estimate: true })).toBe("–");
  });

  test("numbers, estimates, percentages, rates, durations", () => {
    expect(formatNumber(1234567)).toBe("1,234,567");
    expect(formatNumber(3.44)).toBe("3.4");
    expect(formatCount({ value: 1_200_000, estimate: true })).toBe("~1,200,000");
    expect(formatCount({ value: 20, estimate: false })).toBe("20");
    expect(formatPercent(0.75)).toBe("75.0%");
    expect(formatPercent(1)).toBe("100%");
    expect(formatRate(3.4)).toBe("3.4/min");
    expect(formatDuration(0.12)).toBe("120ms");
    expect(formatDuration(4.2)).toBe("4.2s");
    expect(formatDuration(190)).toBe("3m 10s");
  });

  test("truncation, padding and wrapping", () => {
    expect(truncate("myapp.tasks.send_email", 10)).toBe("myapp.tas…");
    expect(truncate("short", 10)).toBe("short");
    expect(truncate("abc", 1)).toBe("…");
    expect(fit("42", 5, "right")).toBe("   42");
    expect(fit("toolongvalue", 5)).toBe("tool…");
    expect(wrapLine("abcdefgh", 3)).toEqual(["abc", "def", "gh"]);
    expect(wrapWords("retry task 24 now please", 10)).toEqual(["retry task", "24 now", "please"]);
    expect(pagerText(0, 20, 1234)).toBe("rows 1–20 of 1,234");
    expect(pagerText(20, 20, 5000, true)).toBe("rows 21–40 of ~5,000");
    expect(pagerText(0, 0, 0)).toBe("no rows");
  });

  test("dotted names are cut in the middle: the last segment stays, then whole segments before it", () => {
    const path = "myproject.billing.invoicing.tasks.send_reminder";
    expect(truncateMiddle(path, 60)).toBe(path);
    expect(truncateMiddle(path, 44)).toBe("myproj…billing.invoicing.tasks.send_reminder");
    expect(truncateMiddle(path, 30)).toBe("myproject.…tasks.send_reminder");
    expect(truncateMiddle(path, 16)).toBe("my…send_reminder");
    expect(truncateMiddle(path, 14)).toBe("…send_reminder");
    // A last segment wider than the cell keeps its start and end.
    expect(truncateMiddle(path, 10)).toBe("send_…nder");
    expect(truncateMiddle("smtplib.SMTPServerDisconnected", 12)).toBe("SMTPSe…ected");
    expect(truncateMiddle("module:function_name", 16)).toBe("mo…function_name");
    expect(truncateMiddle("abc", 1)).toBe("…");
    expect(truncateMiddle("abc", 0)).toBe("");
    for (const width of [2, 5, 9, 13, 21, 33, 47]) expect(Array.from(truncateMiddle(path, width))).toHaveLength(Math.min(width, path.length));
    expect(fit(path, 20, "left", "middle")).toBe("myproj…send_reminder");
  });

  test("colour is off with --no-color, NO_COLOR or TERM=dumb", () => {
    expect(colourEnabled({ TERM: "xterm-256color" }, false)).toBe(true);
    expect(colourEnabled({ TERM: "xterm-256color" }, true)).toBe(false);
    expect(colourEnabled({ NO_COLOR: "1" }, false)).toBe(false);
    expect(colourEnabled({ TERM: "dumb" }, false)).toBe(false);
  });
});

describe("columns fitted to the terminal", () => {
  const specs: ColumnSpec[] = [
    { key: "name", title: "NAME", min: 10, max: 30, flex: 2, priority: 10 },
    { key: "count", title: "COUNT", min: 7, align: "right", priority: 9 },
    { key: "spark", title: "SPARK", min: 15, priority: 2 },
    { key: "message", title: "MESSAGE", min: 12, flex: 3, priority: 4 },
  ];
  const width = (cols: { width: number }[]) => cols.reduce((s, c) => s + c.width, 0) + COLUMN_GAP * (cols.length - 1);

  for (const available of [40, 80, 140, 250]) {
    test(`never wider than ${available} columns`, () => {
      const fitted = fitColumns(specs, available);
      expect(width(fitted)).toBeLessThanOrEqual(available);
      for (const column of fitted) expect(column.width).toBeGreaterThanOrEqual(Math.min(column.min, available));
    });
  }

  test("drops the lowest priority column first, grows flex columns up to max", () => {
    expect(fitColumns(specs, 40).map((c) => c.key)).toEqual(["name", "count", "message"]);
    const wide = fitColumns(specs, 250);
    expect(wide.map((c) => c.key)).toEqual(["name", "count", "spark", "message"]);
    expect(wide.find((c) => c.key === "name")!.width).toBe(30);
    expect(wide.find((c) => c.key === "count")!.width).toBe(7);
    expect(width(wide)).toBe(250);
  });

  for (const columns of [80, 140, 250]) {
    test(`queue table renders at ${columns} columns without wrapping`, async () => {
      const rows = [{ queue: "a-very-long-queue-name-that-will-not-fit-anywhere-at-all-even-at-250-columns".repeat(3), ready: "1,234", running: "5", waiting: "0", failed: "7", oldest: "2h 5m", activity: sparkline([1, 2, 3]), state: "paused: x".repeat(30) }];
      const ui = renderSized(<Table columns={QUEUE_COLUMNS} rows={rows} width={columns} selected={0} />, { columns, rows: 10 });
      const frame = await ui.waitFor((f) => f.includes("QUEUE"));
      ui.unmount();
      const lines = frame.split("\n").filter((l) => l !== "");
      expect(lines).toHaveLength(2); // header + one row: nothing wrapped
      for (const line of lines) expect(Array.from(line).length).toBeLessThanOrEqual(columns);
      expect(lines[0]).toContain("READY");
      expect(lines[1]).toContain("…");
      expect(lines[1]!.startsWith("› ")).toBe(true);
      if (columns >= 140) expect(lines[0]).toContain("DONE/MIN 15M");
    });
  }
});

describe("sparkline", () => {
  test("scales to the max, pads to width, survives zeros and NaN", () => {
    expect(sparkline([0, 1, 2, 4])).toBe("▁▃▅█");
    expect(sparkline([0, 0, 0])).toBe("▁▁▁");
    expect(sparkline([Number.NaN, 2], 4)).toBe("▁▁▁█");
    expect(sparkline([], 3)).toBe("");
  });
});

describe("filter", () => {
  test("tokens and free text", () => {
    const { filter, problems } = parseFilter("queue:emails status:failed task:myapp.tasks. smtp timeout");
    expect(problems).toEqual([]);
    expect(filter).toEqual({ queue: "emails", status: "FAILED", taskPath: "myapp.tasks.", text: "smtp timeout" });
    expect(formatFilter(filter)).toBe("queue:emails status:FAILED task:myapp.tasks. smtp timeout");
  });

  test("unknown status is reported", () => {
    expect(parseFilter("status:broken").problems[0]).toContain('unknown status "broken"');
  });

  test("status cycle wraps around through ALL", () => {
    expect(cycleStatus(undefined, 1)).toBe("READY");
    expect(cycleStatus(undefined, -1)).toBe("CANCELLED");
    expect(cycleStatus("CANCELLED", 1)).toBeUndefined();
  });
});

describe("cursor motion", () => {
  test("clamps and pages", () => {
    expect(moveCursor(0, "up", 10, 5)).toBe(0);
    expect(moveCursor(9, "down", 10, 5)).toBe(9);
    expect(moveCursor(0, "pageDown", 10, 5)).toBe(5);
    expect(moveCursor(3, "last", 10, 5)).toBe(9);
    expect(moveCursor(7, "first", 10, 5)).toBe(0);
    expect(moveCursor(0, "down", 0, 5)).toBe(0);
    expect(pageOffset(12, 5)).toBe(10);
  });
});

describe("events stream parsing", () => {
  test("id/data frames, ping comments, split chunks and CRLF", () => {
    const parser = new SseParser();
    expect(parser.feed("retry: 3000\n\n: ping\n\nid: 7\ndata: {\"ts\":\"2026-03-10T09:30:05.000Z\",\"level\":\"error\",")).toEqual([]);
    const frames = parser.feed("\"type\":\"task_failed\",\"msg\":\"boom\",\"queue\":\"emails\",\"task_id\":12345678901234567890}\r\n\r\nid: 8\ndata: plain\n\n");
    expect(parser.comments).toBe(1);
    expect(frames.map((f) => f.id)).toEqual(["7", "8"]);
    const event = toTailEvent(frames[0]!);
    expect(event).toMatchObject({ level: "error", type: "task_failed", msg: "boom", queue: "emails", taskId: "12345678901234567890" });
    expect(toTailEvent(frames[1]!).msg).toBe("plain");
  });

  test("reconnect backoff doubles up to 30 s", () => {
    expect([1, 2, 3, 6, 20].map(backoffMs)).toEqual([1000, 2000, 4000, 30_000, 30_000]);
  });
});

describe("key presses", () => {
  const noKey = { upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false, return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false, super: false, hyper: false, capsLock: false, numLock: false };
  test("several characters in one read become one press each", () => {
    expect(keyPresses("2jp", noKey).map((p) => p.name)).toEqual(["2", "j", "p"]);
    expect(keyPresses("a b", noKey).map((p) => p.name)).toEqual(["a", "space", "b"]);
    expect(keyPresses("", { ...noKey, return: true }).map((p) => p.name)).toEqual(["enter"]);
    expect(keyPresses("c", { ...noKey, ctrl: true }).map((p) => p.name)).toEqual(["ctrl+c"]);
  });

  test("text and Enter in one read (a busy machine, a paste) are a press each, none lost", () => {
    expect(keyPresses("e2e x\r", noKey).map((p) => p.name)).toEqual(["e", "2", "e", "space", "x", "enter"]);
    expect(keyPresses("ab\x7f\tc\n", noKey).map((p) => p.name)).toEqual(["a", "b", "backspace", "tab", "c", "enter"]);
    expect(keyPresses("y\r", noKey).map((p) => p.text)).toEqual(["y", ""]);
    // An escape sequence stays one press (Ink has parsed it).
    expect(keyPresses("\x1b[A", { ...noKey, upArrow: true }).map((p) => p.name)).toEqual(["up"]);
  });
});
