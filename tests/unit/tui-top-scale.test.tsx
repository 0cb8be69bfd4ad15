// `reproq top` at scale, rendered with ink-testing-library over the in-memory source: the failures
// headline carries the true FAILED total (group counts of a window are marked as lower bounds),
// READY rows waiting on a future run_after have their own SCHEDULED state and tab, long task paths
// keep their function name, and the cancel dialog's "no" is not labelled "cancel".
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { App } from "../../src/tui/app.tsx";
import type { DashboardSource } from "../../src/tui/model.ts";
import { KEYS, createFakeDashboard, fakeTaskRow, renderSized } from "../helpers/fake-dashboard.ts";

setDefaultTimeout(30_000);

const NARROW = { columns: 80, rows: 24 };
const WIDE = { columns: 140, rows: 40 };

function openApp(source: DashboardSource, size = WIDE) {
  return renderSized(<App source={source} refreshMs={60_000} readOnly={false} colour={false} />, size);
}

function withinSize(frame: string, size: { columns: number; rows: number }): void {
  const lines = frame.split("\n");
  expect(lines.length).toBeLessThanOrEqual(size.rows);
  for (const line of lines) expect(Array.from(line).length).toBeLessThanOrEqual(size.columns);
}

describe("failures headline", () => {
  test("says the true FAILED total; counts of the newest window are marked as lower bounds", async () => {
    const fake = createFakeDashboard();
    const at = new Date("2026-03-10T09:29:00Z");
    fake.failureGroups = async () => ({
      total: { value: 20_000, estimate: false },
      window: 10_000,
      groupCount: 2,
      groups: [
        { taskPath: "myapp.tasks.charge_card", exceptionClass: "ValueError", count: 6_000, lastFailedAt: at, sampleMessage: "card declined" },
        { taskPath: "myapp.tasks.send_email", exceptionClass: "TimeoutError", count: 4_000, lastFailedAt: at, sampleMessage: "timed out" },
      ],
    });
    for (const size of [NARROW, WIDE]) {
      const ui = openApp(fake, size);
      await ui.waitFor((f) => f.includes("default"));
      await ui.press("4");
      const frame = await ui.waitFor((f) => /Failures  \S+ FAILED/.test(f));
      ui.unmount();
      withinSize(frame, size);
      expect(frame).toContain("Failures  20,000 FAILED");
      expect(frame).not.toContain("10,000 FAILED");
      expect(frame).toMatch(/≥6,000/);
      expect(frame).toMatch(/≥4,000/);
      if (size.columns >= 140) expect(frame).toContain("2 groups among the newest 10,000");
    }
  });

  test("an estimated total is shown with ~; more groups than listed are said", async () => {
    const fake = createFakeDashboard();
    fake.failureGroups = async () => ({
      total: { value: 2_500_000, estimate: true },
      window: 10_000,
      groupCount: 250,
      groups: [{ taskPath: "myapp.tasks.charge_card", exceptionClass: "ValueError", count: 10_000, lastFailedAt: null, sampleMessage: "x" }],
    });
    const ui = openApp(fake);
    await ui.waitFor((f) => f.includes("default"));
    await ui.press("4");
    const frame = await ui.waitFor((f) => /Failures  \S+ FAILED/.test(f));
    ui.unmount();
    expect(frame).toContain("Failures  ~2,500,000 FAILED");
    expect(frame).toContain("250 groups among the newest 10,000 (1 shown)");
  });

  test("all failures in the window: exact counts, no marks", async () => {
    const fake = createFakeDashboard();
    const ui = openApp(fake);
    await ui.waitFor((f) => f.includes("default"));
    await ui.press("4");
    const frame = await ui.waitFor((f) => /Failures  \S+ FAILED/.test(f));
    ui.unmount();
    expect(frame).toContain("Failures  40 FAILED in 1 group (task × exception)");
    expect(frame).not.toContain("≥");
  });
});

describe("scheduled READY rows", () => {
  function fakeWithScheduled() {
    const fake = createFakeDashboard();
    fake.rows = [
      fakeTaskRow(201, "READY", "default"),
      fakeTaskRow(202, "READY", "default", { dueInSeconds: 1800 }),
      fakeTaskRow(203, "READY", "default"),
      fakeTaskRow(204, "FAILED", "default"),
    ];
    return fake;
  }

  test("a SCHEDULED tab after READY; READY holds only due rows; the state and due time are shown", async () => {
    for (const size of [NARROW, WIDE]) {
      const ui = openApp(fakeWithScheduled(), size);
      await ui.waitFor((f) => f.includes("default"));
      await ui.press("2", KEYS.enter);
      let frame = await ui.waitFor((f) => f.includes("[ALL]") && f.includes("rows 1–4 of 4"));
      withinSize(frame, size);
      expect(frame).toContain("SCHEDULED");
      expect(frame).toMatch(/202\s+SCHEDULED/);
      await ui.press("l");
      frame = await ui.waitFor((f) => f.includes("[READY]") && f.includes("rows 1–2 of 2"));
      expect(frame).not.toContain("202");
      if (size.columns >= 140) expect(frame).toContain("claim order: next to run first");
      await ui.press("l");
      frame = await ui.waitFor((f) => f.includes("[SCHEDULED]") && f.includes("rows 1–1 of 1"));
      withinSize(frame, size);
      expect(frame).toMatch(/› 202\s+SCHEDULED/);
      expect(frame).toContain("in 30m");
      await ui.press(KEYS.enter);
      frame = await ui.waitFor((f) => f.includes("Status        READY"));
      expect(frame).toContain("Status        READY (scheduled: due in 30m)");
      await ui.press(KEYS.esc);
      await ui.waitFor((f) => f.includes("[SCHEDULED]"));
      await ui.press("l");
      await ui.waitFor((f) => f.includes("[RUNNING]"));
      ui.unmount();
    }
  });

  test("the queues table and the KPIs separate due READY from scheduled", async () => {
    for (const size of [NARROW, WIDE]) {
      const ui = openApp(createFakeDashboard(), size);
      const frame = await ui.waitFor((f) => f.includes("default") && f.includes("Recent failures"));
      ui.unmount();
      withinSize(frame, size);
      expect(frame).toMatch(/QUEUE\s+READY\s+SCHEDULED\s+RUNNING/);
      expect(frame).toMatch(/default\s+1,200\s+12\s+2\s+2\s+5/);
      expect(frame).toMatch(/emails\s+34\s+0\s+1/);
      expect(frame).toMatch(/READY\s+SCHEDULED\s+RUNNING/);
    }
  });
});

describe("long task paths", () => {
  const REMINDER = "myproject.billing.invoicing.tasks.send_reminder";
  const RECEIPT = "myproject.billing.invoicing.tasks.send_receipt";

  test("are cut in the middle: the function name stays, so two paths stay apart", async () => {
    for (const size of [NARROW, WIDE]) {
      const fake = createFakeDashboard();
      fake.rows = [fakeTaskRow(301, "FAILED", "default", { taskPath: REMINDER }), fakeTaskRow(302, "FAILED", "default", { taskPath: RECEIPT })];
      fake.failureGroups = async () => ({
        total: { value: 2, estimate: false },
        window: null,
        groupCount: 2,
        groups: [
          { taskPath: REMINDER, exceptionClass: "smtplib.SMTPServerDisconnected", count: 1, lastFailedAt: null, sampleMessage: "x" },
          { taskPath: RECEIPT, exceptionClass: "smtplib.SMTPServerDisconnected", count: 1, lastFailedAt: null, sampleMessage: "x" },
        ],
      });
      const ui = openApp(fake, size);
      await ui.waitFor((f) => f.includes("default"));
      await ui.press("2", KEYS.enter);
      let frame = await ui.waitFor((f) => f.includes("rows 1–2 of 2"));
      withinSize(frame, size);
      expect(frame).toMatch(/301\s+FAILED\s+my\S*…\S*send_reminder\s/);
      expect(frame).toMatch(/302\s+FAILED\s+my\S*…\S*send_receipt\s/);
      await ui.press("4");
      frame = await ui.waitFor((f) => /Failures  \S+ FAILED/.test(f));
      expect(frame).toMatch(/my\S*…\S*send_reminder\s/);
      expect(frame).toMatch(/my\S*…\S*send_receipt\s/);
      ui.unmount();
    }
  });
});

describe("cancel dialog", () => {
  test("the way out is not labelled cancel; n leaves the task alone", async () => {
    const fake = createFakeDashboard();
    const ui = openApp(fake);
    await ui.waitFor((f) => f.includes("default"));
    await ui.press("2", KEYS.enter);
    await ui.waitFor((f) => f.includes("rows 1–"));
    await ui.press("G");
    await ui.waitFor((f) => f.includes("› 145 "));
    await ui.press("C");
    const dialog = await ui.waitFor((f) => f.includes("rows affected: 1"));
    expect(dialog).toContain("Cancel task 145?");
    expect(dialog).toContain("y / enter: yes, cancel it");
    expect(dialog).toContain("n / esc: no, keep it");
    expect(dialog).not.toMatch(/(n|esc)\s*:\s*cancel/);
    await ui.press("n");
    const after = await ui.waitFor((f) => !f.includes("rows affected"));
    expect(after).toContain("nothing changed");
    expect(after).not.toContain("cancelled");
    expect(fake.performed).toEqual([]);
    ui.unmount();
  });
});
