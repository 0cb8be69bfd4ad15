// The live tail of a worker's /events stream (newest at the bottom).
import { Box, Text } from "ink";
import type { EventsTail } from "../hooks/use-events.ts";
import { Styled, type Tone } from "../theme.tsx";
import type { TailEvent } from "../sse.ts";

const LEVEL_TONE: Record<string, Tone> = { error: "bad", warn: "warn", info: "muted" };

export function eventLine(e: TailEvent): string {
  const time = e.ts.length >= 19 ? e.ts.slice(11, 19) : "--:--:--";
  const tags = [e.queue ? `queue:${e.queue}` : null, e.taskId ? `task:${e.taskId}` : null].filter((t) => t !== null).join(" ");
  return `${time} ${e.level.padEnd(5)} ${e.type}${tags ? ` [${tags}]` : ""} ${e.msg}${e.detail ? `: ${e.detail}` : ""}`;
}

export function EventsView(props: { tail: EventsTail; url: string | null; height: number }) {
  if (!props.url) {
    return <Text>No event stream: start top with --events-url http://worker:9100/events (and --token when the worker wants one).</Text>;
  }
  const state = props.tail.state === "retrying" ? `retrying (${props.tail.error ?? "disconnected"})` : props.tail.state;
  const shown = props.tail.events.slice(-Math.max(1, props.height - 1));
  return (
    <Box flexDirection="column" height={props.height}>
      <Text wrap="truncate">
        <Styled bold tone="title">Events</Styled>
        <Styled tone={props.tail.state === "live" ? "ok" : "warn"}>{`  ${state}`}</Styled>
        <Styled tone="muted">{`  ·  ${props.url}`}</Styled>
      </Text>
      {shown.length === 0 ? <Styled tone="muted">waiting for events…</Styled> : null}
      {shown.map((e, i) => (
        <Text key={`${e.id ?? ""}-${i}`} wrap="truncate">
          <Styled tone={LEVEL_TONE[e.level] ?? "muted"}>{eventLine(e)}</Styled>
        </Text>
      ))}
    </Box>
  );
}
