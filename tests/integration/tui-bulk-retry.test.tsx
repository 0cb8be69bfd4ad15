// `reproq top`'s "retry all matching" (A) on a real database: it runs the CLI's batched retry, shows
// its progress in the dialog, and esc stops it after the batch in progress, with what was done
// committed and reported. (Before, it retried row by row in silence: 5,000 rows took 80 s.)
// A statement-level trigger makes every UPDATE of task_runs take 0.3 s so the run is slow enough
// to watch and stop.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { App } from "../../src/tui/app.tsx";
import { createDashboardSource } from "../../src/tui/data.ts";
import type { DashboardSource } from "../../src/tui/model.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { KEYS, renderSized } from "../helpers/fake-dashboard.ts";
import { seedFailedRows } from "../helpers/failed-seed.ts";

setDefaultTimeout(60_000);

const ROWS = 4_000;
let db: TestDatabase;
let source: DashboardSource;

beforeAll(async () => {
  db = await createTestDatabase({ flavour: "reproq" });
  await seedFailedRows(db.sql, { count: ROWS, queue: "bulk" });
  await seedFailedRows(db.sql, { count: 3, queue: "bulk", kind: "cancelled" });
  await db.sql.unsafe(`
    create function test_slow_update() returns trigger language plpgsql as $$ begin perform pg_sleep(0.3); return null; end $$;
    create trigger test_slow_update after update on task_runs for each statement execute function test_slow_update();`);
  source = createDashboardSource(db.sql, { readOnly: false, ownsPool: false });
});

afterAll(async () => {
  await source?.close();
  await db?.drop();
});

async function counts(): Promise<Record<string, number>> {
  const rows = await db.sql<{ status: string; n: number }[]>`select status, count(*)::int as n from task_runs group by status`;
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

describe("top: retry all matching (A)", () => {
  test("shows progress while it runs; esc stops it between batches and reports what was committed", async () => {
    const ui = renderSized(<App source={source} refreshMs={60_000} readOnly={false} colour={false} />, { columns: 120, rows: 32 });
    try {
      await ui.waitFor((f) => f.includes("Recent failures"));
      await ui.press("/", ..."queue:bulk status:FAILED".split(""), KEYS.enter);
      await ui.waitFor((f) => f.includes("queue:bulk status:FAILED"));
      await ui.press("A");
      const dialog = await ui.waitFor((f) => f.includes("rows affected: 4,000"));
      expect(dialog).toContain("3 tasks an operator cancelled are left as they are.");
      await ui.press("y");
      const running = await ui.waitFor((f) => /[1-3],000 of 4,000 \(\d+%\)/.test(f), 30_000);
      expect(running).toContain("esc: stop after this batch");
      await ui.press(KEYS.esc);
      const done = await ui.waitFor((f) => f.includes("stopped: retried"), 30_000);
      const retried = Number(/stopped: retried (\d+)/.exec(done)![1]);
      expect(done).toContain(`stopped: retried ${retried} of ${ROWS}, left 3 cancelled by an operator; the rest stay FAILED`);
      expect(retried).toBeGreaterThanOrEqual(1_000);
      expect(retried).toBeLessThan(ROWS);
      expect(retried % 1_000).toBe(0); // whole batches only
      expect(await counts()).toEqual({ READY: retried, FAILED: ROWS - retried + 3 });
    } finally {
      ui.unmount();
    }
  });
});
