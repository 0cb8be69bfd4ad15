// The `?` overlay: every key, in two columns when the terminal is wide enough.
import { Box, Text } from "ink";
import { fit } from "../format.ts";
import { Styled } from "../theme.tsx";

export const NAVIGATION_KEYS: readonly [string, string][] = [
  ["↑/↓  j/k", "move the selection / scroll"],
  ["PgUp/PgDn", "previous / next page"],
  ["g / G", "first / last row"],
  ["enter", "open: queue → tasks → detail"],
  ["esc", "back (or close a dialog)"],
  ["tab / shift+tab", "next / previous view"],
  ["1–6", "switch view (the numbers in the tab bar)"],
  ["←/→  h/l", "task list: previous / next status"],
  ["/", "filter tasks: queue: task: status: exc: text"],
  ["e", "live events tail (with --events-url)"],
  ["space", "pause / resume refresh"],
  ["r", "refresh now"],
  ["?", "this help"],
  ["q  ctrl+c", "quit"],
];

export const ACTION_KEYS: readonly [string, string][] = [
  ["R", "retry the selected task"],
  ["D", "discard the selected task"],
  ["C", "cancel the selected task"],
  ["P", "replay the selected task (new run)"],
  ["A", "retry all tasks matching the list's filter"],
  ["X", "discard all tasks matching the list's filter"],
  ["p", "pause / resume the selected queue"],
];

function KeyLines(props: { keys: readonly [string, string][]; width: number }) {
  // Key column: the longest key, two spaces of indent and two of gap.
  const keyWidth = Math.max(...props.keys.map(([key]) => key.length)) + 4;
  return (
    <>
      {props.keys.map(([key, what]) => (
        <Text key={key} wrap="truncate">
          <Styled tone="accent" bold>{fit(`  ${key}`, keyWidth)}</Styled>
          <Text>{fit(what, Math.max(1, props.width - keyWidth))}</Text>
        </Text>
      ))}
    </>
  );
}

export function HelpView(props: { width: number; height: number; readOnly: boolean }) {
  // One column needs a line per key plus the two titles; when that does not fit (80×24), use
  // two columns even on a narrow terminal: descriptions get truncated, no key goes missing.
  const oneColumnLines = 2 + NAVIGATION_KEYS.length + (props.readOnly ? 1 : ACTION_KEYS.length);
  const twoColumns = props.width >= 100 || (oneColumnLines > props.height && props.width >= 70);
  const column = twoColumns ? Math.floor(props.width / 2) : props.width;
  const actions = props.readOnly ? (
    <Text wrap="truncate">
      <Styled tone="warn">{"  read-only: actions are hidden and refused"}</Styled>
    </Text>
  ) : (
    <KeyLines keys={ACTION_KEYS} width={column} />
  );
  return (
    <Box flexDirection="column" height={props.height}>
      <Text wrap="truncate">
        <Styled bold tone="title">Keys</Styled>
        <Styled tone="muted">{"  ·  any key closes this help"}</Styled>
      </Text>
      <Box flexDirection={twoColumns ? "row" : "column"}>
        <Box flexDirection="column" width={column}>
          <KeyLines keys={NAVIGATION_KEYS} width={column} />
        </Box>
        <Box flexDirection="column" width={column}>
          <Text wrap="truncate">
            <Styled bold tone="title">{twoColumns ? "Actions (confirmed first)" : " "}</Styled>
          </Text>
          {actions}
        </Box>
      </Box>
    </Box>
  );
}
