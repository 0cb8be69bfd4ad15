// Tasks of a queue / failure group / search, one server page at a time, with status tabs.
import { Box, Text } from "ink";
import type { ColumnSpec } from "../components/columns.ts";
import { PagedTable } from "../components/paged-table.tsx";
import type { Row } from "../components/table.tsx";
import { STATUS_CYCLE, formatFilter } from "../filter.ts";
import { formatAge, formatNumber, formatUntil, text } from "../format.ts";
import type { TaskFilter, TaskListRow, TaskPage, TaskState } from "../model.ts";
import { Styled, type Tone } from "../theme.tsx";

const TASK_COLUMNS: readonly ColumnSpec[] = [
  { key: "id", title: "ID", min: 7, max: 12, priority: 10 },
  { key: "status", title: "STATUS", min: 10, priority: 9 },
  { key: "queue", title: "QUEUE", min: 8, max: 16, flex: 1, priority: 5 },
  { key: "task", title: "TASK", min: 14, max: 44, flex: 2, priority: 8, cut: "middle" },
  { key: "priority", title: "PRI", min: 4, align: "right", priority: 2 },
  { key: "attempts", title: "TRIES", min: 5, align: "right", priority: 6 },
  { key: "due", title: "DUE", min: 8, align: "right", priority: 7.5 },
  { key: "age", title: "AGE", min: 7, align: "right", priority: 7 },
  { key: "error", title: "LAST ERROR", min: 12, flex: 3, priority: 4 },
];

export const STATUS_TONE: Record<string, Tone> = {
  READY: "accent",
  SCHEDULED: "muted",
  RUNNING: "ok",
  WAITING: "muted",
  SUCCESSFUL: "ok",
  FAILED: "bad",
  CANCELLED: "warn",
};

/** The state a row is shown with: SCHEDULED for a READY row that is not due yet. */
export function taskState(t: Pick<TaskListRow, "status" | "dueInSeconds">): TaskState {
  return t.status === "READY" && t.dueInSeconds !== null ? "SCHEDULED" : t.status;
}

function taskRow(t: TaskListRow): Row {
  const state = taskState(t);
  return {
    id: t.resultId,
    status: { text: state, tone: STATUS_TONE[state] },
    due: formatUntil(t.dueInSeconds),
    queue: t.queue,
    task: text(t.taskPath),
    priority: String(t.priority),
    attempts: `${t.attempts}/${t.maxAttempts}`,
    age: formatAge(t.ageSeconds),
    error: { text: text(t.lastError), tone: t.lastError ? "bad" : undefined },
  };
}

function StatusTabs(props: { status: TaskFilter["status"] }) {
  return (
    <Text wrap="truncate">
      <Styled tone="muted">{"←/→ "}</Styled>
      {STATUS_CYCLE.map((s) => (
        <Styled key={s ?? "all"} tone={s === props.status ? "accent" : "muted"} inverse={s === props.status} bold={s === props.status}>
          {` ${s === props.status ? "[" : ""}${s ?? "ALL"}${s === props.status ? "]" : ""} `}
        </Styled>
      ))}
    </Text>
  );
}

export interface TasksViewProps {
  filter: TaskFilter;
  title: string;
  page: TaskPage | undefined;
  width: number;
  height: number;
  selected: number;
  readOnly: boolean;
}

/** How a list is ordered when it is not newest first. */
const ORDER_NOTE: Partial<Record<TaskState, string>> = { READY: "claim order: next to run first", SCHEDULED: "soonest due first" };

export function tasksHint(readOnly: boolean): string {
  return readOnly ? "enter: detail  ·  / filter" : "enter: detail  ·  R retry D discard C cancel P replay  ·  A retry all / X discard all matching";
}

export function TasksView(props: TasksViewProps) {
  const filterText = formatFilter(props.filter) || "all tasks";
  const order = props.filter.status === undefined ? undefined : ORDER_NOTE[props.filter.status];
  const page = props.page;
  return (
    <Box flexDirection="column" height={props.height}>
      <StatusTabs status={props.filter.status} />
      <PagedTable
        title={`${props.title}  ·  ${filterText}${order === undefined ? "" : `  ·  ${order}`}${page?.searchedNewest !== undefined ? `  ·  searched the newest ${formatNumber(page.searchedNewest)} tasks` : ""}`}
        columns={taskColumns(props.filter)}
        rows={page ? page.rows.map(taskRow) : []}
        width={props.width}
        height={props.height - 1}
        selected={props.selected}
        server={{ offset: page?.offset ?? 0, total: page?.total.value ?? 0, estimate: page?.total.estimate ?? false }}
        empty={page ? "no tasks match" : "loading…"}
        hint={tasksHint(props.readOnly)}
      />
    </Box>
  );
}

/** The queue column only without a queue filter; the due time only in the SCHEDULED tab. */
function taskColumns(filter: TaskFilter): readonly ColumnSpec[] {
  return TASK_COLUMNS.filter((c) => !(c.key === "queue" && filter.queue) && !(c.key === "due" && filter.status !== "SCHEDULED"));
}

/** Rows per page of the task list at this body height (status tabs + list chrome). */
export function tasksPageSize(height: number): number {
  return Math.max(1, height - 4);
}
