// What each screen reads from the DashboardSource, and the database time it took.
import type { Loaded } from "./hooks/use-poll.ts";
import type { DashboardSource, FailureGroup, FailureSummary, Overview, PeriodicRow, RateLimitRow, TaskDetail, TaskPage, WorkerRow } from "./model.ts";
import type { Screen } from "./navigation.ts";

export type ScreenData =
  | { kind: "overview"; overview: Overview; receivedAt: number }
  | { kind: "workers"; rows: WorkerRow[] }
  | { kind: "failures"; rows: FailureGroup[]; summary: Omit<FailureSummary, "groups"> }
  | { kind: "periodic"; rows: PeriodicRow[] }
  | { kind: "rate-limits"; rows: RateLimitRow[] }
  | { kind: "tasks"; page: TaskPage }
  | { kind: "detail"; detail: TaskDetail | null };

async function timed<T>(source: DashboardSource, method: string, call: () => Promise<T>): Promise<{ value: T; dbMs: number }> {
  const started = performance.now();
  const value = await call();
  const reported = source.lastQueryMs[method];
  return { value, dbMs: typeof reported === "number" && Number.isFinite(reported) ? reported : performance.now() - started };
}

export async function loadScreen(source: DashboardSource, screen: Screen, page: { offset: number; limit: number }): Promise<Loaded<ScreenData>> {
  switch (screen.kind) {
    case "tab":
      return loadTab(source, screen.tab);
    case "tasks": {
      const { value, dbMs } = await timed(source, "tasks", () => source.tasks(screen.filter, page));
      return { data: { kind: "tasks", page: value }, dbMs };
    }
    case "detail": {
      const { value, dbMs } = await timed(source, "task", () => source.task(screen.resultId));
      return { data: { kind: "detail", detail: value }, dbMs };
    }
    case "events": {
      // The events tail streams on its own; keep the header's database state fresh.
      return loadTab(source, "overview");
    }
  }
}

async function loadTab(source: DashboardSource, tab: Extract<Screen, { kind: "tab" }>["tab"]): Promise<Loaded<ScreenData>> {
  switch (tab) {
    case "overview":
    case "queues": {
      const { value, dbMs } = await timed(source, "overview", () => source.overview());
      return { data: { kind: "overview", overview: value, receivedAt: Date.now() }, dbMs };
    }
    case "workers": {
      const { value, dbMs } = await timed(source, "workers", () => source.workers());
      return { data: { kind: "workers", rows: value }, dbMs };
    }
    case "failures": {
      const { value, dbMs } = await timed(source, "failureGroups", () => source.failureGroups());
      const { groups, ...summary } = value;
      return { data: { kind: "failures", rows: groups, summary }, dbMs };
    }
    case "periodic": {
      const { value, dbMs } = await timed(source, "periodic", () => source.periodic());
      return { data: { kind: "periodic", rows: value }, dbMs };
    }
    case "rate-limits": {
      const { value, dbMs } = await timed(source, "rateLimits", () => source.rateLimits());
      return { data: { kind: "rate-limits", rows: value }, dbMs };
    }
  }
}
