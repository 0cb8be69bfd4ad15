// The DashboardSource of `reproq top` over the queue/ statements (no SQL here): each method runs a
// few index-served reads, records its database time in lastQueryMs, and maps rows to model.ts
// shapes. Actions reuse the operator commands' statements (triage retry/discard, cancel, replay,
// queue pause/resume); a read-only source refuses them without touching the database.

import { open, stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import cronstrue from "cronstrue";
import type { Sql } from "../db/client.ts";
import {
  dashboardCompletionsRead,
  dashboardFailedBoundRead,
  dashboardFailedIdsRead,
  dashboardFailureGroupsRead,
  dashboardFinishedCountsRead,
  dashboardOlderThanWindowRead,
  dashboardPeriodicRead,
  dashboardQueueCountsRead,
  dashboardQueueNamesRead,
  dashboardReadyPageRead,
  dashboardRecentFailuresRead,
  dashboardScheduledPageRead,
  dashboardStatusStatsRead,
  dashboardTaskCountEstimate,
  dashboardTaskCountRead,
  dashboardTaskPageRead,
  dashboardTaskRead,
  dashboardThroughputRead,
  dashboardWorkersRead,
  type DashboardStatusStatsRow,
  type DashboardTaskFilter,
  type DashboardTaskRow,
} from "../queue/dashboard.ts";
import { rateLimitList } from "../queue/limits.ts";
import { queuePause, queueResume } from "../queue/controls.ts";
import { discardFailedTasks } from "../queue/triage-discard.ts";
import { retryFailedTasks, taskRetryPlanRead, type RetryOutcome } from "../queue/triage-retry.ts";
import { taskCancel } from "../queue/cancel.ts";
import { replayTask } from "../queue/replay.ts";
import { statsLiveWorkers } from "../queue/stats.ts";
import { dbHorizonHolderRead, dbTaskRunsLockWaitRead, dbTaskRunsVacuumRead } from "../queue/hazards.ts";
import { boundedReads } from "../db/bounded.ts";
import { HAZARD_BOUNDS, HORIZON_WARN_SECONDS } from "../observability/hazards.ts";
import type {
  Action,
  ActionControl,
  ActionPreview,
  ActionResult,
  DashboardSource,
  DbHazards,
  ErrorEntryView,
  FailureSummary,
  Overview,
  PeriodicRow,
  QueueRow,
  RateLimitRow,
  StatusTotals,
  TaskDetail,
  TaskFilter,
  TaskPage,
  WorkerRow,
} from "./model.ts";

/** Below this many pages (8 KB each: 10 MB) task_runs is counted exactly; above, estimated. */
export const EXACT_COUNT_MAX_PAGES = 1280;
/** A task list total without a READY/RUNNING/WAITING/FAILED status is counted exactly up to this many rows, estimated beyond. */
export const EXACT_TOTAL_CAP = 10_000;
/** Bulk retry/discard from the dashboard touch at most this many rows per action. */
export const BULK_ACTION_MAX = 10_000;
export const COMPLETION_MINUTES = 15;
export const RECENT_FAILURES = 10;
export const FAILURE_GROUPS_MAX = 200;
/** Failure groups are counted among the newest this many FAILED rows (by failed_at). */
export const FAILURE_GROUPS_WINDOW = 10_000;
/** A free-text search looks at the newest this many tasks (by result_id); an exact id at any age. */
export const TEXT_SEARCH_WINDOW = 100_000;
/**
 * Per-queue due READY, scheduled READY and FAILED, the FAILED total and the totals of
 * READY/RUNNING/WAITING/FAILED task lists are counted exactly (from index entries) up to this many,
 * estimated beyond: exact for any realistic live backlog, bounded for a runaway one.
 */
export const QUEUE_COUNT_CAP = 100_000;
/** The worker's default worker.priority_aging_factor: the READY list's claim order when none is given. */
export const DEFAULT_PRIORITY_AGING_FACTOR = 60;
export const LOG_TAIL_LINES = 40;
export const LOG_TAIL_BYTES = 64 * 1024;
export const READ_ONLY_MESSAGE = "read-only mode: actions are disabled";
const DEFAULT_DISCARD_REASON = "discarded from reproq top";
const EXACT_STATUSES = new Set(["READY", "RUNNING", "WAITING", "FAILED"]);

type Count = { value: number; estimate: boolean };

/** The filter selects by queue, status and due alone (its counts can come from index entries). */
function queueOnly(filter: DashboardTaskFilter): boolean {
  return Object.entries(filter).every(([key, value]) => value === undefined || key === "queue" || key === "status" || key === "due");
}

export interface DashboardSourceOptions {
  readOnly: boolean;
  /** Close `sql` on close() (default true: the source owns its pool). */
  ownsPool?: boolean;
  /** Exact per-queue READY/FAILED counts up to this many (default QUEUE_COUNT_CAP). */
  queueCountCap?: number;
  /** The workers' worker.priority_aging_factor, for the READY list's claim order (default 60). */
  priorityAgingFactor?: number;
  /** An xmin horizon holder at least this old gets a warning line (default HORIZON_WARN_SECONDS). */
  horizonWarnSeconds?: number;
}

export function createDashboardSource(sql: Sql, options: DashboardSourceOptions): DashboardSource {
  const queueCountCap = options.queueCountCap ?? QUEUE_COUNT_CAP;
  const priorityAgingFactor = options.priorityAgingFactor ?? DEFAULT_PRIORITY_AGING_FACTOR;
  const lastQueryMs: Record<string, number> = {};
  const horizonWarnSeconds = options.horizonWarnSeconds ?? HORIZON_WARN_SECONDS;

  async function timed<T>(name: string, run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await run();
    } finally {
      lastQueryMs[name] = performance.now() - started;
    }
  }

  async function statusTotals(): Promise<Pick<StatusTotals, "successful" | "cancelled">> {
    const stats = await timed("overview.statusStats", () => dashboardStatusStatsRead(sql));
    const estimate = estimateFinished(stats);
    if (estimate === null) {
      const exact = await timed("overview.finishedExact", () => dashboardFinishedCountsRead(sql));
      return { successful: { value: exact.successful, estimate: false }, cancelled: { value: exact.cancelled, estimate: false } };
    }
    return estimate;
  }

  // A count read up to the cap (cap + 1 means more): exact, or else the planner's estimate of the
  // rows matching `filter` (EXPLAIN, nothing read; at least the counted rows), flagged.
  async function capped(counted: number, filter: DashboardTaskFilter): Promise<Count> {
    if (counted <= queueCountCap) return { value: counted, estimate: false };
    return { value: Math.max(counted, await dashboardTaskCountEstimate(sql, { filter })), estimate: true };
  }

  // Due READY rows from two index-only counts: every READY row minus the scheduled ones. Beyond
  // the cap: the planner's estimate of READY rows minus the scheduled ones, flagged.
  async function dueReady(readyCounted: number, scheduled: Count, queue: string | undefined): Promise<Count> {
    // (Two statements in taskTotal may see different moments: never below zero.)
    if (readyCounted <= queueCountCap) return { value: Math.max(0, readyCounted - scheduled.value), estimate: false };
    const all = await capped(readyCounted, queue === undefined ? { status: "READY" } : { queue, status: "READY" });
    return { value: Math.max(0, all.value - scheduled.value), estimate: true };
  }

  // Per-queue counts; a due READY, scheduled or FAILED count above the cap becomes an estimate.
  async function queueCounts() {
    const rows = await dashboardQueueCountsRead(sql, { cap: queueCountCap });
    return Promise.all(
      rows.map(async (row) => {
        const [scheduled, failed] = await Promise.all([
          capped(row.scheduled, { queue: row.queue, status: "READY", due: false }),
          capped(row.failed, { queue: row.queue, status: "FAILED" }),
        ]);
        return { ...row, ready: await dueReady(row.ready, scheduled, row.queue), scheduled, failed };
      }),
    );
  }

  async function failedTotal(): Promise<Count> {
    const filter: DashboardTaskFilter = { status: "FAILED" };
    return capped(await dashboardTaskCountRead(sql, { filter, cap: queueCountCap + 1 }), filter);
  }

  async function failureSummary(): Promise<FailureSummary> {
    const [rows, total] = await Promise.all([
      timed("failureGroups.groups", () => dashboardFailureGroupsRead(sql, { limit: FAILURE_GROUPS_MAX, window: FAILURE_GROUPS_WINDOW })),
      timed("failureGroups.total", () => failedTotal()),
    ]);
    const scanned = rows[0]?.scanned ?? 0;
    // The window was full and more FAILED rows exist: the groups cover only the newest ones.
    const windowed = scanned >= FAILURE_GROUPS_WINDOW && (total.estimate || total.value > scanned);
    return {
      total,
      window: windowed ? FAILURE_GROUPS_WINDOW : null,
      groupCount: rows[0]?.groupCount ?? 0,
      groups: rows.map(({ scanned: _scanned, groupCount: _groups, ...group }) => group),
    };
  }

  /** Catalog reads only (no lock on task_runs), bounded to 2 s: they answer while a lock blocks the screens. */
  function hazards(): Promise<DbHazards> {
    return timed("hazards", () => boundedReads(sql, HAZARD_BOUNDS, async (tx) => ({
      holder: await dbHorizonHolderRead(tx),
      vacuum: await dbTaskRunsVacuumRead(tx),
      lockWait: await dbTaskRunsLockWaitRead(tx),
      horizonWarnSeconds,
    })));
  }

  async function overview(): Promise<Overview> {
    return timed("overview", async () => {
      const [counts, names, throughput, completions, finished, failures, live] = await Promise.all([
        timed("overview.queueCounts", () => queueCounts()),
        timed("overview.queueNames", () => dashboardQueueNamesRead(sql)),
        timed("overview.throughput", () => dashboardThroughputRead(sql)),
        timed("overview.completions", () => dashboardCompletionsRead(sql, { minutes: COMPLETION_MINUTES })),
        statusTotals(),
        timed("overview.recentFailures", () => dashboardRecentFailuresRead(sql, { limit: RECENT_FAILURES })),
        timed("overview.liveWorkers", () => statsLiveWorkers(sql)),
      ]);
      const queues = new Map<string, QueueRow>();
      const row = (queue: string): QueueRow => {
        let q = queues.get(queue);
        if (!q) {
          q = { queue, ready: 0, scheduled: 0, running: 0, waiting: 0, failed: 0, oldestReadySeconds: null, paused: false, pausedReason: null, completions: new Array<number>(COMPLETION_MINUTES).fill(0) };
          queues.set(queue, q);
        }
        return q;
      };
      for (const c of counts) {
        const q = Object.assign(row(c.queue), {
          ready: c.ready.value, scheduled: c.scheduled.value, running: c.running, waiting: c.waiting, failed: c.failed.value, oldestReadySeconds: c.oldestReadySeconds,
        });
        if (c.ready.estimate) q.readyEstimate = true;
        if (c.scheduled.estimate) q.scheduledEstimate = true;
        if (c.failed.estimate) q.failedEstimate = true;
      }
      for (const n of names) Object.assign(row(n.queue), { paused: n.paused, pausedReason: n.pausedReason });
      for (const c of completions) {
        const index = COMPLETION_MINUTES - 1 - Math.min(COMPLETION_MINUTES - 1, Math.max(0, c.minutesAgo));
        row(c.queue).completions[index]! += c.count;
      }
      const queueRows = [...queues.values()].sort((a, b) => a.queue.localeCompare(b.queue));
      const sum = (key: "ready" | "scheduled" | "running" | "waiting" | "failed") => queueRows.reduce((total, q) => total + q[key], 0);
      const anyEstimate = (key: "ready" | "scheduled" | "failed") => counts.some((c) => c[key].estimate);
      const ages = counts.map((c) => c.oldestReadySeconds).filter((a): a is number => a !== null);
      const decided = throughput.successful5m + throughput.failed5m;
      return {
        now: new Date(),
        totals: {
          ready: sum("ready"),
          scheduled: sum("scheduled"),
          running: sum("running"),
          waiting: sum("waiting"),
          failed: sum("failed"),
          ...(anyEstimate("ready") ? { readyEstimate: true } : {}),
          ...(anyEstimate("scheduled") ? { scheduledEstimate: true } : {}),
          ...(anyEstimate("failed") ? { failedEstimate: true } : {}),
          ...finished,
        },
        throughput: {
          finished1m: throughput.finished1m,
          finished5m: throughput.finished5m,
          perMinute1m: throughput.finished1m,
          perMinute5m: throughput.finished5m / 5,
          successRate5m: decided === 0 ? null : throughput.successful5m / decided,
        },
        oldestReadySeconds: ages.length === 0 ? null : Math.max(...ages),
        liveWorkers: live.live,
        queues: queueRows,
        recentFailures: [...failures],
      };
    });
  }

  async function taskTotal(filter: DashboardTaskFilter): Promise<TaskPage["total"]> {
    if (filter.status === "READY" && filter.due === true && queueOnly(filter)) {
      const ready: DashboardTaskFilter = { queue: filter.queue, status: "READY" };
      const [all, scheduled] = await Promise.all([
        dashboardTaskCountRead(sql, { filter: ready, cap: queueCountCap + 1 }),
        dashboardTaskCountRead(sql, { filter: { ...ready, due: false }, cap: queueCountCap + 1 }),
      ]);
      return dueReady(all, await capped(scheduled, { ...ready, due: false }), filter.queue);
    }
    if (filter.status !== undefined && EXACT_STATUSES.has(filter.status)) {
      return capped(await dashboardTaskCountRead(sql, { filter, cap: queueCountCap + 1 }), filter);
    }
    const planned = await dashboardTaskCountEstimate(sql, { filter });
    if (planned <= EXACT_TOTAL_CAP * 2) {
      const counted = await dashboardTaskCountRead(sql, { filter, cap: EXACT_TOTAL_CAP + 1 });
      if (counted <= EXACT_TOTAL_CAP) return { value: counted, estimate: false };
      return { value: Math.max(planned, counted), estimate: true };
    }
    return { value: planned, estimate: true };
  }

  async function preview(action: Action): Promise<ActionPreview> {
    return timed("preview", () => previewAction(sql, action));
  }

  async function perform(action: Action, control: ActionControl = {}): Promise<ActionResult> {
    if (options.readOnly) return { ok: false, message: READ_ONLY_MESSAGE };
    return timed("perform", () => performAction(sql, action, control));
  }

  return {
    readOnly: options.readOnly,
    lastQueryMs,
    overview,
    hazards,
    workers: () => timed("workers", async (): Promise<WorkerRow[]> => [...(await dashboardWorkersRead(sql))]),
    failureGroups: () => timed("failureGroups", failureSummary),
    periodic: () =>
      timed("periodic", async (): Promise<PeriodicRow[]> =>
        (await dashboardPeriodicRead(sql)).map((p) => ({ ...p, description: describeCron(p.cronExpr) })),
      ),
    rateLimits: () =>
      timed("rateLimits", async (): Promise<RateLimitRow[]> =>
        (await rateLimitList(sql)).map((r) => ({ key: r.key, tokensPerSecond: r.tokensPerSecond, burstSize: r.burstSize, currentTokens: r.currentTokens })),
      ),
    tasks: (filter, page) =>
      timed("tasks", async (): Promise<TaskPage> => {
        const offset = Math.max(0, Math.floor(page.offset));
        const limit = Math.max(1, Math.floor(page.limit));
        const bounded = dashboardFilter(filter);
        const searching = bounded.textWindow !== undefined;
        const read = { filter: bounded, offset, limit };
        const [rows, total, older] = await Promise.all([
          filter.status === "READY" ? dashboardReadyPageRead(sql, { ...read, priorityAgingFactor })
          : filter.status === "SCHEDULED" ? dashboardScheduledPageRead(sql, read)
          : dashboardTaskPageRead(sql, read),
          taskTotal(bounded),
          searching ? dashboardOlderThanWindowRead(sql, { window: TEXT_SEARCH_WINDOW }) : false,
        ]);
        return { rows: [...rows], total, offset, ...(older ? { searchedNewest: TEXT_SEARCH_WINDOW } : {}) };
      }),
    task: (resultId) =>
      timed("task", async () => {
        const row = await dashboardTaskRead(sql, { resultId });
        return row === null ? null : toDetail(row, await readLogTail(row.logsUri));
      }),
    preview,
    perform,
    close: async () => {
      if (options.ownsPool !== false) await sql.end({ timeout: 1 });
    },
  };
}

/** SUCCESSFUL/CANCELLED from planner statistics; null when the table is small enough to count. */
export function estimateFinished(stats: DashboardStatusStatsRow): Pick<StatusTotals, "successful" | "cancelled"> | null {
  if (stats.pages <= EXACT_COUNT_MAX_PAGES || stats.reltuples < 0 || stats.statuses.length === 0) return null;
  const rows = stats.relpages > 0 ? (stats.reltuples / stats.relpages) * stats.pages : stats.reltuples;
  const share = (status: string) => {
    const i = stats.statuses.indexOf(status);
    return i < 0 ? 0 : (stats.frequencies[i] ?? 0);
  };
  return {
    successful: { value: Math.round(rows * share("SUCCESSFUL")), estimate: true },
    cancelled: { value: Math.round(rows * share("CANCELLED")), estimate: true },
  };
}

/**
 * "every 5 minutes", "at 03:00"; null when the expression is not a valid cron expression. A
 * leading `CRON_TZ=<zone>` or `TZ=<zone>` (robfig/cron syntax, accepted by the beat) is described
 * after the schedule: "at 03:00 (Europe/Paris)".
 */
export function describeCron(expr: string): string | null {
  const match = /^\s*(?:CRON_TZ|TZ)=(\S+)\s+(.*)$/.exec(expr);
  const zone = match ? match[1]! : null;
  const schedule = match ? match[2]! : expr;
  if (zone !== null && !validTimeZone(zone)) return null;
  try {
    const text = cronstrue.toString(schedule, { use24HourTimeFormat: true, throwExceptionOnParseError: true, verbose: false });
    if (text.length === 0) return null;
    const described = text[0]!.toLowerCase() + text.slice(1);
    return zone === null ? described : `${described} (${zone})`;
  } catch {
    return null;
  }
}

function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function pretty(text: string | null): string | null {
  if (text === null) return null;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function str(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return typeof value === "string" ? value : JSON.stringify(value);
}

function toErrors(errors: unknown): ErrorEntryView[] {
  if (!Array.isArray(errors)) return [];
  return errors.map((e): ErrorEntryView => {
    const entry = (e !== null && typeof e === "object" ? e : { message: e }) as Record<string, unknown>;
    const attempt = typeof entry.attempt === "number" ? entry.attempt : Number.isFinite(Number(entry.attempt)) && entry.attempt != null ? Number(entry.attempt) : null;
    return {
      kind: str(entry.kind) ?? "error",
      at: str(entry.at),
      attempt,
      exceptionClass: str(entry.exception_class) || null,
      message: str(entry.message) ?? "",
      traceback: str(entry.traceback) || null,
    };
  });
}

function toDetail(row: DashboardTaskRow, logTail: string[] | null): TaskDetail {
  let spec: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(row.specText);
    if (parsed !== null && typeof parsed === "object") spec = parsed as Record<string, unknown>;
  } catch {
    /* keep {} */
  }
  return {
    resultId: row.resultId,
    queue: row.queue,
    status: row.status,
    priority: row.priority,
    taskPath: row.taskPath,
    attempts: row.attempts,
    maxAttempts: row.maxAttempts,
    enqueuedAt: row.enqueuedAt,
    runAfter: row.runAfter,
    dueInSeconds: row.dueInSeconds,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    durationSeconds: row.durationSeconds,
    leasedBy: row.leasedBy,
    workerIds: Array.isArray(row.workerIds) ? row.workerIds.map((w) => String(w)) : [],
    specHash: row.specHash,
    specPretty: pretty(row.specText) ?? "",
    args: spec.args ?? [],
    kwargs: spec.kwargs ?? {},
    returnPretty: pretty(row.returnText),
    errors: toErrors(row.errors),
    lastError: row.lastError,
    logsUri: row.logsUri,
    logTail,
    workflowId: row.workflowId,
    parentId: row.parentId,
    cancelRequested: row.cancelRequested,
  };
}

/** A local path for logs_uri (file:// URL or plain absolute/relative path); null for other schemes. */
export function localLogPath(uri: string | null): string | null {
  if (uri === null || uri.trim() === "") return null;
  if (uri.startsWith("file://")) {
    try {
      return fileURLToPath(uri);
    } catch {
      return null;
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) return null;
  return uri;
}

/** The last LOG_TAIL_LINES lines of the file (reading at most its last 64 KB); null when unreadable. */
export async function readLogTail(uri: string | null, maxLines = LOG_TAIL_LINES, maxBytes = LOG_TAIL_BYTES): Promise<string[] | null> {
  const path = localLogPath(uri);
  if (path === null) return null;
  try {
    const info = await stat(path);
    if (!info.isFile()) return null;
    const start = Math.max(0, info.size - maxBytes);
    const length = info.size - start;
    const handle = await open(path, "r");
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, start);
      let text = buffer.subarray(0, bytesRead).toString("utf8");
      let lines = text.split(/\r?\n/);
      if (start > 0) lines = lines.slice(1); // the first line was cut by the 64 KB window
      if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
      text = "";
      return lines.slice(-maxLines);
    } finally {
      await handle.close();
    }
  } catch {
    return null;
  }
}

function describeFilter(filter: TaskFilter): string {
  const parts: string[] = [];
  if (filter.queue !== undefined) parts.push(`in queue ${filter.queue}`);
  const details: string[] = [];
  if (filter.taskPath !== undefined) details.push(`task ${filter.taskPath}`);
  if (filter.exceptionClass !== undefined) details.push(`exception ${filter.exceptionClass}`);
  if (filter.text !== undefined && filter.text.trim() !== "") details.push(`matching "${filter.text.trim()}"`);
  if (details.length > 0) parts.push(`(${details.join(", ")})`);
  return parts.length === 0 ? "" : ` ${parts.join(" ")}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * The statement filter of a task list filter: READY means due READY rows and SCHEDULED the READY
 * rows not due yet; a free-text search is bounded to the newest rows.
 */
function dashboardFilter(filter: TaskFilter): DashboardTaskFilter {
  const { status, ...rest } = filter;
  const text = rest.text?.trim() ?? "";
  const bounded: DashboardTaskFilter = text === "" ? rest : { ...rest, textWindow: TEXT_SEARCH_WINDOW };
  if (status === "READY" || status === "SCHEDULED") return { ...bounded, status: "READY", due: status === "READY" };
  return status === undefined ? bounded : { ...bounded, status };
}

/** Matching actions only ever touch FAILED rows: another status filter matches nothing. */
function failedFilter(filter: TaskFilter): DashboardTaskFilter | null {
  if (filter.status !== undefined && filter.status !== "FAILED") return null;
  return { ...dashboardFilter(filter), status: "FAILED" };
}

async function previewAction(sql: Sql, action: Action): Promise<ActionPreview> {
  switch (action.kind) {
    case "retry":
    case "discard":
    case "cancel":
    case "replay": {
      const row = await dashboardTaskRead(sql, { resultId: action.resultId });
      if (row === null) return { summary: `Task ${action.resultId} no longer exists: nothing to do`, count: 0 };
      const what = `task ${row.resultId} (${row.taskPath ?? "?"}, queue ${row.queue}, ${row.status})`;
      if (action.kind === "retry") {
        if (row.status !== "FAILED") return { summary: `Only FAILED tasks can be retried: ${what}`, count: 0 };
        return { summary: `Retry ${what}: it becomes READY with attempts reset to 0 (errors kept)`, count: 1 };
      }
      if (action.kind === "discard") {
        if (row.status !== "FAILED") return { summary: `Only FAILED tasks can be discarded: ${what}`, count: 0 };
        return { summary: `Discard ${what}: it becomes CANCELLED (reason: ${action.reason ?? DEFAULT_DISCARD_REASON})`, count: 1 };
      }
      if (action.kind === "cancel") {
        if (row.status === "RUNNING") {
          if (row.cancelRequested) return { summary: `Cancel already requested for ${what}`, count: 0 };
          return { summary: `Cancel ${what}: the worker running it (${row.leasedBy ?? "?"}) is asked to stop it`, count: 1 };
        }
        if (row.status === "READY" || row.status === "WAITING") return { summary: `Cancel ${what}: it becomes CANCELLED`, count: 1 };
        return { summary: `Only READY, WAITING or RUNNING tasks can be cancelled: ${what}`, count: 0 };
      }
      return { summary: `Replay ${what}: a new READY copy of its spec is enqueued`, count: 1 };
    }
    case "retry-matching":
    case "discard-matching": {
      const filter = failedFilter(action.filter);
      const seen = filter === null ? { count: 0, maxResultId: null } : await dashboardFailedBoundRead(sql, { filter, limit: BULK_ACTION_MAX });
      const capped = seen.count > BULK_ACTION_MAX ? ` (the first ${BULK_ACTION_MAX} by id)` : "";
      const n = Math.min(seen.count, BULK_ACTION_MAX);
      // Perform acts on exactly these rows: matching FAILED rows with result_id ≤ the highest seen.
      const bounded: Action = { ...action, bound: { maxResultId: seen.maxResultId, count: n } };
      const later = "\nFailures that arrive after this preview are not included.";
      if (action.kind === "retry-matching") {
        const cancelled = await cancelledAmong(sql, bounded);
        const note = cancelled === 0 ? "" : `\n${plural(cancelled, "task")} an operator cancelled ${cancelled === 1 ? "is" : "are"} left as they are.`;
        return { summary: `Retry ${plural(n - cancelled, "FAILED task")}${describeFilter(action.filter)}${capped}: they become READY${later}${note}`, count: n - cancelled, action: bounded };
      }
      return {
        summary: `Discard ${plural(n, "FAILED task")}${describeFilter(action.filter)}${capped}: they become CANCELLED (reason: ${action.reason ?? DEFAULT_DISCARD_REASON})${later}`,
        count: n,
        action: bounded,
      };
    }
    case "pause-queue":
      return { summary: `Pause queue ${action.queue}${action.reason ? ` (reason: ${action.reason})` : ""}: workers stop claiming from it`, count: 1 };
    case "resume-queue":
      return { summary: `Resume queue ${action.queue}: workers claim from it again`, count: 1 };
  }
}

/** "stopped: retried 2000 of 5000, …; the rest stay FAILED" when esc stopped a bulk action. */
function stoppedMessage(parts: string[], stopped: boolean, total: number): string {
  if (!stopped) return parts.join(", ");
  return `stopped: ${[`${parts[0]} of ${total}`, ...parts.slice(1)].join(", ")}; the rest stay FAILED`;
}

function retryMessage(outcome: RetryOutcome): string {
  const parts = [`retried ${outcome.retried.length}`];
  const queued = outcome.skipped.filter((s) => s.parent === null).length;
  const blocked = outcome.skipped.length - queued;
  if (queued > 0) parts.push(`skipped ${queued} (already queued)`);
  if (blocked > 0) parts.push(`skipped ${blocked} (parent not finished)`);
  if (outcome.locked.length > 0) parts.push(`skipped ${outcome.locked.length} (locked by another transaction)`);
  if (outcome.cancelledLeft > 0) parts.push(`left ${outcome.cancelledLeft} cancelled by an operator`);
  if (outcome.restored.length > 0) parts.push(`restored ${outcome.restored.length} waiting chain ${outcome.restored.length === 1 ? "step" : "steps"}`);
  return stoppedMessage(parts, outcome.stopped, outcome.total);
}

type BulkAction = Extract<Action, { kind: "retry-matching" | "discard-matching" }>;

/** The ids a bulk action acts on: matching FAILED rows up to its preview's bound (≤ BULK_ACTION_MAX). */
async function bulkIds(sql: Sql, action: BulkAction): Promise<string[]> {
  const filter = boundedFailedFilter(action);
  return filter === null ? [] : dashboardFailedIdsRead(sql, { filter, limit: BULK_ACTION_MAX });
}

/** How many of a bulk retry's rows an operator cancelled (a bulk retry leaves them FAILED). */
async function cancelledAmong(sql: Sql, action: BulkAction): Promise<number> {
  const ids = await bulkIds(sql, action);
  if (ids.length === 0) return 0;
  return (await taskRetryPlanRead(sql, { resultIds: ids, excludeCancelled: true })).filter((row) => row.decision === "cancelled").length;
}

/** A bulk action's filter, limited to the rows its preview saw when it carries a bound. */
function boundedFailedFilter(action: BulkAction): DashboardTaskFilter | null {
  const filter = failedFilter(action.filter);
  if (filter === null || action.bound === undefined) return filter;
  if (action.bound.maxResultId === null) return null; // the preview matched nothing
  return { ...filter, maxResultId: action.bound.maxResultId };
}

/** "; 3 newer failures were not included" when matching FAILED rows arrived after the preview. */
async function newerNote(sql: Sql, action: BulkAction): Promise<string> {
  const filter = failedFilter(action.filter);
  if (filter === null || action.bound === undefined) return "";
  const after = action.bound.maxResultId ?? "0";
  const newer = await dashboardTaskCountRead(sql, { filter: { ...filter, afterResultId: after }, cap: BULK_ACTION_MAX + 1 });
  if (newer === 0) return "";
  const n = newer > BULK_ACTION_MAX ? `more than ${BULK_ACTION_MAX}` : String(newer);
  return `; ${n} newer ${newer === 1 ? "failure was" : "failures were"} not included`;
}

async function performAction(sql: Sql, action: Action, control: ActionControl): Promise<ActionResult> {
  switch (action.kind) {
    case "retry": {
      const outcome = await retryFailedTasks(sql, { resultId: action.resultId });
      if (outcome.retried.length === 0 && outcome.skipped.length === 0 && outcome.locked.length === 0) return { ok: false, message: `task ${action.resultId} is not FAILED: nothing retried` };
      return { ok: outcome.retried.length > 0, message: retryMessage(outcome) };
    }
    case "discard": {
      const outcome = await discardFailedTasks(sql, { resultId: action.resultId, reason: action.reason ?? DEFAULT_DISCARD_REASON });
      if (outcome.locked.length > 0) return { ok: false, message: `task ${action.resultId} is locked by another transaction: nothing discarded` };
      return outcome.discarded.length === 0 ? { ok: false, message: `task ${action.resultId} is not FAILED: nothing discarded` } : { ok: true, message: "discarded 1" };
    }
    case "cancel": {
      const previous = await taskCancel(sql, { resultId: action.resultId });
      if (previous === null) return { ok: false, message: `task ${action.resultId} is not READY, WAITING or RUNNING: nothing cancelled` };
      return { ok: true, message: previous === "RUNNING" ? "cancel requested (the worker stops it)" : "cancelled 1" };
    }
    case "replay": {
      const outcome = await replayTask(sql, { resultId: action.resultId });
      if (outcome.sourceId === null) return { ok: false, message: `task ${action.resultId} no longer exists` };
      if (outcome.newId === null) return { ok: false, message: `not replayed: task ${outcome.activeId} already runs this spec` };
      return { ok: true, message: `replayed as task ${outcome.newId}` };
    }
    case "retry-matching": {
      // The CLI's `triage retry --all` path: one plan, then committed batches with progress.
      const ids = await bulkIds(sql, action);
      const outcome = await retryFailedTasks(sql, { resultIds: ids, excludeCancelled: true }, control);
      return { ok: true, message: retryMessage(outcome) + (await newerNote(sql, action)) };
    }
    case "discard-matching": {
      const ids = await bulkIds(sql, action);
      const outcome = await discardFailedTasks(sql, { resultIds: ids, reason: action.reason ?? DEFAULT_DISCARD_REASON }, control);
      const parts = [`discarded ${outcome.discarded.length}`];
      if (outcome.locked.length > 0) parts.push(`skipped ${outcome.locked.length} (locked by another transaction)`);
      return { ok: true, message: stoppedMessage(parts, outcome.stopped, outcome.total) + (await newerNote(sql, action)) };
    }
    case "pause-queue": {
      await queuePause(sql, { queueName: action.queue, reason: action.reason });
      return { ok: true, message: `paused queue ${action.queue}` };
    }
    case "resume-queue": {
      await queueResume(sql, { queueName: action.queue });
      return { ok: true, message: `resumed queue ${action.queue}` };
    }
  }
}
