// What each key does, by mode: a dialog or input takes every key first; otherwise navigation,
// refresh control and actions. The app passes a Ctx of its current state and setters.
import { cycleStatus, formatFilter, parseFilter } from "./filter.ts";
import type { Geometry } from "./geometry.ts";
import type { KeyPress } from "./hooks/use-keymap.ts";
import type { ScreenData } from "./load.ts";
import type { Action } from "./model.ts";
import { current, moveCursor, pop, push, replaceTop, switchTab, withSelected, type Motion, type NavState } from "./navigation.ts";
import { ACTION_KEY_NAMES, actionFor, drillInto, selectedTarget } from "./selection.ts";
import type { Tone } from "./theme.tsx";
import type { ConfirmState } from "./views/confirm.tsx";
import { editInput, type InputState } from "./views/input-bar.tsx";

export type Modal =
  | { kind: "help" }
  | { kind: "input"; input: InputState; onSubmit: (value: string) => void }
  | { kind: "confirm"; state: ConfirmState };

export interface Message {
  text: string;
  tone: Tone;
}

export interface Ctx {
  nav: NavState;
  setNav: (nav: NavState) => void;
  modal: Modal | null;
  setModal: (modal: Modal | null) => void;
  setMessage: (message: Message | null) => void;
  togglePaused: () => void;
  refresh: () => void;
  exit: () => void;
  data: ScreenData | undefined;
  geometry: Geometry;
  readOnly: boolean;
  hasEvents: boolean;
  startAction: (action: Action) => void;
  confirmAction: () => void;
  /** Stops a running bulk action after the batch in progress. */
  stopAction: () => void;
}

const MOTIONS: Record<string, Motion> = {
  up: "up", k: "up", down: "down", j: "down",
  pageUp: "pageUp", "ctrl+b": "pageUp", pageDown: "pageDown", "ctrl+f": "pageDown",
  g: "first", home: "first", G: "last", end: "last",
};

export function handleKey(ctx: Ctx, press: KeyPress): void {
  if (press.name === "ctrl+c") return ctx.exit();
  const modal = ctx.modal;
  if (modal?.kind === "help") return ctx.setModal(null);
  if (modal?.kind === "input") return handleInput(ctx, modal, press);
  if (modal?.kind === "confirm") return handleConfirm(ctx, modal.state, press);
  ctx.setMessage(null);
  if (handleGlobal(ctx, press)) return;
  const motion = MOTIONS[press.name];
  if (motion) {
    const frame = current(ctx.nav);
    ctx.setNav(withSelected(ctx.nav, moveCursor(frame.selected, motion, ctx.geometry.count, ctx.geometry.pageSize)));
    return;
  }
  if (press.name === "enter") return drill(ctx);
  if (press.name === "left" || press.name === "right" || press.name === "h" || press.name === "l") return cycleTaskStatus(ctx, press.name === "left" || press.name === "h" ? -1 : 1);
  if (ACTION_KEY_NAMES.has(press.name)) return requestAction(ctx, press.name);
}

function handleGlobal(ctx: Ctx, press: KeyPress): boolean {
  const name = press.name;
  if (name === "q") ctx.exit();
  else if (name === "?") ctx.setModal({ kind: "help" });
  else if (name === "esc") ctx.setNav(pop(ctx.nav));
  else if (name === "space") ctx.togglePaused();
  else if (name === "r") ctx.refresh();
  else if (name === "tab" || name === "shift+tab") ctx.setNav(switchTab(ctx.nav, ctx.nav.tabIndex + (name === "tab" ? 1 : -1)));
  else if (/^[1-6]$/.test(name)) ctx.setNav(switchTab(ctx.nav, Number(name) - 1));
  else if (name === "/") openFilter(ctx);
  else if (name === "e") openEvents(ctx);
  else return false;
  return true;
}

function openEvents(ctx: Ctx): void {
  if (!ctx.hasEvents) return ctx.setMessage({ text: "no event stream: start top with --events-url", tone: "warn" });
  if (current(ctx.nav).screen.kind !== "events") ctx.setNav(push(ctx.nav, { kind: "events" }));
}

function drill(ctx: Ctx): void {
  const frame = current(ctx.nav);
  const target = selectedTarget(frame.screen, ctx.data, frame.selected, ctx.geometry.pageSize);
  const next = drillInto(frame.screen, target);
  if (next) ctx.setNav(push(ctx.nav, next));
}

function cycleTaskStatus(ctx: Ctx, step: 1 | -1): void {
  const screen = current(ctx.nav).screen;
  if (screen.kind !== "tasks") return;
  ctx.setNav(replaceTop(ctx.nav, { ...screen, filter: { ...screen.filter, status: cycleStatus(screen.filter.status, step) } }));
}

function openFilter(ctx: Ctx): void {
  const screen = current(ctx.nav).screen;
  const initial = screen.kind === "tasks" ? formatFilter(screen.filter) : "";
  const onSubmit = (value: string) => {
    const { filter, problems } = parseFilter(value);
    if (problems.length > 0) return ctx.setMessage({ text: problems.join("; "), tone: "bad" });
    const now = current(ctx.nav).screen;
    if (now.kind === "tasks") ctx.setNav(replaceTop(ctx.nav, { ...now, filter }));
    else ctx.setNav(push(ctx.nav, { kind: "tasks", filter, title: "Search" }));
  };
  ctx.setModal({ kind: "input", input: { purpose: "filter", label: "/ filter (queue: task: status: exc: text):", value: initial }, onSubmit });
}

function handleInput(ctx: Ctx, modal: Extract<Modal, { kind: "input" }>, press: KeyPress): void {
  if (press.name === "esc") return ctx.setModal(null);
  if (press.name === "enter") {
    ctx.setModal(null);
    return modal.onSubmit(modal.input.value.trim());
  }
  const value = editInput(modal.input.value, press.name, press.text);
  if (value !== null) ctx.setModal({ ...modal, input: { ...modal.input, value } });
}

function handleConfirm(ctx: Ctx, state: ConfirmState, press: KeyPress): void {
  if (state.phase === "running") {
    // Only a bulk action (it reports progress) can stop between batches.
    if (state.progress && (press.name === "esc" || press.name === "n" || press.name === "q")) ctx.stopAction();
    return;
  }
  const ready = state.preview !== null && state.error === null && state.preview.count > 0;
  if (ready && (press.name === "y" || press.name === "enter")) return ctx.confirmAction();
  if (press.name === "n" || press.name === "esc" || press.name === "q" || (!ready && press.name === "enter")) {
    ctx.setModal(null);
    ctx.setMessage({ text: "nothing changed", tone: "muted" });
  }
}

function requestAction(ctx: Ctx, key: string): void {
  if (ctx.readOnly) return ctx.setMessage({ text: "read-only: actions are disabled (started with --read-only)", tone: "warn" });
  const frame = current(ctx.nav);
  const target = selectedTarget(frame.screen, ctx.data, frame.selected, ctx.geometry.pageSize);
  const request = actionFor(key, frame.screen, target);
  if ("problem" in request) return ctx.setMessage({ text: request.problem, tone: "warn" });
  if ("action" in request) return ctx.startAction(request.action);
  const onSubmit = (value: string) => ctx.startAction(request.build(value === "" ? null : value));
  ctx.setModal({ kind: "input", input: { purpose: "reason", label: request.reasonLabel, value: "" }, onSubmit });
}
