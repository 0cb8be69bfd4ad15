// Picks the view for the current screen and hands it the data, size and cursor.
import { Text } from "ink";
import type { EventsTail } from "./hooks/use-events.ts";
import type { ScreenData } from "./load.ts";
import type { Frame } from "./navigation.ts";
import { DetailView } from "./views/detail.tsx";
import { EventsView } from "./views/events.tsx";
import { FailuresView, PeriodicView, QueuesView, RateLimitsView, WorkersView } from "./views/lists.tsx";
import { OverviewView } from "./views/overview.tsx";
import { TasksView } from "./views/tasks.tsx";

export interface ScreenViewProps {
  frame: Frame;
  data: ScreenData | undefined;
  width: number;
  height: number;
  readOnly: boolean;
  dbNowMs: number;
  events: EventsTail;
  eventsUrl: string | null;
}

export function ScreenView(props: ScreenViewProps) {
  const { frame, data, width, height, readOnly, dbNowMs } = props;
  const screen = frame.screen;
  if (screen.kind === "events") return <EventsView tail={props.events} url={props.eventsUrl} height={height} />;
  if (screen.kind === "tasks") {
    return <TasksView filter={screen.filter} title={screen.title} page={data?.kind === "tasks" ? data.page : undefined} width={width} height={height} selected={frame.selected} readOnly={readOnly} />;
  }
  if (screen.kind === "detail") {
    return <DetailView detail={data?.kind === "detail" ? data.detail : undefined} width={width} height={height} scroll={frame.selected} readOnly={readOnly} />;
  }
  const list = { width, height, selected: frame.selected, readOnly, dbNowMs };
  if (data === undefined) return <Text>loading…</Text>;
  switch (screen.tab) {
    case "overview":
      return data.kind === "overview" ? <OverviewView overview={data.overview} dbNowMs={dbNowMs} width={width} height={height} selected={frame.selected} /> : null;
    case "queues":
      return data.kind === "overview" ? <QueuesView rows={data.overview.queues} {...list} /> : null;
    case "workers":
      return data.kind === "workers" ? <WorkersView rows={data.rows} {...list} /> : null;
    case "failures":
      return data.kind === "failures" ? <FailuresView rows={data.rows} summary={data.summary} {...list} /> : null;
    case "periodic":
      return data.kind === "periodic" ? <PeriodicView rows={data.rows} {...list} /> : null;
    case "rate-limits":
      return data.kind === "rate-limits" ? <RateLimitsView rows={data.rows} {...list} /> : null;
  }
}
