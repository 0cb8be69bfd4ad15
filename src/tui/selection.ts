// What the cursor points at on the current screen, and what enter and the action keys do with it.
import { formatFilter } from "./filter.ts";
import type { ScreenData } from "./load.ts";
import type { Action, FailureGroup, PeriodicRow, QueueRow, TaskFilter } from "./model.ts";
import { pageOffset, type Screen } from "./navigation.ts";

export interface Target {
  queue?: QueueRow;
  taskId?: string;
  group?: FailureGroup;
  periodic?: PeriodicRow;
}

export function selectedTarget(screen: Screen, data: ScreenData | undefined, selected: number, pageSize: number): Target {
  if (!data) return {};
  switch (data.kind) {
    case "overview":
      return screen.kind === "tab" ? { ...pick("queue", data.overview.queues[selected]) } : {};
    case "tasks": {
      const index = Math.min(selected - data.page.offset, data.page.rows.length - 1);
      const row = index >= 0 && pageOffset(selected, pageSize) === data.page.offset ? data.page.rows[index] : undefined;
      return row ? { taskId: row.resultId } : {};
    }
    case "detail":
      return data.detail ? { taskId: data.detail.resultId } : {};
    case "failures":
      return pick("group", data.rows[selected]);
    case "periodic":
      return pick("periodic", data.rows[selected]);
    default:
      return {};
  }
}

function pick<K extends keyof Target>(key: K, value: Target[K] | undefined): Target {
  return value === undefined ? {} : ({ [key]: value } as Target);
}

/** The screen enter opens from the selection, or null. */
export function drillInto(screen: Screen, target: Target): Screen | null {
  if (target.queue) return { kind: "tasks", filter: { queue: target.queue.queue }, title: `Queue ${target.queue.queue}` };
  if (target.group) {
    const filter: TaskFilter = { status: "FAILED" };
    if (target.group.taskPath) filter.taskPath = target.group.taskPath;
    if (target.group.exceptionClass) filter.exceptionClass = target.group.exceptionClass;
    return { kind: "tasks", filter, title: "Failure group" };
  }
  if (target.periodic) return { kind: "tasks", filter: { taskPath: target.periodic.taskPath }, title: `Periodic ${target.periodic.name}` };
  if (target.taskId && screen.kind === "tasks") return { kind: "detail", resultId: target.taskId };
  return null;
}

export type ActionRequest =
  | { action: Action }
  /** Ask for a reason first, then build the action with it ("" → null). */
  | { reasonLabel: string; build: (reason: string | null) => Action }
  | { problem: string };

const TASK_KEYS: Record<string, "retry" | "discard" | "cancel" | "replay"> = { R: "retry", D: "discard", C: "cancel", P: "replay" };
export const ACTION_KEY_NAMES = new Set(["R", "D", "C", "P", "A", "X", "p"]);

export function actionFor(key: string, screen: Screen, target: Target): ActionRequest {
  const taskKind = TASK_KEYS[key];
  if (taskKind) {
    if (!target.taskId) return { problem: `${key} works on a task: open a queue or failure group and select one` };
    const resultId = target.taskId;
    if (taskKind === "discard") return { reasonLabel: "discard reason (enter for none):", build: (reason) => ({ kind: "discard", resultId, reason }) };
    return { action: { kind: taskKind, resultId } } as ActionRequest;
  }
  if (key === "A" || key === "X") {
    if (screen.kind !== "tasks") return { problem: `${key} works on a task list: it acts on every task matching the list's filter` };
    const filter = screen.filter;
    if (key === "A") return { action: { kind: "retry-matching", filter } };
    return { reasonLabel: `discard all matching ${formatFilter(filter) || "(no filter)"} — reason:`, build: (reason) => ({ kind: "discard-matching", filter, reason }) };
  }
  if (key === "p") {
    if (!target.queue) return { problem: "p works on a queue: select one in Overview or Queues" };
    const queue = target.queue.queue;
    if (target.queue.paused) return { action: { kind: "resume-queue", queue } };
    return { reasonLabel: `pause queue ${queue} — reason:`, build: (reason) => ({ kind: "pause-queue", queue, reason }) };
  }
  return { problem: `no action on ${key}` };
}
