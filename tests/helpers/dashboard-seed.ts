// A deterministic, realistic database for `reproq top` tests (data layer and Ink views): three
// queues (default, emails, reports — reports paused with a reason), several task paths, FAILED rows
// with tracebacks, workers alive/stale/dead, periodic tasks (overdue, future, disabled, invalid
// cron), rate limits and a workflow parent/child. Every time is an offset from the database's
// NOW() of one transaction, so the numbers below hold as long as the test reads within ~10 s of
// seeding. `SEED_EXPECTED` lists the numbers the dashboard must show (hand-computed from the table
// below, not read back from the database), so tests can assert on them.
//
// Usage: `const info = await seedDashboard(sql)` on a migrated database (flavour "reproq").
// Pass `{ logsUri }` to give the newest FAILED emails row a log file.

import type { Queryable, Sql } from "../../src/db/client.ts";
import { randomHash } from "./catalog.ts";

export const SEED_WORKFLOW_ID = "6f1c2e9a-4b7d-4c1e-9a3f-2d5e8b7c1a00";

export const SEED_WORKERS = {
  alive1: "host-a:1201:alive1",
  alive2: "host-b:1202:alive2",
  stale: "host-c:1203:stale",
  dead: "host-d:1204:dead",
} as const;

interface SeedRow {
  key?: string;
  queue: string;
  taskPath: string;
  status: "READY" | "RUNNING" | "WAITING" | "SUCCESSFUL" | "FAILED" | "CANCELLED";
  priority?: number;
  enqueuedAgo: number;
  /** run_after = NOW() + runAfterIn (negative: in the past). */
  runAfterIn?: number;
  startedAgo?: number;
  finishedAgo?: number;
  failedAgo?: number;
  attempts?: number;
  maxAttempts?: number;
  leasedBy?: string;
  leaseIn?: number;
  errors?: Record<string, unknown>[];
  lastError?: string;
  returnValue?: unknown;
  workerIds?: string[];
  kwargs?: Record<string, unknown>;
  /** Rows with the same hashKey share one spec_hash. */
  hashKey?: string;
  parentKey?: string;
  workflow?: boolean;
  waitCount?: number;
  logs?: boolean;
}

const T_RESIZE = "myapp.tasks.resize_image";
const T_INVENTORY = "myapp.tasks.sync_inventory";
const T_EMAIL = "myapp.tasks.send_email";
const T_DIGEST = "myapp.tasks.send_digest";
const T_REPORT = "myapp.reports.build_daily";
const T_IMPORT = "myapp.tasks.import_batch";
const T_FINALIZE = "myapp.tasks.finalize_batch";

export const SEED_TASK_PATHS = { resize: T_RESIZE, inventory: T_INVENTORY, email: T_EMAIL, digest: T_DIGEST, report: T_REPORT, importBatch: T_IMPORT, finalize: T_FINALIZE } as const;

function traceback(file: string, line: number, fn: string, cls: string, message: string): string {
  return [
    "Traceback (most recent call last):",
    `  File "/app/${file}", line ${line}, in ${fn}`,
    `    result = do_${fn}(**kwargs)`,
    `  File "/app/${file}", line ${line + 40}, in do_${fn}`,
    `    raise ${cls.split(".").pop()}(${JSON.stringify(message)})`,
    `${cls}: ${message}`,
  ].join("\n");
}

function exceptionEntry(attempt: number, cls: string, message: string, file: string, fn: string): Record<string, unknown> {
  return { kind: "exception", attempt, exception_class: cls, message, traceback: traceback(file, 10 + attempt, fn, cls, message) };
}

function smtpFailure(ago: number, key?: string): SeedRow {
  const msg = "Connection unexpectedly closed";
  const cls = "smtplib.SMTPServerDisconnected";
  return {
    key, queue: "emails", taskPath: T_EMAIL, status: "FAILED", enqueuedAgo: ago + 300, startedAgo: ago + 5, finishedAgo: ago, failedAgo: ago,
    attempts: 3, maxAttempts: 3, workerIds: [SEED_WORKERS.alive1],
    errors: [1, 2, 3].map((a) => exceptionEntry(a, cls, msg, "myapp/tasks.py", "send_email")),
    lastError: `${cls}: ${msg}`, kwargs: { to: `user${ago}@example.com` },
  };
}

function resizeFailure(ago: number): SeedRow {
  const msg = "image too large: 12000x9000";
  return {
    queue: "default", taskPath: T_RESIZE, status: "FAILED", enqueuedAgo: ago + 120, startedAgo: ago + 2, finishedAgo: ago, failedAgo: ago,
    attempts: 1, maxAttempts: 1, workerIds: [SEED_WORKERS.alive1],
    errors: [exceptionEntry(1, "ValueError", msg, "myapp/images.py", "resize_image")],
    lastError: `ValueError: ${msg}`, kwargs: { image_id: ago },
  };
}

function success(queue: string, taskPath: string, ago: number): SeedRow {
  return {
    queue, taskPath, status: "SUCCESSFUL", enqueuedAgo: ago + 30, startedAgo: ago + 2, finishedAgo: ago,
    attempts: 1, workerIds: [SEED_WORKERS.alive1], returnValue: { ok: true, ago }, kwargs: { n: ago },
  };
}

/** The seeded task_runs rows (51). Ages are seconds before the seeding transaction's NOW(). */
const ROWS: SeedRow[] = [
  // READY — default: 7, of which 6 due (one due 30 s ago after a long delay; oldest due 120 s) and
  // one scheduled (run_after in an hour).
  ...[20, 40, 60, 80].map((ago): SeedRow => ({ queue: "default", taskPath: T_RESIZE, status: "READY", enqueuedAgo: ago, kwargs: { image_id: 1000 + ago } })),
  { key: "readyInventory", queue: "default", taskPath: T_INVENTORY, status: "READY", enqueuedAgo: 120, hashKey: "inventory", priority: 5, kwargs: { sku: "A-1" } },
  { key: "readyDelayed", queue: "default", taskPath: T_RESIZE, status: "READY", enqueuedAgo: 3000, runAfterIn: -30, kwargs: { image_id: 7 } },
  { key: "readyFuture", queue: "default", taskPath: T_RESIZE, status: "READY", enqueuedAgo: 5000, runAfterIn: 3600, kwargs: { image_id: 8 } },
  // READY — emails: 3, oldest 55 s.
  ...[15, 35, 55].map((ago): SeedRow => ({ queue: "emails", taskPath: T_EMAIL, status: "READY", enqueuedAgo: ago, kwargs: { to: `r${ago}@example.com` } })),
  // READY — reports (paused): 4, oldest 610 s.
  ...[610, 400, 300, 200].map((ago): SeedRow => ({ queue: "reports", taskPath: T_REPORT, status: "READY", enqueuedAgo: ago, kwargs: { day: ago } })),

  // RUNNING: alive1 ×3 (default 2, emails 1), alive2 ×1 (workflow parent), stale ×1 (lease expired).
  { key: "running1", queue: "default", taskPath: T_RESIZE, status: "RUNNING", enqueuedAgo: 30, startedAgo: 5, attempts: 1, leasedBy: SEED_WORKERS.alive1, leaseIn: 895, workerIds: [SEED_WORKERS.alive1], kwargs: { image_id: 501 } },
  { queue: "default", taskPath: T_RESIZE, status: "RUNNING", enqueuedAgo: 31, startedAgo: 8, attempts: 1, leasedBy: SEED_WORKERS.alive1, leaseIn: 892, workerIds: [SEED_WORKERS.alive1], kwargs: { image_id: 502 } },
  { key: "runningEmail", queue: "emails", taskPath: T_EMAIL, status: "RUNNING", enqueuedAgo: 12, startedAgo: 3, attempts: 2, leasedBy: SEED_WORKERS.alive1, leaseIn: 897, workerIds: [SEED_WORKERS.alive1], kwargs: { to: "busy@example.com" } },
  { key: "parent", queue: "default", taskPath: T_IMPORT, status: "RUNNING", enqueuedAgo: 90, startedAgo: 60, attempts: 1, leasedBy: SEED_WORKERS.alive2, leaseIn: 840, workerIds: [SEED_WORKERS.alive2], workflow: true, kwargs: { batch: 42 } },
  { queue: "default", taskPath: T_INVENTORY, status: "RUNNING", enqueuedAgo: 1000, startedAgo: 950, attempts: 1, leasedBy: SEED_WORKERS.stale, leaseIn: -50, workerIds: [SEED_WORKERS.stale], kwargs: { sku: "B-2" } },

  // WAITING: the workflow child.
  { key: "child", queue: "default", taskPath: T_FINALIZE, status: "WAITING", enqueuedAgo: 90, parentKey: "parent", workflow: true, waitCount: 1, kwargs: { batch: 42 } },

  // FAILED (8): emails SMTP ×4, default ValueError ×2, reports timeout ×1, default KeyError ×1
  // (its spec is READY again as readyInventory: a retry skips it as already queued).
  smtpFailure(25, "failedEmailNewest"),
  smtpFailure(130),
  smtpFailure(1010),
  smtpFailure(5000, "failedEmailOldest"),
  { ...resizeFailure(50), key: "failedResize" },
  resizeFailure(3010),
  {
    key: "failedTimeout", queue: "reports", taskPath: T_REPORT, status: "FAILED", enqueuedAgo: 1300, startedAgo: 1170, finishedAgo: 270, failedAgo: 270,
    attempts: 1, maxAttempts: 1, workerIds: [SEED_WORKERS.alive2], errors: [{ kind: "timeout", attempt: 1, message: "timed out after 900s" }],
    lastError: "timed out after 900s", kwargs: { day: 1 },
  },
  {
    key: "failedInventory", queue: "default", taskPath: T_INVENTORY, status: "FAILED", enqueuedAgo: 8100, startedAgo: 8005, finishedAgo: 8000, failedAgo: 8000,
    attempts: 3, maxAttempts: 3, hashKey: "inventory", workerIds: [SEED_WORKERS.dead],
    errors: [exceptionEntry(3, "KeyError", "'sku'", "myapp/inventory.py", "sync_inventory")], lastError: "KeyError: 'sku'", kwargs: { sku: "A-1" },
  },

  // SUCCESSFUL (20) and CANCELLED (3), finished at known ages.
  ...[10, 20, 30, 90, 150, 200, 410, 610, 7200, 86400].map((ago) => success("default", T_RESIZE, ago)),
  ...[15, 45, 120, 180, 240, 500, 3600].map((ago) => success("emails", T_EMAIL, ago)),
  success("emails", T_DIGEST, 70),
  success("reports", T_REPORT, 100000),
  success("reports", T_REPORT, 200000),
  { queue: "default", taskPath: T_RESIZE, status: "CANCELLED", enqueuedAgo: 100, finishedAgo: 30, lastError: "discarded", kwargs: { image_id: 3 } },
  { queue: "default", taskPath: T_RESIZE, status: "CANCELLED", enqueuedAgo: 500, finishedAgo: 410, kwargs: { image_id: 4 } },
  { queue: "emails", taskPath: T_EMAIL, status: "CANCELLED", enqueuedAgo: 10100, finishedAgo: 10000, kwargs: { to: "gone@example.com" } },
];

function zeros(at: Record<number, number>): number[] {
  return Array.from({ length: 15 }, (_, i) => at[i] ?? 0);
}

/** What the dashboard must show right after seeding (hand-computed from ROWS). */
export const SEED_EXPECTED = {
  /** ready = due READY; scheduled = READY with run_after in the future. */
  totals: { ready: 13, scheduled: 1, running: 5, waiting: 1, failed: 8, successful: 20, cancelled: 3 },
  throughput: { finished1m: 8, finished5m: 17, perMinute1m: 8, perMinute5m: 3.4, successRate5m: 0.75 },
  /** Oldest due READY age over all queues (reports). */
  oldestReadySeconds: 610,
  liveWorkers: 3,
  queues: {
    default: { ready: 6, scheduled: 1, running: 4, waiting: 1, failed: 3, oldestReadySeconds: 120, paused: false, pausedReason: null, completions: zeros({ 4: 1, 8: 2, 11: 1, 12: 1, 13: 1, 14: 5 }) },
    emails: { ready: 3, scheduled: 0, running: 1, waiting: 0, failed: 4, oldestReadySeconds: 55, paused: false, pausedReason: null, completions: zeros({ 6: 1, 10: 1, 11: 1, 12: 2, 13: 1, 14: 3 }) },
    reports: { ready: 4, scheduled: 0, running: 0, waiting: 0, failed: 1, oldestReadySeconds: 610, paused: true, pausedReason: "paused for nightly maintenance", completions: zeros({ 10: 1 }) },
  },
  /** Recent failures, newest first: [queue, task path, failed ago]. */
  recentFailures: [
    ["emails", T_EMAIL, 25], ["default", T_RESIZE, 50], ["emails", T_EMAIL, 130], ["reports", T_REPORT, 270],
    ["emails", T_EMAIL, 1010], ["default", T_RESIZE, 3010], ["emails", T_EMAIL, 5000], ["default", T_INVENTORY, 8000],
  ] as [string, string, number][],
  workers: {
    [SEED_WORKERS.alive1]: { health: "alive", running: 3, lastSeenAgo: 5 },
    [SEED_WORKERS.alive2]: { health: "alive", running: 1, lastSeenAgo: 12 },
    [SEED_WORKERS.stale]: { health: "stale", running: 1, lastSeenAgo: 75 },
    [SEED_WORKERS.dead]: { health: "dead", running: 0, lastSeenAgo: 600 },
  },
  /** Failure groups, most frequent first: [task path, exception class, count]. */
  failureGroups: [
    [T_EMAIL, "smtplib.SMTPServerDisconnected", 4],
    [T_RESIZE, "ValueError", 2],
    [T_REPORT, "timeout", 1],
    [T_INVENTORY, "KeyError", 1],
  ] as [string, string, number][],
  /** Periodic tasks by name: next run in seconds (negative = overdue). */
  periodic: {
    "legacy-cleanup": { cron: "30 4 * * 1", enabled: false, nextRunIn: 86400, valid: true },
    "nightly-report": { cron: "0 3 * * *", enabled: true, nextRunIn: 7200, valid: true },
    "send-digest": { cron: "*/5 * * * *", enabled: true, nextRunIn: -90, valid: true },
    "broken-schedule": { cron: "every tuesday", enabled: false, nextRunIn: 3600, valid: false },
  },
  /** Rate limits: key → tokens now (emails refills 2/s from 1 token 2 s ago, so ≈ 5 and growing). */
  rateLimits: { global: { tokensPerSecond: 0, burstSize: 1, currentTokens: 0 }, "queue:default": { tokensPerSecond: 0.5, burstSize: 5, currentTokens: 5 }, "queue:emails": { tokensPerSecond: 2, burstSize: 10, currentTokens: 5 } },
  rowCount: 51,
} as const;

export interface SeedInfo {
  /** result_ids of notable rows. */
  ids: {
    readyInventory: string;
    readyDelayed: string;
    readyFuture: string;
    running1: string;
    runningEmail: string;
    parent: string;
    child: string;
    failedEmailNewest: string;
    failedEmailOldest: string;
    failedResize: string;
    failedTimeout: string;
    failedInventory: string;
  };
  /** All FAILED ids by queue, ascending. */
  failedIds: Record<"default" | "emails" | "reports", string[]>;
  workflowId: string;
  workers: typeof SEED_WORKERS;
  expected: typeof SEED_EXPECTED;
  logsUri: string | null;
}

export async function seedDashboard(sql: Sql, options: { logsUri?: string } = {}): Promise<SeedInfo> {
  const run = async (tx: Queryable): Promise<SeedInfo> => {
    const hashes = new Map<string, string>();
    const keyed = new Map<string, string>();
    const failedIds: SeedInfo["failedIds"] = { default: [], emails: [], reports: [] };
    await tx`
      insert into workflow_runs (workflow_id, expected_count, success_count, failure_count, callback_result_id, status, created_at, updated_at)
      values (${SEED_WORKFLOW_ID}::uuid, 1, 0, 0, null, 'RUNNING', now() - interval '90 seconds', now())`;
    for (const row of ROWS) {
      const hash = row.hashKey ? (hashes.get(row.hashKey) ?? hashes.set(row.hashKey, randomHash()).get(row.hashKey)!) : randomHash();
      const spec = { task_path: row.taskPath, args: [], kwargs: row.kwargs ?? {}, queue_name: row.queue, priority: row.priority ?? 0 };
      const ago = (s: number | undefined) => (s === undefined ? tx`null::timestamptz` : tx`now() - make_interval(secs => ${s}::float8)`);
      const parentId = row.parentKey ? keyed.get(row.parentKey)! : null;
      const [inserted] = await tx<{ result_id: string }[]>`
        insert into task_runs (
          backend_alias, queue_name, priority, run_after, spec_json, spec_hash, task_path, status,
          enqueued_at, started_at, last_attempted_at, finished_at, attempts, max_attempts, timeout_seconds,
          concurrency_limit, parent_id, workflow_id, wait_count, worker_ids, return_json, errors_json, metadata_json,
          last_error, failed_at, leased_until, leased_by, logs_uri, created_at, updated_at, cancel_requested
        ) values (
          'default', ${row.queue}, ${row.priority ?? 0},
          ${row.runAfterIn === undefined ? tx`null::timestamptz` : tx`now() + make_interval(secs => ${row.runAfterIn}::float8)`},
          ${JSON.stringify(spec)}::text::jsonb, ${hash}, ${row.taskPath}, ${row.status},
          ${ago(row.enqueuedAgo)}, ${ago(row.startedAgo)}, ${ago(row.startedAgo)}, ${ago(row.finishedAgo)},
          ${row.attempts ?? 0}, ${row.maxAttempts ?? 3}, 900, 0, ${parentId}::bigint,
          ${row.workflow ? SEED_WORKFLOW_ID : null}::uuid, ${row.waitCount ?? 0},
          ${JSON.stringify(row.workerIds ?? [])}::text::jsonb,
          ${row.returnValue === undefined ? null : JSON.stringify(row.returnValue)}::text::jsonb,
          ${JSON.stringify((row.errors ?? []).map((e, i) => ({ ...e, at: `2026-01-0${1 + (i % 9)}T00:00:00Z` })))}::text::jsonb,
          '{}'::jsonb, ${row.lastError ?? null}, ${ago(row.failedAgo)},
          ${row.leaseIn === undefined ? tx`null::timestamptz` : tx`now() + make_interval(secs => ${row.leaseIn}::float8)`},
          ${row.leasedBy ?? null}, ${row.key === "failedEmailNewest" ? (options.logsUri ?? null) : null},
          ${ago(row.enqueuedAgo)}, now(), false
        ) returning result_id`;
      const id = inserted!.result_id;
      if (row.key) keyed.set(row.key, id);
      if (row.status === "FAILED") failedIds[row.queue as keyof typeof failedIds].push(id);
    }
    const workers: [string, string, string[], number, number, string | null][] = [
      [SEED_WORKERS.alive1, "host-a", ["default", "emails"], 8, 5, "0.1.0"],
      [SEED_WORKERS.alive2, "host-b", ["default", "reports"], 2, 12, "0.1.0"],
      [SEED_WORKERS.stale, "host-c", ["default"], 4, 75, "0.0.9"],
      [SEED_WORKERS.dead, "host-d", ["default", "emails"], 4, 600, null],
    ];
    for (const [id, host, queues, concurrency, seenAgo, version] of workers) {
      await tx`
        insert into reproq_workers (worker_id, hostname, concurrency, queues, started_at, last_seen_at, version)
        values (${id}, ${host}, ${concurrency}, ${JSON.stringify(queues)}::text::jsonb, now() - interval '3600 seconds',
                now() - make_interval(secs => ${seenAgo}::float8), ${version})`;
    }
    await tx`
      insert into reproq_queue_controls (queue_name, paused, paused_at, reason, created_at, updated_at)
      values ('reports', true, now() - interval '1800 seconds', 'paused for nightly maintenance', now(), now()),
             ('emails', false, null, null, now(), now())`;
    const periodic: [string, string, string, string, boolean, number, number | null][] = [
      ["nightly-report", "0 3 * * *", T_REPORT, "reports", true, 7200, 79200],
      ["send-digest", "*/5 * * * *", T_DIGEST, "emails", true, -90, 390],
      ["legacy-cleanup", "30 4 * * 1", "myapp.tasks.cleanup", "default", false, 86400, null],
      ["broken-schedule", "every tuesday", "myapp.tasks.cleanup", "default", false, 3600, null],
    ];
    for (const [name, cron, path, queue, enabled, nextIn, lastAgo] of periodic) {
      await tx`
        insert into periodic_tasks (name, cron_expr, task_path, payload_json, queue_name, priority, max_attempts,
                                    concurrency_limit, last_run_at, next_run_at, enabled, created_at, updated_at)
        values (${name}, ${cron}, ${path}, '{}'::jsonb, ${queue}, 0, 3, 0,
                ${lastAgo === null ? tx`null::timestamptz` : tx`now() - make_interval(secs => ${lastAgo}::float8)`},
                now() + make_interval(secs => ${nextIn}::float8), ${enabled}, now(), now())`;
    }
    await tx`
      insert into rate_limits (key, tokens_per_second, burst_size, current_tokens, last_refilled_at)
      values ('queue:emails', 2, 10, 1, now() - interval '2 seconds'),
             ('queue:default', 0.5, 5, 5, now() - interval '100 seconds')
      on conflict (key) do update set tokens_per_second = excluded.tokens_per_second, burst_size = excluded.burst_size,
        current_tokens = excluded.current_tokens, last_refilled_at = excluded.last_refilled_at`;
    const ids = Object.fromEntries(keyed) as unknown as SeedInfo["ids"];
    return { ids, failedIds, workflowId: SEED_WORKFLOW_ID, workers: SEED_WORKERS, expected: SEED_EXPECTED, logsUri: options.logsUri ?? null };
  };
  const info = (await sql.begin((tx) => run(tx))) as SeedInfo;
  await sql`analyze task_runs`;
  return info;
}

/** Queues of the generated large table. */
export const SCALE_QUEUES = ["default", "emails", "reports", "billing", "media"] as const;

/**
 * Per 1000 generated rows, how many get each status (the rest are SUCCESSFUL); `futureReady` of the
 * READY ones get run_after = NOW() + 1 hour (not due). Defaults: the realistic mix below.
 */
export interface DashboardRowMix {
  failed?: number;
  ready?: number;
  running?: number;
  waiting?: number;
  cancelled?: number;
  futureReady?: number;
}

/**
 * Fills task_runs with `count` rows in one INSERT … SELECT generate_series (for the 1M-row
 * `reproq top` timings), then VACUUM ANALYZE (what autovacuum would have done on a live table).
 * Per 1000 rows: 10 FAILED, 5 READY, 2 RUNNING, 1 WAITING, 10 CANCELLED, 972 SUCCESSFUL; queues
 * round-robin over SCALE_QUEUES; enqueued over the last 7 days (higher id = newer), finished 2 s
 * after enqueue, so the last 15 minutes hold ~0.15 % of the rows. 20 task paths, 5 exception classes.
 * `mix` changes the status shares (READY-heavy / FAILED-heavy scale tests).
 */
export async function generateDashboardRows(sql: Sql, count: number, mix: DashboardRowMix = {}): Promise<void> {
  const span = 7 * 24 * 3600;
  const m = { failed: 10, ready: 5, running: 2, waiting: 1, cancelled: 10, futureReady: 0, ...mix };
  const t1 = m.failed, t2 = t1 + m.ready, t3 = t2 + m.running, t4 = t3 + m.waiting, t5 = t4 + m.cancelled;
  if (t5 > 1000) throw new Error("generateDashboardRows: the per-1000 mix exceeds 1000");
  await sql`
    insert into task_runs (
      backend_alias, queue_name, priority, spec_json, spec_hash, task_path, status, enqueued_at, run_after, started_at,
      finished_at, failed_at, attempts, max_attempts, timeout_seconds, concurrency_limit, wait_count, worker_ids,
      errors_json, metadata_json, last_error, leased_by, leased_until, created_at, updated_at, cancel_requested
    )
    select 'default', (${SCALE_QUEUES as unknown as string[]}::text[])[1 + i % 5], i % 3,
           jsonb_build_object('task_path', 'app.tasks.t' || (i % 20), 'args', jsonb_build_array(i), 'kwargs', '{}'::jsonb),
           md5(i::text) || md5('x' || i), 'app.tasks.t' || (i % 20), st, enq,
           case when st = 'READY' and i % 1000 >= ${t2 - m.futureReady}::int then now() + interval '1 hour' end,
           case when st in ('READY', 'WAITING') then null else enq + interval '1 second' end,
           case when st in ('SUCCESSFUL', 'FAILED', 'CANCELLED') then enq + interval '2 seconds' end,
           case when st = 'FAILED' then enq + interval '2 seconds' end,
           case when st in ('READY', 'WAITING') then 0 else 1 end, 3, 900, 0, 0, '[]'::jsonb,
           case when st = 'FAILED' then jsonb_build_array(jsonb_build_object('kind', 'exception', 'attempt', 1,
             'exception_class', 'app.errors.E' || (i % 5), 'message', 'boom ' || (i % 7),
             'traceback', 'Traceback (most recent call last):\n  File "app.py", line 1\napp.errors.E' || (i % 5) || ': boom'))
             else '[]'::jsonb end,
           '{}'::jsonb,
           case when st = 'FAILED' then 'app.errors.E' || (i % 5) || ': boom ' || (i % 7) end,
           case when st = 'RUNNING' then 'worker-' || (i % 8) end,
           case when st = 'RUNNING' then now() + interval '300 seconds' end,
           enq, enq, false
    from generate_series(1, ${count}::int) as i
    cross join lateral (
      select now() - make_interval(secs => (${count}::int - i)::float8 * ${span}::float8 / ${count}::int) as enq,
             case when i % 1000 < ${t1}::int then 'FAILED' when i % 1000 < ${t2}::int then 'READY'
                  when i % 1000 < ${t3}::int then 'RUNNING' when i % 1000 < ${t4}::int then 'WAITING'
                  when i % 1000 < ${t5}::int then 'CANCELLED' else 'SUCCESSFUL' end as st
    ) g`;
  await sql`vacuum (analyze) task_runs`;
}
