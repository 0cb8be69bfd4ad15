// Where the operator is: a stack of screens (a tab at the bottom, drill-downs above it), each with
// its own cursor. Pure functions; app.tsx keeps one NavState in React state.
import type { TaskFilter } from "./model.ts";

export type TabId = "overview" | "queues" | "workers" | "failures" | "periodic" | "rate-limits";
export const TAB_IDS: readonly TabId[] = ["overview", "queues", "workers", "failures", "periodic", "rate-limits"];

export type Screen =
  | { kind: "tab"; tab: TabId }
  | { kind: "tasks"; filter: TaskFilter; title: string }
  | { kind: "detail"; resultId: string }
  | { kind: "events" };

export interface Frame {
  screen: Screen;
  /** Absolute index of the selected row (lists) or first visible line (detail, events). */
  selected: number;
}

export interface NavState {
  tabIndex: number;
  stack: Frame[];
}

export function initialNav(tabIndex = 0): NavState {
  return { tabIndex, stack: [{ screen: { kind: "tab", tab: TAB_IDS[tabIndex] ?? "overview" }, selected: 0 }] };
}

export function current(nav: NavState): Frame {
  return nav.stack[nav.stack.length - 1]!;
}

export function switchTab(_nav: NavState, tabIndex: number): NavState {
  return initialNav(((tabIndex % TAB_IDS.length) + TAB_IDS.length) % TAB_IDS.length);
}

export function push(nav: NavState, screen: Screen): NavState {
  return { ...nav, stack: [...nav.stack, { screen, selected: 0 }] };
}

export function pop(nav: NavState): NavState {
  return nav.stack.length > 1 ? { ...nav, stack: nav.stack.slice(0, -1) } : nav;
}

/** Replace the top screen (e.g. a new filter on the same task list), cursor back to the top. */
export function replaceTop(nav: NavState, screen: Screen): NavState {
  return { ...nav, stack: [...nav.stack.slice(0, -1), { screen, selected: 0 }] };
}

export type Motion = "up" | "down" | "pageUp" | "pageDown" | "first" | "last";

/** New cursor for a motion over `count` rows shown `pageSize` at a time. */
export function moveCursor(selected: number, motion: Motion, count: number, pageSize: number): number {
  const last = Math.max(0, count - 1);
  const page = Math.max(1, pageSize);
  const next =
    motion === "up" ? selected - 1
    : motion === "down" ? selected + 1
    : motion === "pageUp" ? selected - page
    : motion === "pageDown" ? selected + page
    : motion === "first" ? 0
    : last;
  return Math.min(last, Math.max(0, next));
}

export function withSelected(nav: NavState, selected: number): NavState {
  const top = current(nav);
  if (top.selected === selected) return nav;
  return { ...nav, stack: [...nav.stack.slice(0, -1), { ...top, selected }] };
}

/** First row of the page holding `selected`. */
export function pageOffset(selected: number, pageSize: number): number {
  const page = Math.max(1, pageSize);
  return Math.floor(Math.max(0, selected) / page) * page;
}

/** Stable identity of a screen's data (for the poll cache). */
export function screenKey(screen: Screen, page?: { offset: number; limit: number }): string {
  switch (screen.kind) {
    case "tab":
      return screen.tab === "queues" ? "overview" : screen.tab;
    case "tasks":
      return `tasks:${JSON.stringify(screen.filter)}:${page?.offset ?? 0}:${page?.limit ?? 0}`;
    case "detail":
      return `detail:${screen.resultId}`;
    case "events":
      return "events";
  }
}
