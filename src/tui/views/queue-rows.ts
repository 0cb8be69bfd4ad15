// The queues table shared by the overview and the Queues tab.
import type { ColumnSpec } from "../components/columns.ts";
import { sparkline } from "../components/sparkline.tsx";
import type { Row } from "../components/table.tsx";
import { formatAge, formatCount, formatNumber, text } from "../format.ts";
import type { QueueRow } from "../model.ts";

export const QUEUE_COLUMNS: readonly ColumnSpec[] = [
  { key: "queue", title: "QUEUE", min: 10, max: 32, flex: 1, priority: 10 },
  { key: "ready", title: "READY", min: 7, align: "right", priority: 9 },
  { key: "scheduled", title: "SCHEDULED", min: 9, align: "right", priority: 6.5 },
  { key: "running", title: "RUNNING", min: 7, align: "right", priority: 8 },
  { key: "waiting", title: "WAITING", min: 7, align: "right", priority: 6 },
  { key: "failed", title: "FAILED", min: 7, align: "right", priority: 9 },
  { key: "oldest", title: "OLDEST", min: 7, align: "right", priority: 7 },
  { key: "activity", title: "DONE/MIN 15M", min: 15, priority: 4 },
  { key: "state", title: "STATE", min: 8, flex: 2, priority: 5 },
];

export function queueRow(queue: QueueRow): Row {
  return {
    queue: queue.queue,
    ready: formatCount({ value: queue.ready, estimate: queue.readyEstimate === true }),
    scheduled: formatCount({ value: queue.scheduled, estimate: queue.scheduledEstimate === true }),
    running: formatNumber(queue.running),
    waiting: formatNumber(queue.waiting),
    failed: { text: formatCount({ value: queue.failed, estimate: queue.failedEstimate === true }), tone: queue.failed > 0 ? "bad" : undefined },
    oldest: { text: formatAge(queue.oldestReadySeconds), tone: (queue.oldestReadySeconds ?? 0) > 300 ? "warn" : undefined },
    activity: { text: sparkline(queue.completions ?? [], 15), tone: "accent" },
    state: queue.paused
      ? { text: `paused${queue.pausedReason ? `: ${text(queue.pausedReason)}` : ""}`, tone: "warn" }
      : { text: "active", tone: "ok" },
  };
}
