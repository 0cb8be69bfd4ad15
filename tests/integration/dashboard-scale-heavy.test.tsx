// `reproq top` on a READY-heavy and FAILED-heavy task_runs (SPEC §9: every refresh is a handful of
// index-served reads, never a scan): ~400,000 READY rows (10 % of them not yet due) and ~80,000
// FAILED rows over 5 queues. The overview gives exact counts (and estimates past a lowered cap);
// failure groups read only the newest 10,000 failures; a free-text search only the newest 100,000
// rows: the windows are checked on the plans (EXPLAIN ANALYZE: rows read bounded by the window, not
// the table), so a busy machine cannot fail them; the timings are printed with 10× smoke bounds
// (`bun run bench:top` measures). The pool uses the `reproq top` session settings.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { TOP_SESSION_SETTINGS } from "../../src/cli/top.ts";
import { closeDb, createDb, type Sql } from "../../src/db/client.ts";
import { createDashboardSource, FAILURE_GROUPS_WINDOW, TEXT_SEARCH_WINDOW } from "../../src/tui/data.ts";
import type { DashboardSource } from "../../src/tui/model.ts";
import { generateDashboardRows, SCALE_QUEUES } from "../helpers/dashboard-seed.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { explainCalls } from "../helpers/explain.ts";
import { capturingClient, expectIndexServed } from "../helpers/plan.ts";
import { bestTimings, expectQuick, printTimings } from "../helpers/timing.ts";

setDefaultTimeout(120_000);

const ROWS = 480_000;
// Per 1000 rows: 833 READY (100 of them due in an hour), 167 FAILED.
const READY = 399_840;
/** READY rows with run_after in an hour (100 per 1000 rows): the SCHEDULED view. */
const SCHEDULED = 48_000;
const FAILED = 80_160;
let db: TestDatabase;
let sql: Sql;
let source: DashboardSource;
let capture: ReturnType<typeof capturingClient>;
const captured = () => createDashboardSource(capture.sql, { readOnly: true, ownsPool: false });

beforeAll(async () => {
  db = await createTestDatabase({ flavour: "reproq" });
  const started = performance.now();
  await generateDashboardRows(db.sql, ROWS, { ready: 833, failed: 167, running: 0, waiting: 0, cancelled: 0, futureReady: 100 });
  console.log(`dashboard-scale-heavy: generated ${ROWS.toLocaleString("en-US")} rows + VACUUM ANALYZE in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  sql = createDb({ dsn: db.dsn, env: {}, poolSize: 3, connectTimeoutMs: 10_000, prepare: true, sessionSettings: TOP_SESSION_SETTINGS });
  source = createDashboardSource(sql, { readOnly: true, ownsPool: false });
  capture = capturingClient(db.dsn, { jit: "off" });
});
afterAll(async () => {
  await capture?.sql.end({ timeout: 1 });
  if (sql) await closeDb(sql, 1);
  await db?.drop();
});

async function best(method: string, call: () => Promise<unknown>): Promise<Record<string, number>> {
  const times = await bestTimings(source, method, call);
  printTimings("dashboard-scale-heavy", times);
  return times;
}

describe(`${READY.toLocaleString("en-US")} READY + ${FAILED.toLocaleString("en-US")} FAILED rows`, () => {
  test("overview: exact READY and FAILED counts; oldest due READY from the claim index", async () => {
    const times = await best("overview", () => source.overview());
    expectQuick(times.overview!, 500, "an overview refresh (database time)");
    const o = await source.overview();
    expect(o.queues.map((q) => q.queue)).toEqual([...SCALE_QUEUES].sort());
    for (const q of o.queues) expect(q.readyEstimate ?? false).toBe(false);
    expect(o.totals).toMatchObject({ ready: READY - SCHEDULED, scheduled: SCHEDULED, failed: FAILED, running: 0, waiting: 0 });
    expect(o.totals.readyEstimate ?? false).toBe(false);
    expect(o.totals.failedEstimate ?? false).toBe(false);
    // The oldest rows were enqueued 7 days ago and are due (run_after null).
    expect(o.oldestReadySeconds).toBeGreaterThan(7 * 86400 - 600);
    for (const q of o.queues) expect(q.oldestReadySeconds).toBeGreaterThan(7 * 86400 - 600);
  });

  test("a backlog beyond the exact-count cap is estimated and marked", async () => {
    const capped = createDashboardSource(sql, { readOnly: true, ownsPool: false, queueCountCap: 10_000 });
    await capped.overview();
    const o = await capped.overview();
    expectQuick(capped.lastQueryMs.overview!, 500, "a capped overview refresh (database time)");
    for (const q of o.queues) {
      expect(q).toMatchObject({ readyEstimate: true, failedEstimate: true });
      expect(q.ready).toBeGreaterThan(10_000);
      expect(q.failed).toBeGreaterThan(10_000);
    }
    expect(o.totals).toMatchObject({ readyEstimate: true, failedEstimate: true });
    expect(o.totals.ready).toBeGreaterThan((READY - SCHEDULED) * 0.8);
    expect(o.totals.ready).toBeLessThan((READY - SCHEDULED) * 1.2);
    expect(o.totals.failed).toBeGreaterThan(FAILED * 0.8);
    expect(o.totals.failed).toBeLessThan(FAILED * 1.2);
  });

  test("READY (claim order) and SCHEDULED pages read a slice of the backlog, not the backlog (EXPLAIN ANALYZE)", async () => {
    const accesses = await explainCalls(db.dsn, async (pool) => {
      const s = createDashboardSource(pool, { readOnly: true, ownsPool: false });
      for (const filter of [{ queue: "emails" }, {}]) {
        await s.tasks({ ...filter, status: "READY" }, { offset: 0, limit: 50 });
        await s.tasks({ ...filter, status: "READY" }, { offset: 200, limit: 50 });
        await s.tasks({ ...filter, status: "SCHEDULED" }, { offset: 0, limit: 50 });
      }
    });
    const pages = accesses.filter((a) => /\boffset\b/i.test(a.query));
    const counts = accesses.filter((a) => !/\boffset\b/i.test(a.query));
    for (const a of accesses) console.log(`dashboard-scale-heavy: ${String(a.rowsRead).padStart(7)} rows  ${[...new Set(a.scans)].join("+")}  ${a.query.slice(0, 90)}`);
    expect(pages).toHaveLength(6);
    // Pages never scan the table. A count may (PostgreSQL 17 counts READY, 83 % of this table,
    // with a Seq Scan under its LIMIT); what bounds it is the exact-count cap below.
    for (const a of pages) expect(a.scans, a.query).not.toContain("Seq Scan");
    // A page reads about (offset + limit) rows per priority level and queue (5 queues × 3 levels),
    // never the ~400,000 READY rows; a total stops at the exact-count cap (100,000) + 1.
    for (const a of pages) expect(a.rowsRead, a.query).toBeLessThan(2 * 15 * 250);
    for (const a of counts) expect(a.rowsRead, a.query).toBeLessThanOrEqual((100_001 + 1_000) * 1.25);
    const ready = await source.tasks({ status: "READY" }, { offset: 0, limit: 50 });
    expect(ready.total.estimate).toBe(true);
    expect(ready.total.value).toBeGreaterThan((READY - SCHEDULED) * 0.8);
    expect(ready.total.value).toBeLessThan((READY - SCHEDULED) * 1.2);
  });

  test("failure groups count the newest 10,000 failures only", async () => {
    const times = await best("failureGroups", () => source.failureGroups());
    expectQuick(times.failureGroups!, 300, "failure groups (database time)");
    // The groups read the newest 10,000 failures; the headline's total counts every FAILED entry up
    // to the exact-count cap (100,000), here all 80,160.
    await expectIndexServed(capture, () => captured().failureGroups(), { rows: FAILED * 1.05 });
    const groups = await source.failureGroups();
    expect(groups.groups.reduce((n, g) => n + g.count, 0)).toBe(FAILURE_GROUPS_WINDOW);
    expect(groups.window).toBe(FAILURE_GROUPS_WINDOW);
    expect(groups.total).toEqual({ value: FAILED, estimate: false });
  });

  test("a free-text search reads only the newest 100,000 rows; an exact id is found at any age", async () => {
    const times = await best("tasks", () => source.tasks({ text: "no such text anywhere" }, { offset: 0, limit: 50 }));
    expectQuick(times.tasks!, 500, "a free-text search (database time)");
    await expectIndexServed(capture, () => captured().tasks({ text: "no such text anywhere" }, { offset: 0, limit: 50 }), { rows: TEXT_SEARCH_WINDOW * 1.05 });
    const none = await source.tasks({ text: "no such text anywhere" }, { offset: 0, limit: 50 });
    expect(none).toMatchObject({ rows: [], total: { value: 0, estimate: false }, searchedNewest: TEXT_SEARCH_WINDOW });
    // An old row (outside the window) by its id: 4+ digits match no task path or error text.
    const [oldest] = await db.sql<{ id: string }[]>`select (min(result_id) + 1000)::text as id from task_runs`;
    const id = oldest!.id;
    const byId = await source.tasks({ text: id }, { offset: 0, limit: 50 });
    expect(byId.rows.map((r) => r.resultId)).toEqual([id]);
    // Counting "t7" matches (1 in 20 rows): the window holds ~5,000 of them.
    const some = await source.tasks({ text: "app.tasks.t7" }, { offset: 0, limit: 50 });
    expect(some.total.value).toBe(TEXT_SEARCH_WINDOW / 20);
    expect(some.searchedNewest).toBe(TEXT_SEARCH_WINDOW);
  });
});
