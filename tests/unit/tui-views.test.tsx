// Every view of `reproq top` rendered from a seeded database (tests/helpers/dashboard-seed.ts)
// through the real DashboardSource, at 80×24 and 140×40: the visible text carries the seeded
// queue names, counts, statuses and ages (times normalised), and nothing overflows or says NaN.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { App } from "../../src/tui/app.tsx";
import { createDashboardSource } from "../../src/tui/data.ts";
import type { DashboardSource } from "../../src/tui/model.ts";
import { SEED_EXPECTED, SEED_WORKERS, seedDashboard, type SeedInfo } from "../helpers/dashboard-seed.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { KEYS, renderSized, type SizedRender } from "../helpers/fake-dashboard.ts";
import { ACTION_KEYS, NAVIGATION_KEYS } from "../../src/tui/views/help.tsx";

setDefaultTimeout(60_000);

let db: TestDatabase;
let seed: SeedInfo;
let source: DashboardSource;

beforeAll(async () => {
  db = await createTestDatabase({ flavour: "reproq" });
  seed = await seedDashboard(db.sql);
  source = createDashboardSource(db.sql, { readOnly: true, ownsPool: false });
});

afterAll(async () => {
  await source?.close();
  await db?.drop();
});

/** Ages like "5s", "2h 13m", "in 1h 59m", "1m overdue" become "<age>". */
function normalise(frame: string): string {
  return frame.replace(/\b\d+[smhd]( \d+[smh])?\b/g, "<age>");
}

function assertClean(frame: string, size: { columns: number; rows: number }): void {
  const lines = frame.split("\n");
  expect(lines.length).toBeLessThanOrEqual(size.rows);
  for (const line of lines) expect(Array.from(line).length).toBeLessThanOrEqual(size.columns);
  expect(frame).not.toContain("NaN");
  expect(frame).not.toContain("undefined");
  expect(frame).not.toContain("[object");
}

async function open(size: { columns: number; rows: number }): Promise<SizedRender> {
  const ui = renderSized(<App source={source} refreshMs={60_000} readOnly={true} colour={false} />, size);
  await ui.waitFor((f) => f.includes("reports") && f.includes("Recent failures"));
  return ui;
}

async function show(ui: SizedRender, keys: string[], ready: (frame: string) => boolean, size: { columns: number; rows: number }): Promise<string> {
  await ui.press(...keys);
  const frame = await ui.waitFor(ready);
  assertClean(frame, size);
  return normalise(frame);
}

for (const size of [{ columns: 80, rows: 24 }, { columns: 140, rows: 40 }]) {
  describe(`${size.columns}×${size.rows}`, () => {
    test("overview: KPIs, queues with paused reason, recent failures", async () => {
      const ui = await open(size);
      const frame = normalise(ui.frame());
      assertClean(ui.frame(), size);
      ui.unmount();
      expect(frame).toMatch(/● OK/);
      expect(frame).toMatch(/READY\s+SCHEDULED\s+RUNNING\s+WAITING\s+FAILED/);
      const t = SEED_EXPECTED.totals;
      expect(frame).toMatch(new RegExp(`${t.ready}\\s+${t.scheduled}\\s+${t.running}\\s+${t.waiting}\\s+${t.failed}\\s+`));
      expect(frame).toContain("75.0%");
      expect(frame).toMatch(/› default\s+6\s+1\s+4\s+1\s+3\s+<age>/);
      expect(frame).toMatch(/emails\s+3\s+0\s+1\s+0\s+4/);
      expect(frame).toMatch(/reports\s+4\s+0\s+0\s+0\s+1\s+<age>/);
      expect(frame).toMatch(/reports.*paused:/);
      // Task paths are cut in the middle: the function name stays.
      expect(frame).toMatch(/emails\s+my\S*send_email\s/);
      expect(frame).toContain("<age> ago");
      if (size.columns >= 140) {
        expect(frame).toContain("paused: paused for nightly maintenance");
        expect(frame).toContain("DONE/MIN 15M");
      }
    });

    test("queues → tasks of a queue by status → task detail", async () => {
      const ui = await open(size);
      let frame = await show(ui, ["2"], (f) => f.includes("rows 1–3 of 3"), size);
      expect(frame).toMatch(/Queues/);
      frame = await show(ui, [KEYS.down, KEYS.enter], (f) => f.includes("Queue emails") && f.includes("rows 1–"), size);
      expect(frame).toContain("[ALL]");
      frame = await show(ui, ["l", "l", "l", "l", "l"], (f) => f.includes("[FAILED]") && f.includes("rows 1–4 of 4"), size);
      for (const id of seed.failedIds.emails) expect(frame).toMatch(new RegExp(`\\b${id}\\s+FAILED`));
      frame = await show(ui, [KEYS.enter], (f) => f.includes("Status        FAILED"), size);
      expect(frame).toContain("Queue         emails");
      expect(frame).toContain("Attempts      3/3");
      expect(frame).toMatch(/lines 1–\d+ of \d+/);
      frame = await show(ui, ["G"], (f) => f.includes("Spec") || f.includes("task_path"), size);
      expect(frame).toContain("task_path");
      frame = await show(ui, [KEYS.esc], (f) => f.includes("[FAILED]"), size);
      frame = await show(ui, [KEYS.esc], (f) => f.includes("rows 1–3 of 3"), size);
      ui.unmount();
    });

    test("workers: alive / stale / dead with hosts and running counts", async () => {
      const ui = await open(size);
      const frame = await show(ui, ["3"], (f) => f.includes("host-d"), size);
      ui.unmount();
      expect(frame).toMatch(/Workers\s+\d alive · \d stale · 1 dead/);
      expect(frame).toMatch(/host-d\S*\s+dead\s+host-d/);
      if (size.columns >= 140) expect(frame).toContain(SEED_WORKERS.dead);
      expect(frame).toMatch(/\balive\b/);
      expect(frame).toContain("host-a");
    });

    test("failures grouped by task and exception, drill into a group", async () => {
      const ui = await open(size);
      let frame = await show(ui, ["4"], (f) => f.includes("groups"), size);
      expect(frame).toContain("8 FAILED in 4 groups");
      expect(frame).toMatch(/my\S*send_email\s+\S*SMTP\S*\s+4\s+<age> ago/);
      expect(frame).toMatch(/ValueError\s+2/);
      frame = await show(ui, [KEYS.enter], (f) => f.includes("Failure group") && f.includes("rows 1–4 of 4"), size);
      expect(frame).toContain("status:FAILED");
      ui.unmount();
    });

    test("periodic: schedules, next run in / overdue, enabled", async () => {
      const ui = await open(size);
      const frame = await show(ui, ["5"], (f) => f.includes("send-digest"), size);
      ui.unmount();
      expect(frame).toMatch(/send-digest\s+\*\/5 \* \* \* \*\s+every 5 minutes\s.*<age> overdue.*yes/);
      expect(frame).toMatch(/nightly-report.*in <age>.*yes/);
      expect(frame).toMatch(/broken-sched\S*\s+every tues\S*\s+invalid expres.*no/);
    });

    test("rate limits: refilled tokens", async () => {
      const ui = await open(size);
      const frame = await show(ui, ["6"], (f) => f.includes("queue:emails"), size);
      ui.unmount();
      expect(frame).toMatch(/queue:default\s+0\.5\s+5\s+5/);
      expect(frame).toMatch(/global\s+0\s+1\s+0/);
    });

    test("help lists every key; read-only hides actions and refuses them", async () => {
      const ui = await open(size);
      let frame = await show(ui, ["?"], (f) => f.includes("Keys"), size);
      for (const key of ["j/k", "PgUp/PgDn", "g / G", "enter", "esc", "tab", "1–6", "/", "space", "?", "q  ctrl+c"]) expect(frame).toContain(key);
      expect(frame).toContain("read-only: actions are hidden and refused");
      frame = await show(ui, ["x", "2", "p"], (f) => f.includes("read-only: actions are disabled"), size);
      ui.unmount();
    });

    test("help with actions: every navigation and action key is on screen", async () => {
      const writable = createDashboardSource(db.sql, { readOnly: false, ownsPool: false });
      const ui = renderSized(<App source={writable} refreshMs={60_000} readOnly={false} colour={false} />, size);
      await ui.waitFor((f) => f.includes("reports") && f.includes("Recent failures"));
      const frame = await show(ui, ["?"], (f) => f.includes("Keys"), size);
      ui.unmount();
      await writable.close();
      const missing = [...NAVIGATION_KEYS, ...ACTION_KEYS].map(([key]) => key).filter((key) => !frame.split("\n").some((line) => line.includes(`  ${key} `)));
      expect(missing, frame).toEqual([]);
    });
  });
}
