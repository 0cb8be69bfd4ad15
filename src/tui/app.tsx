// The root of `reproq top`: owns navigation, dialogs and refresh control, polls the current
// screen through usePoll, and lays out header, hazard warnings (hazards.ts), tabs, body and footer
// to exactly the terminal size.
import { Box, Text, useApp } from "ink";
import { useCallback, useRef, useState } from "react";
import { Header } from "./components/header.tsx";
import { Tabs } from "./components/tabs.tsx";
import { geometry } from "./geometry.ts";
import { useEvents } from "./hooks/use-events.ts";
import { useKeymap } from "./hooks/use-keymap.ts";
import { useNow } from "./hooks/use-now.ts";
import { errorText, usePoll } from "./hooks/use-poll.ts";
import { useTerminalSize } from "./hooks/use-terminal-size.ts";
import { handleKey, type Ctx, type Message, type Modal } from "./keys.ts";
import { loadScreen, type ScreenData } from "./load.ts";
import { hazardWarnings } from "./hazards.ts";
import type { Action, ActionProgress, DashboardSource, DbHazards } from "./model.ts";
import { current, initialNav, pageOffset, screenKey, type NavState } from "./navigation.ts";
import { ScreenView } from "./screen-view.tsx";
import { ColourContext, Styled } from "./theme.tsx";
import { ConfirmDialog, confirmHeight, type ConfirmState } from "./views/confirm.tsx";
import { Footer } from "./views/footer.tsx";
import { HelpView } from "./views/help.tsx";
import { tasksPageSize } from "./views/tasks.tsx";

export interface AppProps {
  source: DashboardSource;
  refreshMs: number;
  readOnly: boolean;
  colour: boolean;
  eventsUrl?: string | null;
  token?: string | null;
}

/** Header, tabs, message line and key hints: the rest of the height is the body. */
const CHROME_LINES = 4;

export function App(props: AppProps) {
  return (
    <ColourContext.Provider value={props.colour}>
      <Top {...props} />
    </ColourContext.Provider>
  );
}

function crumbs(nav: NavState): string[] {
  return nav.stack.slice(1).map((f) => (f.screen.kind === "tasks" ? f.screen.title : f.screen.kind === "detail" ? `task ${f.screen.resultId}` : "events"));
}

function Top(props: AppProps) {
  const { exit } = useApp();
  const size = useTerminalSize();
  const now = useNow(1000);
  const readOnly = props.readOnly || props.source.readOnly;
  const [nav, setNav] = useState<NavState>(() => initialNav());
  const [modal, setModal] = useState<Modal | null>(null);
  const [message, setMessage] = useState<Message | null>(null);
  const [paused, setPaused] = useState(false);
  const skew = useRef(0);
  const events = useEvents({ url: props.eventsUrl ?? null, token: props.token ?? null });

  const frame = current(nav);
  const warnings = useHazardWarnings(props.source, props.refreshMs, paused);
  const bodyHeight = Math.max(3, size.rows - CHROME_LINES - warnings.length);
  const dialogHeight = modal?.kind === "confirm" ? confirmHeight(modal.state, size.columns) : 0;
  const viewHeight = Math.max(3, bodyHeight - dialogHeight);
  const limit = tasksPageSize(viewHeight);
  const page = { offset: pageOffset(frame.selected, limit), limit };
  const key = screenKey(frame.screen, frame.screen.kind === "tasks" ? page : undefined);
  const poll = usePoll<ScreenData>(key, () => loadScreen(props.source, frame.screen, page), { intervalMs: props.refreshMs, paused });
  if (poll.data?.kind === "overview") skew.current = poll.data.overview.now.getTime() - poll.data.receivedAt;
  const geo = geometry(frame.screen, poll.data, size.columns, viewHeight);

  const actions = useActions(props.source, setModal, setMessage, poll.refresh);
  const ctx: Ctx = {
    nav, setNav, modal, setModal, setMessage, exit, readOnly,
    togglePaused: () => setPaused((p) => !p),
    refresh: poll.refresh,
    data: poll.data,
    geometry: geo,
    hasEvents: Boolean(props.eventsUrl),
    startAction: actions.start,
    confirmAction: () => modal?.kind === "confirm" && actions.confirm(modal.state),
    stopAction: () => modal?.kind === "confirm" && actions.stop(modal.state),
  };
  useKeymap((press) => handleKey(ctx, press));

  const status = poll.status;
  return (
    <Box flexDirection="column" width={size.columns} height={size.rows}>
      <Header state={status.state} error={status.error} refreshedAgo={status.lastOkAt === null ? null : (now - status.lastOkAt) / 1000} dbMs={status.dbMs} paused={paused} readOnly={readOnly} refreshing={status.refreshing} />
      {warnings.map((line) => (
        <Text key={line.slice(0, 24)} wrap="truncate">
          <Styled bold tone="warn">{line}</Styled>
        </Text>
      ))}
      <Tabs active={nav.tabIndex} crumbs={crumbs(nav)} />
      <Box flexDirection="column" height={bodyHeight} overflow="hidden">
        {modal?.kind === "help" ? (
          <HelpView width={size.columns} height={bodyHeight} readOnly={readOnly} />
        ) : (
          <ScreenView frame={frame} data={poll.data} width={size.columns} height={viewHeight} readOnly={readOnly} dbNowMs={Date.now() + skew.current} events={events} eventsUrl={props.eventsUrl ?? null} />
        )}
        {modal?.kind === "confirm" ? <ConfirmDialog state={modal.state} width={size.columns} /> : null}
      </Box>
      <Footer modal={modal} message={message} width={size.columns} readOnly={readOnly} screen={frame.screen} />
    </Box>
  );
}

/**
 * The database's hazards, polled apart from the screen: their reads touch only the catalogs, so
 * the warning still shows while a lock on task_runs holds every screen's queries. A failed read
 * keeps the last lines (the header already shows the connection state).
 */
function useHazardWarnings(source: DashboardSource, refreshMs: number, paused: boolean): string[] {
  const first = useRef(true);
  const load = useCallback(async () => {
    // The screen's first load goes alone: it decides how fast top looks ready.
    if (first.current) await Bun.sleep(1_000);
    first.current = false;
    const started = performance.now();
    const data = source.hazards ? await source.hazards() : null;
    return { data, dbMs: performance.now() - started };
  }, [source]);
  const poll = usePoll<DbHazards | null>("hazards", load, { intervalMs: Math.max(refreshMs, 1_000), paused });
  return hazardWarnings(poll.data ?? undefined);
}

/**
 * Preview → confirm → perform, each step shown in the dialog (a bulk action's progress too, and
 * esc stops it between batches); the result lands in the footer.
 */
function useActions(source: DashboardSource, setModal: (m: Modal | null) => void, setMessage: (m: Message | null) => void, refresh: () => void) {
  const token = useRef(0);
  const running = useRef<AbortController | null>(null);
  const start = useCallback((action: Action) => {
    const mine = ++token.current;
    setModal({ kind: "confirm", state: { action, preview: null, phase: "preview", error: null } });
    source.preview(action).then(
      (preview) => mine === token.current && setModal({ kind: "confirm", state: { action, preview, phase: "ready", error: null } }),
      (error) => mine === token.current && setModal({ kind: "confirm", state: { action, preview: null, phase: "ready", error: errorText(error) } }),
    );
  }, [source, setModal]);
  const confirm = useCallback((state: ConfirmState) => {
    const mine = ++token.current;
    const controller = new AbortController();
    running.current = controller;
    const shown: ConfirmState = { ...state, phase: "running" };
    setModal({ kind: "confirm", state: shown });
    const onProgress = (progress: ActionProgress) => {
      if (mine === token.current && !controller.signal.aborted) setModal({ kind: "confirm", state: { ...shown, progress } });
    };
    source.perform(state.preview?.action ?? state.action, { signal: controller.signal, onProgress }).then(
      (result) => {
        if (mine !== token.current) return;
        setModal(null);
        setMessage({ text: result.message, tone: result.ok ? "ok" : "bad" });
        refresh();
      },
      (error) => {
        if (mine !== token.current) return;
        setModal(null);
        setMessage({ text: `failed: ${errorText(error)}`, tone: "bad" });
      },
    );
  }, [source, setModal, setMessage, refresh]);
  const stop = useCallback((state: ConfirmState) => {
    if (!running.current || running.current.signal.aborted) return;
    running.current.abort();
    setModal({ kind: "confirm", state: { ...state, stopping: true } });
  }, [setModal]);
  return { start, confirm, stop };
}
