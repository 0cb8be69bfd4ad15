// The `/` filter: tokens queue:, task:, status: plus free text, parsed into a TaskFilter and
// printed back the same way (so the filter bar shows what is applied).
import type { TaskFilter, TaskState } from "./model.ts";

/** Every task state (the statuses, SCHEDULED after READY), in the order the status tabs show them. */
export const TASK_STATES: readonly TaskState[] = ["READY", "SCHEDULED", "RUNNING", "WAITING", "FAILED", "SUCCESSFUL", "CANCELLED"];

export interface ParsedFilter {
  filter: TaskFilter;
  /** Problems to show under the bar (unknown status), empty when the filter is fine. */
  problems: string[];
}

function asState(value: string): TaskState | null {
  const upper = value.toUpperCase();
  return (TASK_STATES as readonly string[]).includes(upper) ? (upper as TaskState) : null;
}

export function parseFilter(input: string): ParsedFilter {
  const filter: TaskFilter = {};
  const problems: string[] = [];
  const words: string[] = [];
  for (const token of input.trim().split(/\s+/).filter((t) => t !== "")) {
    const match = /^(queue|task|status|exc|exception):(.*)$/i.exec(token);
    if (!match) {
      words.push(token);
      continue;
    }
    const name = match[1]!.toLowerCase();
    const value = match[2]!;
    if (value === "") continue;
    if (name === "queue") filter.queue = value;
    else if (name === "task") filter.taskPath = value;
    else if (name === "exc" || name === "exception") filter.exceptionClass = value;
    else {
      const status = asState(value);
      if (status) filter.status = status;
      else problems.push(`unknown status "${value}" (one of ${TASK_STATES.join(", ")})`);
    }
  }
  if (words.length > 0) filter.text = words.join(" ");
  return { filter, problems };
}

export function formatFilter(filter: TaskFilter): string {
  const parts: string[] = [];
  if (filter.queue) parts.push(`queue:${filter.queue}`);
  if (filter.status) parts.push(`status:${filter.status}`);
  if (filter.taskPath) parts.push(`task:${filter.taskPath}`);
  if (filter.exceptionClass) parts.push(`exc:${filter.exceptionClass}`);
  if (filter.text) parts.push(filter.text);
  return parts.join(" ");
}

/** The status tabs of a task list, cycled with ←/→ (h/l); undefined = every status. */
export const STATUS_CYCLE: readonly (TaskState | undefined)[] = [undefined, ...TASK_STATES];

export function cycleStatus(current: TaskState | undefined, step: 1 | -1): TaskState | undefined {
  const index = STATUS_CYCLE.indexOf(current);
  const next = (index + step + STATUS_CYCLE.length) % STATUS_CYCLE.length;
  return STATUS_CYCLE[next];
}
