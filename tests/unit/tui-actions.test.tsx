// Keys and actions of `reproq top`: confirmation dialogs against a seeded database (the row really
// changes only after "y"), the filter bar, read-only refusal, live resize, and a database that
// goes down and comes back (the fake source) without losing the screen.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { App } from "../../src/tui/app.tsx";
import { createDashboardSource } from "../../src/tui/data.ts";
import type { DashboardSource } from "../../src/tui/model.ts";
import { seedDashboard, type SeedInfo } from "../helpers/dashboard-seed.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { KEYS, createFakeDashboard, renderSized } from "../helpers/fake-dashboard.ts";

setDefaultTimeout(60_000);

let db: TestDatabase;
let seed: SeedInfo;
let source: DashboardSource;
const SIZE = { columns: 120, rows: 32 };

beforeAll(async () => {
  db = await createTestDatabase({ flavour: "reproq" });
  seed = await seedDashboard(db.sql);
  source = createDashboardSource(db.sql, { readOnly: false, ownsPool: false });
});

afterAll(async () => {
  await source?.close();
  await db?.drop();
});

async function statusOf(id: string): Promise<string> {
  const [row] = await db.sql<{ status: string }[]>`select status from task_runs where result_id = ${id}`;
  return row!.status;
}

function openApp(src: DashboardSource, readOnly = false, size = SIZE) {
  return renderSized(<App source={src} refreshMs={60_000} readOnly={readOnly} colour={false} />, size);
}

describe("actions on a seeded database", () => {
  test("retry a failed task: preview in the dialog, nothing changes until y, then READY", async () => {
    const id = seed.ids.failedResize;
    const ui = openApp(source);
    await ui.waitFor((f) => f.includes("Recent failures"));
    await ui.press("/");
    await ui.press(..."status:FAILED task:myapp.tasks.resize".split(""), KEYS.enter);
    await ui.waitFor((f) => f.includes("Search") && f.includes("rows 1–2 of 2"));
    await ui.press("G");
    await ui.waitFor((f) => new RegExp(`› ${id}\\s`).test(f) || f.includes(`› ${seed.failedIds.default.find((x) => x !== id)}`));
    // Select the row with our id whichever order the page uses.
    if (!new RegExp(`› ${id}\\s`).test(ui.frame())) await ui.press("g");
    await ui.waitFor((f) => new RegExp(`› ${id}\\s`).test(f));
    await ui.press("R");
    const dialog = await ui.waitFor((f) => f.includes("rows affected: 1"));
    expect(dialog).toContain(`Retry task ${id}`);
    expect(dialog).toContain("y / enter: yes, retry it");
    expect(await statusOf(id)).toBe("FAILED");
    await ui.press("y");
    const done = await ui.waitFor((f) => /retried 1/.test(f));
    expect(done).not.toContain("rows affected");
    expect(await statusOf(id)).toBe("READY");
    ui.unmount();
  });

  test("n cancels: discard with a reason prompt, then no change", async () => {
    const id = seed.ids.failedInventory;
    const ui = openApp(source);
    await ui.waitFor((f) => f.includes("Recent failures"));
    await ui.press("4");
    await ui.waitFor((f) => f.includes("groups"));
    await ui.press("G", KEYS.enter);
    await ui.waitFor((f) => f.includes(`› ${id} `));
    await ui.press("D");
    await ui.waitFor((f) => f.includes("discard reason"));
    await ui.press(..."bad sku".split(""), KEYS.enter);
    await ui.waitFor((f) => f.includes(`Discard task ${id}`) && f.includes("rows affected: 1"));
    await ui.press("n");
    await ui.waitFor((f) => f.includes("nothing changed"));
    expect(await statusOf(id)).toBe("FAILED");
    ui.unmount();
  });

  test("retry all matching the filter shows the count first", async () => {
    const ui = openApp(source);
    await ui.waitFor((f) => f.includes("Recent failures"));
    await ui.press("/", ..."queue:emails status:FAILED".split(""), KEYS.enter);
    await ui.waitFor((f) => f.includes("queue:emails status:FAILED") && f.includes("rows 1–4 of 4"));
    await ui.press("A");
    const dialog = await ui.waitFor((f) => f.includes("rows affected: 4"));
    expect(dialog).toContain("Retry all matching tasks");
    await ui.press(KEYS.esc);
    await ui.waitFor((f) => f.includes("nothing changed"));
    expect(await statusOf(seed.failedIds.emails[0]!)).toBe("FAILED");
    ui.unmount();
  });

  test("pause and resume a queue with a reason", async () => {
    const ui = openApp(source);
    await ui.waitFor((f) => f.includes("Recent failures"));
    await ui.press("2", KEYS.down, "p");
    await ui.waitFor((f) => f.includes("pause queue emails"));
    await ui.press(..."smtp outage".split(""), KEYS.enter);
    await ui.waitFor((f) => f.includes("Pause queue emails") && f.includes("rows affected"));
    await ui.press("y");
    await ui.waitFor((f) => f.includes("paused: smtp outage"));
    const [paused] = await db.sql<{ paused: boolean; reason: string | null }[]>`select paused, reason from reproq_queue_controls where queue_name = 'emails'`;
    expect(paused).toEqual({ paused: true, reason: "smtp outage" });
    await ui.press("p");
    await ui.waitFor((f) => f.includes("Resume queue emails") && f.includes("rows affected"));
    await ui.press(KEYS.enter);
    await ui.waitFor((f) => /emails.*active/.test(f));
    const [resumed] = await db.sql<{ paused: boolean }[]>`select paused from reproq_queue_controls where queue_name = 'emails'`;
    expect(resumed!.paused).toBe(false);
    ui.unmount();
  });
});

describe("with the fake source", () => {
  test("read-only refuses every action key and changes nothing", async () => {
    const fake = createFakeDashboard();
    const ui = openApp(fake, true);
    await ui.waitFor((f) => f.includes("default"));
    await ui.press("4", KEYS.enter);
    await ui.waitFor((f) => f.includes("rows 1–"));
    for (const key of ["R", "D", "C", "P", "A", "X"]) {
      await ui.press(key);
      await ui.waitFor((f) => f.includes("read-only: actions are disabled"));
      expect(ui.frame()).not.toContain("rows affected");
      await ui.press("j");
    }
    expect(ui.frame()).not.toContain("R retry");
    expect(fake.performed).toEqual([]);
    ui.unmount();
  });

  test("database down: header says down with the error, data stays, then recovers", async () => {
    const fake = createFakeDashboard();
    const ui = openApp(fake);
    await ui.waitFor((f) => f.includes("● OK") && f.includes("emails"));
    fake.failing = true;
    await ui.press("r");
    const down = await ui.waitFor((f) => f.includes("● down"));
    expect(down).toContain("ECONNREFUSED");
    expect(down).toContain("paused: smtp outage"); // last data kept
    fake.failing = false;
    await ui.press("r");
    await ui.waitFor((f) => f.includes("● OK"));
    ui.unmount();
  });

  test("space pauses refresh, r still refreshes, live resize keeps every line within the width", async () => {
    const fake = createFakeDashboard();
    const ui = openApp(fake, false, { columns: 140, rows: 40 });
    await ui.waitFor((f) => f.includes("DONE/MIN 15M"));
    await ui.press(" ");
    await ui.waitFor((f) => f.includes("PAUSED"));
    ui.stdout.resize(80, 24);
    const narrow = await ui.waitFor((f) => !f.includes("DONE/MIN 15M") && f.includes("QUEUE"));
    for (const line of narrow.split("\n")) expect(Array.from(line).length).toBeLessThanOrEqual(80);
    expect(narrow.split("\n").length).toBeLessThanOrEqual(24);
    await ui.press(" ");
    await ui.waitFor((f) => !f.includes("PAUSED"));
    ui.unmount();
  });

  test("help overlay, filter problems, q exits", async () => {
    const fake = createFakeDashboard();
    const ui = openApp(fake);
    await ui.waitFor((f) => f.includes("default"));
    await ui.press("?");
    const help = await ui.waitFor((f) => f.includes("Actions (confirmed first)"));
    for (const key of ["R", "D", "C", "P", "A", "X", "p"]) expect(help).toMatch(new RegExp(`\\s${key}\\s{2,}\\S`));
    await ui.press("x", "/", ..."status:nope".split(""), KEYS.enter);
    await ui.waitFor((f) => f.includes('unknown status "nope"'));
    const exited = ui.instance.waitUntilExit();
    await ui.press("q");
    await exited;
  });
});
