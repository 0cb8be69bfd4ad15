// The `reproq top` data layer (src/tui/data.ts over src/queue/dashboard.ts) against the seeded
// database of tests/helpers/dashboard-seed.ts: every number the dashboard shows, the task list's
// filters and paging, the detail view, and the actions (each changes exactly its rows; read-only
// refuses without touching the database).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createElement } from "react";
import { TOP_SESSION_SETTINGS } from "../../src/cli/top.ts";
import { closeDb, createDb, type Sql } from "../../src/db/client.ts";
import { App } from "../../src/tui/app.tsx";
import { createDashboardSource, describeCron, readLogTail, READ_ONLY_MESSAGE } from "../../src/tui/data.ts";
import type { Action, DashboardSource } from "../../src/tui/model.ts";
import { SEED_EXPECTED, SEED_TASK_PATHS, SEED_WORKERS, seedDashboard, type SeedInfo } from "../helpers/dashboard-seed.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { renderSized } from "../helpers/fake-dashboard.ts";

let logDir: string;
let logFile: string;
const LOG_LINES = 3000; // ~100 KB: more than the 64 KB the tail reads

beforeAll(async () => {
  logDir = await mkdtemp(join(tmpdir(), "reproq-top-logs-"));
  logFile = join(logDir, "task.log");
  await writeFile(logFile, Array.from({ length: LOG_LINES }, (_, i) => `line ${i + 1} ${"x".repeat(24)}`).join("\n") + "\n");
});
afterAll(() => rm(logDir, { recursive: true, force: true }));

async function seeded(): Promise<{ db: TestDatabase; info: SeedInfo; source: DashboardSource }> {
  const db = await createTestDatabase({ flavour: "reproq" });
  const info = await seedDashboard(db.sql, { logsUri: pathToFileURL(logFile).href });
  return { db, info, source: createDashboardSource(db.sql, { readOnly: false, ownsPool: false }) };
}

describe("reads", () => {
  let db: TestDatabase;
  let info: SeedInfo;
  let source: DashboardSource;
  beforeAll(async () => {
    ({ db, info, source } = await seeded());
  });
  afterAll(() => db?.drop());

  test("overview: totals, throughput, oldest READY, live workers", async () => {
    const o = await source.overview();
    expect(o.totals).toEqual({
      ready: 13, scheduled: 1, running: 5, waiting: 1, failed: 8,
      successful: { value: 20, estimate: false },
      cancelled: { value: 3, estimate: false },
    });
    expect(o.throughput).toEqual({ finished1m: 8, finished5m: 17, perMinute1m: 8, perMinute5m: 3.4, successRate5m: 0.75 });
    expect(o.oldestReadySeconds).toBeGreaterThanOrEqual(610);
    expect(o.oldestReadySeconds).toBeLessThan(640);
    expect(o.liveWorkers).toBe(3);
    expect(o.now).toBeInstanceOf(Date);
  });

  test("overview: per-queue counts, oldest due READY age, pause state and completion buckets", async () => {
    const o = await source.overview();
    expect(o.queues.map((q) => q.queue)).toEqual(["default", "emails", "reports"]);
    for (const q of o.queues) {
      const want = SEED_EXPECTED.queues[q.queue as keyof typeof SEED_EXPECTED.queues];
      const { oldestReadySeconds, ...rest } = q;
      const { oldestReadySeconds: wantAge, ...wantRest } = want;
      expect(rest).toEqual({ queue: q.queue, ...wantRest, completions: [...want.completions] });
      expect(oldestReadySeconds).toBeGreaterThanOrEqual(wantAge);
      expect(oldestReadySeconds).toBeLessThan(wantAge + 30);
    }
    // default's oldest row overall is the not-yet-due one (enqueued 5000 s ago) and the delayed
    // one (enqueued 3000 s ago, due 30 s ago): neither may set the age.
    expect(o.queues[0]!.oldestReadySeconds).toBeLessThan(200);
  });

  test("overview: recent failures newest first with class and one-line message", async () => {
    const o = await source.overview();
    expect(o.recentFailures.map((f) => [f.queue, f.taskPath])).toEqual(SEED_EXPECTED.recentFailures.map(([q, t]) => [q, t]));
    const newest = o.recentFailures[0]!;
    expect(newest.resultId).toBe(info.ids.failedEmailNewest);
    expect(newest.exceptionClass).toBe("smtplib.SMTPServerDisconnected");
    expect(newest.message).toBe("smtplib.SMTPServerDisconnected: Connection unexpectedly closed");
    expect([newest.attempts, newest.maxAttempts]).toEqual([3, 3]);
    const timeout = o.recentFailures.find((f) => f.resultId === info.ids.failedTimeout)!;
    expect(timeout.exceptionClass).toBeNull();
    expect(timeout.message).toBe("timed out after 900s");
  });

  test("workers: health classes, running counts, queues", async () => {
    const workers = await source.workers();
    expect(workers.map((w) => [w.workerId, w.health, w.running])).toEqual([
      [SEED_WORKERS.alive1, "alive", 3],
      [SEED_WORKERS.alive2, "alive", 1],
      [SEED_WORKERS.stale, "stale", 1],
      [SEED_WORKERS.dead, "dead", 0],
    ]);
    const alive1 = workers[0]!;
    expect(alive1).toMatchObject({ hostname: "host-a", version: "0.1.0", queues: ["default", "emails"], concurrency: 8 });
    expect(alive1.lastSeenSeconds).toBeGreaterThanOrEqual(5);
    expect(alive1.lastSeenSeconds).toBeLessThan(25);
    expect(workers[3]!.version).toBeNull();
  });

  test("failure groups: task path + exception class, counts, newest sample", async () => {
    const summary = await source.failureGroups();
    expect(summary).toMatchObject({ total: { value: 8, estimate: false }, window: null, groupCount: 4 });
    const groups = summary.groups;
    expect(groups.map((g) => [g.taskPath, g.exceptionClass, g.count])).toEqual(SEED_EXPECTED.failureGroups);
    expect(groups[0]!.sampleMessage).toBe("smtplib.SMTPServerDisconnected: Connection unexpectedly closed");
    expect(groups[3]!.sampleMessage).toBe("KeyError: 'sku'");
    // The newest failure of the SMTP group is 25 s old; of the KeyError group 8000 s.
    const age = (d: Date | null) => (Date.now() - d!.getTime()) / 1000;
    expect(age(groups[0]!.lastFailedAt)).toBeLessThan(60);
    expect(age(groups[3]!.lastFailedAt)).toBeGreaterThan(7900);
  });

  test("periodic: description, next run sign, enabled", async () => {
    const rows = await source.periodic();
    expect(rows.map((r) => r.name)).toEqual(["broken-schedule", "legacy-cleanup", "nightly-report", "send-digest"]);
    const by = Object.fromEntries(rows.map((r) => [r.name, r]));
    expect(by["send-digest"]!.nextRunInSeconds).toBeLessThan(-80);
    expect(by["send-digest"]!.description).toBe("every 5 minutes");
    expect(by["nightly-report"]!.nextRunInSeconds).toBeGreaterThan(7100);
    expect(by["nightly-report"]!.nextRunInSeconds).toBeLessThanOrEqual(7200);
    expect(by["nightly-report"]!.description).toBe("at 03:00");
    expect(by["legacy-cleanup"]!.enabled).toBe(false);
    expect(by["legacy-cleanup"]!.description).toBe("at 04:30, only on Monday");
    expect(by["broken-schedule"]!.description).toBeNull();
    expect(by["nightly-report"]!).toMatchObject({ cronExpr: "0 3 * * *", taskPath: SEED_TASK_PATHS.report, queue: "reports", enabled: true });
    expect(by["legacy-cleanup"]!.lastRunAt).toBeNull();
  });

  test("rate limits: tokens refilled up to burst since the last refill", async () => {
    const rows = await source.rateLimits();
    expect(rows.map((r) => r.key)).toEqual(["global", "queue:default", "queue:emails"]);
    expect(rows[0]).toEqual({ key: "global", tokensPerSecond: 0, burstSize: 1, currentTokens: 0 });
    expect(rows[1]).toEqual({ key: "queue:default", tokensPerSecond: 0.5, burstSize: 5, currentTokens: 5 }); // capped at burst
    const emails = rows[2]!;
    expect([emails.tokensPerSecond, emails.burstSize]).toEqual([2, 10]);
    expect(emails.currentTokens).toBeGreaterThanOrEqual(5); // 1 stored + 2 s × 2/s, and growing
    expect(emails.currentTokens).toBeLessThan(10);
  });

  test("tasks: queue + status filter, exact total, newest first, paging", async () => {
    const page1 = await source.tasks({ queue: "emails", status: "FAILED" }, { offset: 0, limit: 3 });
    expect(page1.total).toEqual({ value: 4, estimate: false });
    expect(page1.rows.map((r) => r.resultId)).toEqual([...info.failedIds.emails].reverse().slice(0, 3));
    expect(page1.offset).toBe(0);
    const page2 = await source.tasks({ queue: "emails", status: "FAILED" }, { offset: 3, limit: 3 });
    expect(page2.rows.map((r) => r.resultId)).toEqual([info.failedIds.emails[0]!]);
    expect(page2.offset).toBe(3);
    const row = page1.rows[0]!;
    expect(row).toMatchObject({ queue: "emails", status: "FAILED", taskPath: SEED_TASK_PATHS.email, attempts: 3, maxAttempts: 3 });
    expect(row.lastError).toContain("SMTPServerDisconnected");
    expect(row.ageSeconds).toBeGreaterThanOrEqual(5000); // finished row: age since finished (5000 s for the oldest)
  });

  test("tasks: SUCCESSFUL counted exactly on a small table; all rows", async () => {
    expect((await source.tasks({ status: "SUCCESSFUL" }, { offset: 0, limit: 5 })).total).toEqual({ value: 20, estimate: false });
    const all = await source.tasks({}, { offset: 0, limit: 100 });
    expect(all.total).toEqual({ value: SEED_EXPECTED.rowCount, estimate: false });
    expect(all.rows).toHaveLength(SEED_EXPECTED.rowCount);
    const ids = all.rows.map((r) => BigInt(r.resultId));
    expect(ids).toEqual([...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
  });

  test("tasks: task path prefix with *, exception class, free text, result id", async () => {
    const prefix = await source.tasks({ taskPath: "myapp.tasks.send_*" }, { offset: 0, limit: 50 });
    expect(prefix.total.value).toBe(17); // send_email 16 rows + send_digest 1
    expect(new Set(prefix.rows.map((r) => r.taskPath))).toEqual(new Set([SEED_TASK_PATHS.email, SEED_TASK_PATHS.digest]));
    const exact = await source.tasks({ taskPath: SEED_TASK_PATHS.digest }, { offset: 0, limit: 50 });
    expect(exact.total.value).toBe(1);
    const byClass = await source.tasks({ exceptionClass: "ValueError" }, { offset: 0, limit: 50 });
    expect(byClass.rows.map((r) => r.status)).toEqual(["FAILED", "FAILED"]);
    const timeout = await source.tasks({ exceptionClass: "timeout" }, { offset: 0, limit: 50 });
    expect(timeout.rows.map((r) => r.resultId)).toEqual([info.ids.failedTimeout]);
    const text = await source.tasks({ text: "smtp" }, { offset: 0, limit: 50 });
    expect(text.total).toEqual({ value: 4, estimate: false });
    expect(text.rows.every((r) => r.status === "FAILED" && r.queue === "emails")).toBe(true);
    const textPath = await source.tasks({ text: "INVENTORY", status: "READY" }, { offset: 0, limit: 50 });
    expect(textPath.rows.map((r) => r.resultId)).toEqual([info.ids.readyInventory]);
    const byId = await source.tasks({ text: info.ids.child }, { offset: 0, limit: 50 });
    // The child's path and (NULL) last_error do not contain its id: only the result_id match finds it.
    expect(byId.rows.map((r) => r.resultId)).toContain(info.ids.child);
    const none = await source.tasks({ text: "100%_match" }, { offset: 0, limit: 50 });
    expect(none.rows).toEqual([]);
    expect(none.total).toEqual({ value: 0, estimate: false });
  });

  test("task detail: every column, errors with tracebacks, log tail, workflow links", async () => {
    const t = (await source.task(info.ids.failedEmailNewest))!;
    expect(t).toMatchObject({
      resultId: info.ids.failedEmailNewest, queue: "emails", status: "FAILED", priority: 0, taskPath: SEED_TASK_PATHS.email,
      attempts: 3, maxAttempts: 3, runAfter: null, durationSeconds: 5, leasedBy: null, workerIds: [SEED_WORKERS.alive1],
      returnPretty: null, lastError: "smtplib.SMTPServerDisconnected: Connection unexpectedly closed", logsUri: pathToFileURL(logFile).href,
      workflowId: null, parentId: null, cancelRequested: false, args: [], kwargs: { to: "user25@example.com" },
    });
    expect(t.specHash).toMatch(/^[0-9a-f]{64}$/);
    expect(t.specPretty).toContain('\n  "kwargs": {\n    "to": "user25@example.com"\n  }');
    expect(t.errors).toHaveLength(3);
    expect(t.errors[2]).toMatchObject({ kind: "exception", attempt: 3, exceptionClass: "smtplib.SMTPServerDisconnected", message: "Connection unexpectedly closed" });
    expect(t.errors[2]!.traceback).toStartWith("Traceback (most recent call last):");
    expect(t.errors[2]!.traceback).toEndWith("smtplib.SMTPServerDisconnected: Connection unexpectedly closed");
    expect(t.errors[0]!.at).toBe("2026-01-01T00:00:00Z");
    expect(t.logTail).toHaveLength(40);
    expect(t.logTail![39]).toStartWith(`line ${LOG_LINES} `);
    expect(t.logTail![0]).toStartWith(`line ${LOG_LINES - 39} `);
    expect(t.finishedAt!.getTime() - t.startedAt!.getTime()).toBe(5000);

    const timeout = (await source.task(info.ids.failedTimeout))!;
    expect(timeout.errors).toEqual([{ kind: "timeout", at: "2026-01-01T00:00:00Z", attempt: 1, exceptionClass: null, message: "timed out after 900s", traceback: null }]);
    expect(timeout.logTail).toBeNull();

    const child = (await source.task(info.ids.child))!;
    expect(child).toMatchObject({ status: "WAITING", parentId: info.ids.parent, workflowId: info.workflowId, startedAt: null, durationSeconds: null });
    const running = (await source.task(info.ids.running1))!;
    expect(running.leasedBy).toBe(SEED_WORKERS.alive1);

    const all = await source.tasks({ status: "SUCCESSFUL", queue: "reports" }, { offset: 0, limit: 1 });
    const done = (await source.task(all.rows[0]!.resultId))!;
    expect(done.returnPretty).toBe('{\n  "ok": true,\n  "ago": 200000\n}');

    expect(await source.task("999999999")).toBeNull();
    expect(await source.task("not-a-number")).toBeNull();
  });

  test("lastQueryMs records each method's database time", async () => {
    await source.overview();
    await source.workers();
    for (const key of ["overview", "overview.queueCounts", "overview.throughput", "workers", "tasks", "task", "periodic", "rateLimits", "failureGroups"]) {
      expect(source.lastQueryMs[key]).toBeGreaterThanOrEqual(0);
      expect(source.lastQueryMs[key]).toBeLessThan(5000);
    }
  });
});

describe("log tail and cron helpers", () => {
  test("readLogTail: plain path, file:// URL, bounded read, unreadable → null", async () => {
    const short = join(logDir, "short.log");
    await writeFile(short, "a\nb\r\nc\n");
    expect(await readLogTail(short)).toEqual(["a", "b", "c"]);
    expect(await readLogTail(pathToFileURL(short).href)).toEqual(["a", "b", "c"]);
    const tail = (await readLogTail(logFile, 5, 200))!;
    expect(tail).toEqual([LOG_LINES - 4, LOG_LINES - 3, LOG_LINES - 2, LOG_LINES - 1, LOG_LINES].map((n) => `line ${n} ${"x".repeat(24)}`));
    expect(await readLogTail(join(logDir, "missing.log"))).toBeNull();
    expect(await readLogTail(logDir)).toBeNull();
    expect(await readLogTail("s3://bucket/key.log")).toBeNull();
    expect(await readLogTail(null)).toBeNull();
  });

  test("describeCron", () => {
    expect(describeCron("*/5 * * * *")).toBe("every 5 minutes");
    expect(describeCron("0 3 * * *")).toBe("at 03:00");
    expect(describeCron("61 * * * *")).toBeNull();
    expect(describeCron("")).toBeNull();
    expect(describeCron("CRON_TZ=Europe/Paris 0 3 * * *")).toBe("at 03:00 (Europe/Paris)");
  });
});

async function snapshot(sql: Sql) {
  const rows = await sql<{ line: string }[]>`
    select concat_ws('|', result_id, status, cancel_requested, last_error) as line from task_runs order by result_id`;
  const controls = await sql<{ line: string }[]>`select concat_ws('|', queue_name, paused, reason) as line from reproq_queue_controls order by 1`;
  return [...rows.map((r) => r.line), ...controls.map((r) => r.line)];
}

async function statusOf(sql: Sql, id: string): Promise<string> {
  const [row] = await sql<{ status: string }[]>`select status from task_runs where result_id = ${id}::bigint`;
  return row!.status;
}

describe("actions", () => {
  let db: TestDatabase;
  let info: SeedInfo;
  let source: DashboardSource;
  beforeAll(async () => {
    ({ db, info, source } = await seeded());
  });
  afterAll(() => db?.drop());

  test("read-only refuses every action and writes nothing", async () => {
    const ro = createDashboardSource(db.sql, { readOnly: true, ownsPool: false });
    expect(ro.readOnly).toBe(true);
    const before = await snapshot(db.sql);
    const actions: Action[] = [
      { kind: "retry", resultId: info.ids.failedResize },
      { kind: "discard", resultId: info.ids.failedResize, reason: null },
      { kind: "cancel", resultId: info.ids.running1 },
      { kind: "replay", resultId: info.ids.failedResize },
      { kind: "retry-matching", filter: {} },
      { kind: "discard-matching", filter: {}, reason: "x" },
      { kind: "pause-queue", queue: "emails", reason: "x" },
      { kind: "resume-queue", queue: "reports" },
    ];
    for (const action of actions) expect(await ro.perform(action)).toEqual({ ok: false, message: READ_ONLY_MESSAGE });
    expect(await snapshot(db.sql)).toEqual(before);
  });

  test("previews count exactly what would change and change nothing", async () => {
    const before = await snapshot(db.sql);
    expect(await source.preview({ kind: "retry-matching", filter: { queue: "emails" } })).toEqual({
      summary: "Retry 4 FAILED tasks in queue emails: they become READY\nFailures that arrive after this preview are not included.", count: 4,
      action: { kind: "retry-matching", filter: { queue: "emails" }, bound: { maxResultId: info.failedIds.emails.at(-1)!, count: 4 } },
    });
    expect(await source.preview({ kind: "retry-matching", filter: { taskPath: "myapp.tasks.send_*" } })).toMatchObject({ count: 4 });
    expect((await source.preview({ kind: "retry-matching", filter: { queue: "emails", taskPath: "myapp.tasks.send_*" } })).summary).toBe(
      "Retry 4 FAILED tasks in queue emails (task myapp.tasks.send_*): they become READY\nFailures that arrive after this preview are not included.",
    );
    expect(await source.preview({ kind: "discard-matching", filter: {}, reason: "cleanup" })).toMatchObject({
      summary: "Discard 8 FAILED tasks: they become CANCELLED (reason: cleanup)\nFailures that arrive after this preview are not included.", count: 8,
    });
    expect((await source.preview({ kind: "retry-matching", filter: { status: "READY" } })).count).toBe(0);
    expect((await source.preview({ kind: "retry", resultId: info.ids.failedResize })).count).toBe(1);
    expect((await source.preview({ kind: "retry", resultId: info.ids.running1 })).count).toBe(0);
    expect((await source.preview({ kind: "cancel", resultId: info.ids.running1 })).summary).toContain(SEED_WORKERS.alive1);
    expect((await source.preview({ kind: "pause-queue", queue: "emails", reason: "smtp down" })).summary).toBe(
      "Pause queue emails (reason: smtp down): workers stop claiming from it",
    );
    expect((await source.preview({ kind: "retry", resultId: "999999999" })).count).toBe(0);
    expect(await snapshot(db.sql)).toEqual(before);
  });

  test("retry one FAILED task; a spec already queued is skipped", async () => {
    expect(await source.perform({ kind: "retry", resultId: info.ids.failedResize })).toEqual({ ok: true, message: "retried 1" });
    expect(await statusOf(db.sql, info.ids.failedResize)).toBe("READY");
    expect(await source.perform({ kind: "retry", resultId: info.ids.failedInventory })).toEqual({ ok: false, message: "retried 0, skipped 1 (already queued)" });
    expect(await statusOf(db.sql, info.ids.failedInventory)).toBe("FAILED");
    expect((await source.perform({ kind: "retry", resultId: info.ids.running1 })).ok).toBe(false);
    expect((await source.overview()).totals.failed).toBe(7);
  });

  test("retry-matching retries exactly the FAILED rows of the filter", async () => {
    const result = await source.perform({ kind: "retry-matching", filter: { queue: "emails", taskPath: "myapp.tasks.send_*" } });
    expect(result).toEqual({ ok: true, message: "retried 4" });
    for (const id of info.failedIds.emails) expect(await statusOf(db.sql, id)).toBe("READY");
    const o = await source.overview();
    expect(o.totals.failed).toBe(3);
    expect(o.queues.find((q) => q.queue === "emails")).toMatchObject({ ready: 7, failed: 0 });
    expect(await source.perform({ kind: "retry-matching", filter: { queue: "default" } })).toEqual({
      ok: true, message: "retried 1, skipped 1 (already queued)",
    });
    expect(await statusOf(db.sql, info.failedIds.default.find((id) => id !== info.ids.failedResize && id !== info.ids.failedInventory)!)).toBe("READY");
    expect(await statusOf(db.sql, info.ids.failedInventory)).toBe("FAILED");
  });

  test("discard one and discard-matching", async () => {
    expect(await source.perform({ kind: "discard", resultId: info.ids.failedTimeout, reason: "report retired" })).toEqual({ ok: true, message: "discarded 1" });
    const [row] = await db.sql<{ status: string; last_error: string }[]>`select status, last_error from task_runs where result_id = ${info.ids.failedTimeout}::bigint`;
    expect(row).toEqual({ status: "CANCELLED", last_error: "report retired" });
    expect((await source.perform({ kind: "discard", resultId: info.ids.failedTimeout, reason: null })).ok).toBe(false);
    expect(await source.perform({ kind: "discard-matching", filter: { exceptionClass: "KeyError" }, reason: null })).toEqual({ ok: true, message: "discarded 1" });
    expect(await statusOf(db.sql, info.ids.failedInventory)).toBe("CANCELLED");
    expect((await source.overview()).totals.failed).toBe(0);
  });

  test("cancel: RUNNING gets cancel_requested, READY becomes CANCELLED, finished rows refuse", async () => {
    expect(await source.perform({ kind: "cancel", resultId: info.ids.running1 })).toEqual({ ok: true, message: "cancel requested (the worker stops it)" });
    const t = (await source.task(info.ids.running1))!;
    expect([t.status, t.cancelRequested]).toEqual(["RUNNING", true]);
    expect(await source.perform({ kind: "cancel", resultId: info.ids.readyDelayed })).toEqual({ ok: true, message: "cancelled 1" });
    expect(await statusOf(db.sql, info.ids.readyDelayed)).toBe("CANCELLED");
    expect((await source.perform({ kind: "cancel", resultId: info.ids.failedTimeout })).ok).toBe(false);
  });

  test("replay: a new READY copy; refused while the spec is active", async () => {
    const before = (await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs`)[0]!.n;
    const result = await source.perform({ kind: "replay", resultId: info.ids.failedTimeout });
    expect(result.ok).toBe(true);
    const newId = /replayed as task (\d+)/.exec(result.message)![1]!;
    const copy = (await source.task(newId))!;
    const original = (await source.task(info.ids.failedTimeout))!;
    expect([copy.status, copy.queue, copy.specHash]).toEqual(["READY", "reports", original.specHash]);
    expect((await source.perform({ kind: "replay", resultId: info.ids.failedTimeout })).ok).toBe(false);
    const after = (await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs`)[0]!.n;
    expect(after).toBe(before + 1);
  });

  test("pause and resume queues", async () => {
    expect(await source.perform({ kind: "pause-queue", queue: "emails", reason: "smtp down" })).toEqual({ ok: true, message: "paused queue emails" });
    expect(await source.perform({ kind: "resume-queue", queue: "reports" })).toEqual({ ok: true, message: "resumed queue reports" });
    const queues = (await source.overview()).queues;
    expect(queues.find((q) => q.queue === "emails")).toMatchObject({ paused: true, pausedReason: "smtp down" });
    expect(queues.find((q) => q.queue === "reports")).toMatchObject({ paused: false, pausedReason: null });
  });
});

describe("bulk actions act only on what the preview saw", () => {
  let db: TestDatabase;
  let info: SeedInfo;
  let source: DashboardSource;
  beforeAll(async () => {
    ({ db, info, source } = await seeded());
  });
  afterAll(() => db?.drop());

  /** `n` more FAILED rows in the queue of `likeId` (copies of it with fresh spec hashes). */
  async function moreFailures(likeId: string, n: number): Promise<string[]> {
    const rows = await db.sql<{ result_id: string }[]>`
      insert into task_runs (
        backend_alias, queue_name, priority, spec_json, spec_hash, task_path, status, enqueued_at, started_at, finished_at,
        failed_at, attempts, max_attempts, timeout_seconds, concurrency_limit, wait_count, worker_ids, errors_json,
        metadata_json, last_error, created_at, updated_at, cancel_requested
      )
      select backend_alias, queue_name, priority, spec_json, md5(random()::text) || md5(g::text), task_path, status, now(), now(), now(),
             now(), attempts, max_attempts, timeout_seconds, concurrency_limit, wait_count, worker_ids, errors_json,
             metadata_json, last_error, now(), now(), false
      from task_runs cross join generate_series(1, ${n}::int) g where result_id = ${likeId}::bigint
      returning result_id`;
    return rows.map((r) => String(r.result_id));
  }

  test("retry-matching: failures added after the preview are left FAILED and reported", async () => {
    const preview = await source.preview({ kind: "retry-matching", filter: { queue: "emails" } });
    expect(preview.count).toBe(4);
    const newer = await moreFailures(info.failedIds.emails[0]!, 3);
    const result = await source.perform(preview.action!);
    expect(result).toEqual({ ok: true, message: "retried 4; 3 newer failures were not included" });
    for (const id of info.failedIds.emails) expect(await statusOf(db.sql, id)).toBe("READY");
    for (const id of newer) expect(await statusOf(db.sql, id)).toBe("FAILED");
  });

  test("discard-matching: the same bound", async () => {
    const preview = await source.preview({ kind: "discard-matching", filter: { queue: "reports" }, reason: null });
    const before = preview.count;
    expect(before).toBeGreaterThan(0);
    const newer = await moreFailures(info.ids.failedTimeout, 2);
    expect(await source.perform(preview.action!)).toEqual({ ok: true, message: `discarded ${before}; 2 newer failures were not included` });
    for (const id of newer) expect(await statusOf(db.sql, id)).toBe("FAILED");
  });

  test("a preview that matched nothing performs nothing even if matches appear", async () => {
    const preview = await source.preview({ kind: "discard-matching", filter: { queue: "nosuchqueue" }, reason: null });
    expect(preview).toMatchObject({ count: 0, action: { bound: { maxResultId: null, count: 0 } } });
    expect(await source.perform(preview.action!)).toEqual({ ok: true, message: "discarded 0" });
  });
});

describe("statement timeout", () => {
  test("a statement over the pool's statement_timeout rejects the refresh; the app shows it down, then recovers", async () => {
    const db = await createTestDatabase({ flavour: "reproq" });
    const sql = createDb({ dsn: db.dsn, env: {}, poolSize: 3, connectTimeoutMs: 10_000, prepare: true, sessionSettings: { ...TOP_SESSION_SETTINGS, statement_timeout: "200ms" } });
    const source = createDashboardSource(sql, { readOnly: true, ownsPool: false });
    const [setting] = await sql<{ statement_timeout: string; jit: string }[]>`select current_setting('statement_timeout') as statement_timeout, current_setting('jit') as jit`;
    expect(setting).toEqual({ statement_timeout: "200ms", jit: "off" });
    const locker = await db.sql.reserve();
    try {
      await locker`begin`;
      await locker`lock table task_runs in access exclusive mode`;
      const error = await source.overview().then(() => null, (e: unknown) => e as { code?: string });
      expect(error?.code).toBe("57014"); // query_canceled: canceling statement due to statement timeout
      const ui = renderSized(createElement(App, { source, refreshMs: 300, readOnly: true, colour: false }), { columns: 120, rows: 30 });
      try {
        await ui.waitFor((f) => f.includes("down") && f.includes("statement timeout"), 10_000);
        await locker`rollback`;
        await ui.waitFor((f) => f.includes("OK"), 10_000);
      } finally {
        ui.unmount();
      }
    } finally {
      await locker`rollback`.catch(() => {});
      locker.release();
      await closeDb(sql, 1);
      await db.drop();
    }
  });
});
