// Overview: KPI row, the queues table (selectable; enter opens a queue) and recent failures.
import { Box, Text } from "ink";
import type { ColumnSpec } from "../components/columns.ts";
import { KpiRow, kpisPerLine, type Kpi } from "../components/kpi-row.tsx";
import { Table, type Row } from "../components/table.tsx";
import { formatAge, formatAgo, formatCount, formatNumber, formatPercent, formatRate, text } from "../format.ts";
import type { FailureRow, Overview } from "../model.ts";
import { pageOffset } from "../navigation.ts";
import { Styled } from "../theme.tsx";
import { secondsSince } from "../time.ts";
import { QUEUE_COLUMNS, queueRow } from "./queue-rows.ts";

const FAILURE_COLUMNS: readonly ColumnSpec[] = [
  { key: "id", title: "ID", min: 6, max: 12, priority: 8 },
  { key: "queue", title: "QUEUE", min: 8, max: 16, flex: 1, priority: 6 },
  { key: "task", title: "TASK", min: 12, max: 40, flex: 2, priority: 9, cut: "middle" },
  { key: "exception", title: "EXCEPTION", min: 10, max: 24, flex: 1, priority: 5, cut: "middle" },
  { key: "when", title: "FAILED", min: 10, align: "right", priority: 7 },
  { key: "message", title: "MESSAGE", min: 10, flex: 3, priority: 4 },
];

export function overviewKpis(o: Overview): Kpi[] {
  return [
    { label: "READY", value: formatCount({ value: o.totals.ready, estimate: o.totals.readyEstimate === true }) },
    { label: "SCHEDULED", value: formatCount({ value: o.totals.scheduled, estimate: o.totals.scheduledEstimate === true }) },
    { label: "RUNNING", value: formatNumber(o.totals.running), tone: "accent" },
    { label: "WAITING", value: formatNumber(o.totals.waiting) },
    { label: "FAILED", value: formatCount({ value: o.totals.failed, estimate: o.totals.failedEstimate === true }), tone: o.totals.failed > 0 ? "bad" : undefined },
    { label: "SUCCESSFUL", value: formatCount(o.totals.successful), tone: "ok" },
    { label: "DONE 1M", value: formatRate(o.throughput.perMinute1m) },
    { label: "DONE 5M", value: formatRate(o.throughput.perMinute5m) },
    { label: "SUCCESS 5M", value: formatPercent(o.throughput.successRate5m), tone: (o.throughput.successRate5m ?? 1) < 0.9 ? "bad" : "ok" },
    { label: "OLDEST READY", value: formatAge(o.oldestReadySeconds), tone: (o.oldestReadySeconds ?? 0) > 300 ? "warn" : undefined },
    { label: "WORKERS", value: formatNumber(o.liveWorkers), tone: o.liveWorkers === 0 ? "warn" : undefined },
  ];
}

export interface OverviewLayout {
  kpiLines: number;
  queueRows: number;
  failureRows: number;
}

/** Splits the height: KPIs first, then queues (at least 3 rows when there are some), then failures. */
export function overviewLayout(o: Overview, width: number, height: number): OverviewLayout {
  const queues = o.queues.length;
  const failures = o.recentFailures.length;
  const kpiLines = Math.ceil(overviewKpis(o).length / kpisPerLine(width)) * 2;
  const room = Math.max(2, height - kpiLines - 5); // blank + 2 titles + 2 table headers
  const wantFailures = Math.min(failures, Math.max(1, Math.floor(room / 3)));
  const queueRows = Math.max(1, Math.min(Math.max(queues, 1), room - Math.max(1, wantFailures)));
  const failureRows = Math.max(1, room - queueRows);
  return { kpiLines, queueRows, failureRows };
}

function failureRow(f: FailureRow, dbNowMs: number): Row {
  return {
    id: f.resultId,
    queue: f.queue,
    task: text(f.taskPath),
    exception: { text: text(f.exceptionClass), tone: "bad" },
    when: formatAgo(secondsSince(f.failedAt, dbNowMs)),
    message: text(f.message),
  };
}

export function OverviewView(props: { overview: Overview; dbNowMs: number; width: number; height: number; selected: number }) {
  const o = props.overview;
  const layout = overviewLayout(o, props.width, props.height);
  const offset = pageOffset(props.selected, layout.queueRows);
  const queues = o.queues.slice(offset, offset + layout.queueRows).map(queueRow);
  const failures = o.recentFailures.slice(0, layout.failureRows).map((f) => failureRow(f, props.dbNowMs));
  const more = o.queues.length > layout.queueRows ? `  (${offset + 1}–${offset + queues.length} of ${o.queues.length}; 2 for all)` : "";
  return (
    <Box flexDirection="column" height={props.height}>
      <KpiRow kpis={overviewKpis(o)} width={props.width} />
      <Text> </Text>
      <Text wrap="truncate">
        <Styled bold tone="title">Queues</Styled>
        <Styled tone="muted">{`${more}  ·  enter: tasks of the queue`}</Styled>
      </Text>
      <Table columns={QUEUE_COLUMNS} rows={queues} width={props.width} selected={props.selected - offset} empty="no queues yet" />
      <Text wrap="truncate">
        <Styled bold tone="title">Recent failures</Styled>
        <Styled tone="muted">{"  ·  4: grouped failures"}</Styled>
      </Text>
      <Table columns={FAILURE_COLUMNS} rows={failures} width={props.width} empty="no failures" />
    </Box>
  );
}
