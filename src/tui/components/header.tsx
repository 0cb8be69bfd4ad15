// Top line: product, connection state (OK / degraded / down), refresh age, database time, and
// badges for paused refresh and read-only mode. When down, the error follows on the same line.
import { Text } from "ink";
import { formatAge } from "../format.ts";
import type { ConnectionState } from "../model.ts";
import { Styled, type Tone } from "../theme.tsx";

export interface HeaderProps {
  state: ConnectionState;
  error: string | null;
  /** Seconds since the last successful refresh; null before the first. */
  refreshedAgo: number | null;
  dbMs: number | null;
  paused: boolean;
  readOnly: boolean;
  refreshing: boolean;
}

const STATE_TONE: Record<ConnectionState, Tone> = { connecting: "warn", ok: "ok", degraded: "warn", down: "bad" };
const STATE_LABEL: Record<ConnectionState, string> = { connecting: "connecting", ok: "OK", degraded: "degraded", down: "down" };

export function headerParts(props: HeaderProps): string[] {
  const parts: string[] = [];
  parts.push(props.refreshedAgo === null ? "no data yet" : `refreshed ${formatAge(props.refreshedAgo)} ago`);
  if (props.dbMs !== null && Number.isFinite(props.dbMs)) parts.push(`db ${Math.round(props.dbMs)} ms`);
  return parts;
}

export function Header(props: HeaderProps) {
  const tone = STATE_TONE[props.state];
  return (
    <Text wrap="truncate">
      <Styled bold tone="accent">reproq top</Styled>
      {"  "}
      <Styled tone={tone} bold>{`● ${STATE_LABEL[props.state]}`}</Styled>
      {props.state === "down" && props.error ? <Styled tone="bad">{`: ${props.error}`}</Styled> : null}
      <Styled tone="muted">{`  ${headerParts(props).join("  ·  ")}${props.refreshing ? " ⟳" : ""}`}</Styled>
      {props.paused ? <Styled tone="warn" bold>{"  [PAUSED — space resumes]"}</Styled> : null}
      {props.readOnly ? <Styled tone="warn">{"  [read-only]"}</Styled> : null}
    </Text>
  );
}
