import { Text } from "ink";
import { pagerText } from "../format.ts";
import { Styled } from "../theme.tsx";

/** "rows 1–20 of 1,234" under a list. */
export function Pager(props: { offset: number; shown: number; total: number; estimate?: boolean; hint?: string }) {
  const hint = props.hint ? `  ·  ${props.hint}` : "";
  return (
    <Text wrap="truncate">
      <Styled tone="muted">{`  ${pagerText(props.offset, props.shown, props.total, props.estimate)}${hint}`}</Styled>
    </Text>
  );
}
