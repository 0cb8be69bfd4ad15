// The list tabs: queues, workers, failure groups, periodic tasks and rate limits. Each maps its
// snapshot rows to table rows and hands them to PagedTable.
import type { ColumnSpec } from "../components/columns.ts";
import { PagedTable } from "../components/paged-table.tsx";
import type { Row } from "../components/table.tsx";
import { formatAgo, formatAge, formatCount, formatNumber, formatUntil, text } from "../format.ts";
import type { FailureGroup, FailureSummary, PeriodicRow, QueueRow, RateLimitRow, WorkerRow } from "../model.ts";
import { secondsSince } from "../time.ts";
import { QUEUE_COLUMNS, queueRow } from "./queue-rows.ts";

export interface ListViewProps<T> {
  rows: readonly T[];
  width: number;
  height: number;
  selected: number;
  readOnly: boolean;
  dbNowMs: number;
}

export function QueuesView(props: ListViewProps<QueueRow>) {
  const hint = props.readOnly ? "enter: tasks" : "enter: tasks  ·  p: pause/resume";
  return <PagedTable title="Queues" columns={QUEUE_COLUMNS} rows={props.rows.map(queueRow)} width={props.width} height={props.height} selected={props.selected} empty="no queues yet" hint={hint} />;
}

const WORKER_COLUMNS: readonly ColumnSpec[] = [
  { key: "id", title: "WORKER", min: 18, max: 36, flex: 2, priority: 10 },
  { key: "health", title: "HEALTH", min: 6, priority: 9 },
  { key: "host", title: "HOST", min: 8, max: 24, flex: 1, priority: 6 },
  { key: "version", title: "VERSION", min: 7, max: 12, priority: 3 },
  { key: "queues", title: "QUEUES", min: 8, flex: 2, priority: 5 },
  { key: "concurrency", title: "CONC", min: 4, align: "right", priority: 7 },
  { key: "running", title: "RUNNING", min: 7, align: "right", priority: 8 },
  { key: "seen", title: "SEEN", min: 10, align: "right", priority: 8 },
  { key: "up", title: "UP", min: 7, align: "right", priority: 2 },
];

function workerRow(w: WorkerRow, dbNowMs: number): Row {
  const tone = w.health === "alive" ? "ok" : w.health === "stale" ? "warn" : "bad";
  return {
    id: w.workerId,
    health: { text: w.health, tone },
    host: text(w.hostname),
    version: text(w.version),
    queues: w.queues.length > 0 ? w.queues.join(",") : "–",
    concurrency: formatNumber(w.concurrency),
    running: formatNumber(w.running),
    seen: formatAgo(w.lastSeenSeconds),
    up: formatAge(secondsSince(w.startedAt, dbNowMs)),
  };
}

export function WorkersView(props: ListViewProps<WorkerRow>) {
  const count = (health: WorkerRow["health"]) => props.rows.filter((w) => w.health === health).length;
  const title = `Workers  ${count("alive")} alive · ${count("stale")} stale · ${count("dead")} dead`;
  return <PagedTable title={title} columns={WORKER_COLUMNS} rows={props.rows.map((w) => workerRow(w, props.dbNowMs))} width={props.width} height={props.height} selected={props.selected} empty="no workers registered" />;
}

const FAILURE_GROUP_COLUMNS: readonly ColumnSpec[] = [
  { key: "task", title: "TASK", min: 12, max: 48, flex: 2, priority: 10, cut: "middle" },
  { key: "exception", title: "EXCEPTION", min: 10, max: 28, flex: 1, priority: 9, cut: "middle" },
  { key: "count", title: "COUNT", min: 8, align: "right", priority: 10 },
  { key: "last", title: "LAST", min: 10, align: "right", priority: 7 },
  { key: "message", title: "SAMPLE MESSAGE", min: 12, flex: 3, priority: 5 },
];

/** `windowed`: the count is of the newest failures only, so the group holds at least that many. */
function failureGroupRow(g: FailureGroup, dbNowMs: number, windowed: boolean): Row {
  return {
    task: text(g.taskPath),
    exception: { text: text(g.exceptionClass), tone: "bad" },
    count: { text: `${windowed ? "≥" : ""}${formatNumber(g.count)}`, tone: "bad" },
    last: formatAgo(secondsSince(g.lastFailedAt, dbNowMs)),
    message: text(g.sampleMessage),
  };
}

/**
 * "Failures  8 FAILED in 4 groups (task × exception)", or with more failures than the grouping
 * window: "Failures  20,000 FAILED  ·  4 groups among the newest 10,000 (task × exception)".
 */
export function failuresTitle(summary: Omit<FailureSummary, "groups">, shown: number): string {
  const groups = `${formatNumber(summary.groupCount)} group${summary.groupCount === 1 ? "" : "s"}`;
  const cut = summary.groupCount > shown ? ` (${formatNumber(shown)} shown)` : "";
  const total = `Failures  ${formatCount(summary.total)} FAILED`;
  if (summary.window === null) return `${total} in ${groups}${cut} (task × exception)`;
  return `${total}  ·  ${groups} among the newest ${formatNumber(summary.window)}${cut} (task × exception)`;
}

export function FailuresView(props: ListViewProps<FailureGroup> & { summary: Omit<FailureSummary, "groups"> }) {
  const windowed = props.summary.window !== null;
  return (
    <PagedTable
      title={failuresTitle(props.summary, props.rows.length)}
      columns={FAILURE_GROUP_COLUMNS}
      rows={props.rows.map((g) => failureGroupRow(g, props.dbNowMs, windowed))}
      width={props.width}
      height={props.height}
      selected={props.selected}
      empty="no failed tasks"
      hint="enter: tasks of the group"
    />
  );
}

const PERIODIC_COLUMNS: readonly ColumnSpec[] = [
  { key: "name", title: "NAME", min: 15, max: 32, flex: 2, priority: 10 },
  { key: "cron", title: "CRON", min: 11, max: 18, priority: 6 },
  { key: "description", title: "SCHEDULE", min: 16, max: 36, flex: 3, priority: 8 },
  { key: "task", title: "TASK", min: 10, max: 40, flex: 1, priority: 3, cut: "middle" },
  { key: "queue", title: "QUEUE", min: 7, max: 14, priority: 4 },
  { key: "next", title: "NEXT RUN", min: 11, align: "right", priority: 9 },
  { key: "last", title: "LAST RUN", min: 10, align: "right", priority: 3.5 },
  { key: "enabled", title: "ENABLED", min: 7, priority: 7 },
];

function periodicRow(p: PeriodicRow, dbNowMs: number): Row {
  const overdue = p.enabled && (p.nextRunInSeconds ?? 0) < -60;
  return {
    name: p.name,
    cron: p.cronExpr,
    description: { text: p.description ?? "invalid expression", tone: p.description ? undefined : "bad" },
    task: p.taskPath,
    queue: p.queue,
    next: { text: p.enabled ? formatUntil(p.nextRunInSeconds) : "–", tone: overdue ? "warn" : undefined },
    last: formatAgo(secondsSince(p.lastRunAt, dbNowMs)),
    enabled: { text: p.enabled ? "yes" : "no", tone: p.enabled ? "ok" : "muted" },
  };
}

export function PeriodicView(props: ListViewProps<PeriodicRow>) {
  return <PagedTable title="Periodic tasks" columns={PERIODIC_COLUMNS} rows={props.rows.map((p) => periodicRow(p, props.dbNowMs))} width={props.width} height={props.height} selected={props.selected} empty="no periodic tasks" />;
}

const RATE_COLUMNS: readonly ColumnSpec[] = [
  { key: "key", title: "KEY", min: 12, max: 48, flex: 2, priority: 10 },
  { key: "rate", title: "TOKENS/S", min: 8, align: "right", priority: 9 },
  { key: "burst", title: "BURST", min: 6, align: "right", priority: 8 },
  { key: "tokens", title: "TOKENS NOW", min: 10, align: "right", priority: 9 },
  { key: "gauge", title: "AVAILABLE", min: 12, max: 30, flex: 1, priority: 4 },
];

export function tokenGauge(current: number, burst: number, width = 12): string {
  const ratio = burst > 0 && Number.isFinite(current) ? Math.min(1, Math.max(0, current / burst)) : 0;
  const filled = Math.round(ratio * width);
  return "█".repeat(filled) + "░".repeat(width - filled);
}

function rateRow(r: RateLimitRow): Row {
  return {
    key: r.key,
    rate: formatNumber(r.tokensPerSecond),
    burst: formatNumber(r.burstSize),
    tokens: { text: formatNumber(Math.floor(r.currentTokens * 10) / 10), tone: r.currentTokens < 1 ? "warn" : "ok" },
    gauge: { text: tokenGauge(r.currentTokens, r.burstSize), tone: "accent" },
  };
}

export function RateLimitsView(props: ListViewProps<RateLimitRow>) {
  return <PagedTable title="Rate limits (tokens refilled to now)" columns={RATE_COLUMNS} rows={props.rows.map(rateRow)} width={props.width} height={props.height} selected={props.selected} empty="no rate limits" />;
}

