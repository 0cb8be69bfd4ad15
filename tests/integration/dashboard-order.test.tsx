// `reproq top` on real Postgres, for what a large or busy queue shows: READY lists in the order the
// worker will claim them (checked against the real claim), scheduled READY rows (run_after in the
// future) apart from due ones in lists and per-queue counts, and the failures headline with more
// FAILED rows than the failure-group window.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { taskClaimBatch } from "../../src/queue/claim.ts";
import { App } from "../../src/tui/app.tsx";
import { createDashboardSource, FAILURE_GROUPS_WINDOW } from "../../src/tui/data.ts";
import type { DashboardSource, TaskFilter } from "../../src/tui/model.ts";
import { generateDashboardRows, seedDashboard, type SeedInfo } from "../helpers/dashboard-seed.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { renderSized } from "../helpers/fake-dashboard.ts";
import { claimParams, insertRows, resetTables, type RowSpec } from "./claim-fixtures.ts";

setDefaultTimeout(60_000);

/** Every row of a task list, read `pageSize` at a time (the paging top does). */
async function listAll(source: DashboardSource, filter: TaskFilter, pageSize: number): Promise<string[]> {
  const ids: string[] = [];
  for (let offset = 0; ; offset += pageSize) {
    const page = await source.tasks(filter, { offset, limit: pageSize });
    ids.push(...page.rows.map((r) => r.resultId));
    if (page.rows.length < pageSize) return ids;
  }
}

/** The order the worker claims a queue's due READY rows: one claim of one row at a time. */
async function claimOrder(db: TestDatabase, queue: string, priorityAgingFactor: number): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    const [claimed] = await taskClaimBatch(db.sql, claimParams({ queues: [queue], limit: 1, priorityAgingFactor }));
    if (!claimed) return ids;
    ids.push(claimed.resultId);
  }
}

/**
 * 15 READY rows over five priority levels, enqueued up to an hour ago (differences of effective
 * priority between rows do not change with time, so the claim order is stable during the test),
 * plus two rows that are not due yet.
 */
function backlog(queue: string): RowSpec[] {
  const rows: RowSpec[] = Array.from({ length: 15 }, (_, i) => ({ queue, priority: (i * 7) % 5, ageSeconds: 60 + ((i * 397) % 3600) }));
  rows.push({ queue, priority: 9, ageSeconds: 4000, runAfterSeconds: 600 }, { queue, priority: 0, ageSeconds: 10, runAfterSeconds: 60 });
  return rows;
}

describe("READY lists in claim order", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ flavour: "reproq" });
  });
  afterAll(() => db?.drop());

  for (const factor of [60, 0]) {
    test(`queue READY list = the order the claim takes them (priority_aging_factor ${factor}), across pages`, async () => {
      await resetTables(db.sql);
      const ids = await insertRows(db.sql, backlog("orderq"));
      const source = createDashboardSource(db.sql, { readOnly: true, ownsPool: false, priorityAgingFactor: factor });
      const listed = await listAll(source, { queue: "orderq", status: "READY" }, 4);
      const first = await source.tasks({ queue: "orderq", status: "READY" }, { offset: 0, limit: 50 });
      const claimed = await claimOrder(db, "orderq", factor);
      expect(claimed).toHaveLength(15);
      expect(listed).toEqual(claimed);
      expect(first.total).toEqual({ value: 15, estimate: false });
      // The two future rows were neither listed nor claimed.
      expect(listed).not.toContain(ids[15]);
      expect(listed).not.toContain(ids[16]);
    });
  }

  test("all queues: each queue's rows keep their claim order; scheduled rows are left out", async () => {
    await resetTables(db.sql);
    await insertRows(db.sql, [...backlog("qa"), ...backlog("qb")]);
    const source = createDashboardSource(db.sql, { readOnly: true, ownsPool: false, priorityAgingFactor: 60 });
    const page = await source.tasks({ status: "READY" }, { offset: 0, limit: 100 });
    expect(page.rows).toHaveLength(30);
    expect(page.total).toEqual({ value: 30, estimate: false });
    const listedA = page.rows.filter((r) => r.queue === "qa").map((r) => r.resultId);
    const listedB = page.rows.filter((r) => r.queue === "qb").map((r) => r.resultId);
    expect(listedA).toEqual(await claimOrder(db, "qa", 60));
    expect(listedB).toEqual(await claimOrder(db, "qb", 60));
  });
});

describe("scheduled READY rows (run_after in the future)", () => {
  let db: TestDatabase;
  let seed: SeedInfo;
  let source: DashboardSource;
  beforeAll(async () => {
    db = await createTestDatabase({ flavour: "reproq" });
    seed = await seedDashboard(db.sql);
    source = createDashboardSource(db.sql, { readOnly: true, ownsPool: false });
  });
  afterAll(() => db?.drop());

  test("per-queue counts and totals separate due READY from scheduled", async () => {
    const o = await source.overview();
    const byQueue = Object.fromEntries(o.queues.map((q) => [q.queue, [q.ready, q.scheduled]]));
    expect(byQueue).toEqual({ default: [6, 1], emails: [3, 0], reports: [4, 0] });
    expect([o.totals.ready, o.totals.scheduled]).toEqual([13, 1]);
  });

  test("the SCHEDULED list holds the future row with its due time; READY leaves it out", async () => {
    const scheduled = await source.tasks({ queue: "default", status: "SCHEDULED" }, { offset: 0, limit: 50 });
    expect(scheduled.rows.map((r) => r.resultId)).toEqual([seed.ids.readyFuture]);
    expect(scheduled.total).toEqual({ value: 1, estimate: false });
    const dueIn = scheduled.rows[0]!.dueInSeconds!;
    expect(dueIn).toBeGreaterThan(3500);
    expect(dueIn).toBeLessThanOrEqual(3600);
    const ready = await source.tasks({ queue: "default", status: "READY" }, { offset: 0, limit: 50 });
    expect(ready.total).toEqual({ value: 6, estimate: false });
    expect(ready.rows.map((r) => r.resultId)).not.toContain(seed.ids.readyFuture);
    // The delayed row whose run_after passed is due: READY, no due time.
    const delayed = ready.rows.find((r) => r.resultId === seed.ids.readyDelayed)!;
    expect(delayed.dueInSeconds).toBeNull();
    // Claim order with the default aging (60 s per point): the delayed row enqueued 3000 s ago
    // (0 + 50) before the priority-5 row enqueued 120 s ago (5 + 2), then the rest oldest first.
    expect(ready.rows[0]!.resultId).toBe(seed.ids.readyDelayed);
    expect(ready.rows[1]!.resultId).toBe(seed.ids.readyInventory);
  });

  test("the ALL list and the detail show the scheduled row as such; the status stays READY", async () => {
    const all = await source.tasks({ queue: "default" }, { offset: 0, limit: 100 });
    const row = all.rows.find((r) => r.resultId === seed.ids.readyFuture)!;
    expect(row.status).toBe("READY");
    expect(row.dueInSeconds).toBeGreaterThan(3500);
    const detail = await source.task(seed.ids.readyFuture);
    expect(detail!.status).toBe("READY");
    expect(detail!.dueInSeconds).toBeGreaterThan(3500);
    const [stored] = await db.sql<{ status: string }[]>`select status from task_runs where result_id = ${seed.ids.readyFuture}`;
    expect(stored!.status).toBe("READY");
  });
});

describe("failures headline beyond the group window", () => {
  const FAILED = 2 * FAILURE_GROUPS_WINDOW;
  let db: TestDatabase;
  let source: DashboardSource;
  beforeAll(async () => {
    db = await createTestDatabase({ flavour: "reproq" });
    await generateDashboardRows(db.sql, FAILED, { failed: 1000, ready: 0, running: 0, waiting: 0, cancelled: 0 });
    source = createDashboardSource(db.sql, { readOnly: true, ownsPool: false });
  });
  afterAll(() => db?.drop());

  test("the total is every FAILED row; the groups say they count the newest window", async () => {
    const ui = renderSized(<App source={source} refreshMs={60_000} readOnly={true} colour={false} />, { columns: 140, rows: 40 });
    try {
      await ui.waitFor((f) => f.includes("Recent failures"), 10_000);
      await ui.press("4");
      const frame = await ui.waitFor((f) => /Failures  \S+ FAILED/.test(f), 10_000);
      expect(frame).toContain("Failures  20,000 FAILED");
      expect(frame).toContain("20 groups among the newest 10,000");
      expect(frame).not.toContain("10,000 FAILED");
    } finally {
      ui.unmount();
    }
    const summary = await source.failureGroups();
    expect(summary.total).toEqual({ value: FAILED, estimate: false });
    expect(summary.window).toBe(FAILURE_GROUPS_WINDOW);
    expect(summary.groups.reduce((n, g) => n + g.count, 0)).toBe(FAILURE_GROUPS_WINDOW);
    expect(summary.groupCount).toBe(20);
  });

  test("a total beyond the exact-count cap is a labelled estimate", async () => {
    const capped = createDashboardSource(db.sql, { readOnly: true, ownsPool: false, queueCountCap: 5_000 });
    const summary = await capped.failureGroups();
    expect(summary.total.estimate).toBe(true);
    expect(summary.total.value).toBeGreaterThan(FAILED * 0.8);
    expect(summary.total.value).toBeLessThan(FAILED * 1.2);
  });
});
