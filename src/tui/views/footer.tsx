// The two bottom lines: a text input or the last message, then the keys that matter here.
import { Box, Text } from "ink";
import type { Message, Modal } from "../keys.ts";
import type { Screen } from "../navigation.ts";
import { Styled } from "../theme.tsx";
import { InputBar } from "./input-bar.tsx";

export function keyHints(screen: Screen, readOnly: boolean, modal: Modal | null): string {
  if (modal?.kind === "input") return "enter apply  ·  esc cancel  ·  backspace delete  ·  ctrl+u clear";
  if (modal?.kind === "confirm") return modal.state.phase !== "running" ? "y/enter yes  ·  n/esc no, change nothing" : modal.state.progress ? "esc stop after this batch" : "working…";
  const base = "? help  q quit  1-6 views  / filter  space pause  r refresh";
  const nav = screen.kind === "tab" ? "  enter open" : "  esc back";
  const acts = readOnly ? "" : screen.kind === "tasks" || screen.kind === "detail" ? "  R/D/C/P actions" : screen.kind === "tab" && (screen.tab === "queues" || screen.tab === "overview") ? "  p pause queue" : "";
  return `${base}${nav}${acts}`;
}

export function Footer(props: { modal: Modal | null; message: Message | null; width: number; readOnly: boolean; screen: Screen }) {
  const modal = props.modal;
  return (
    <Box flexDirection="column" height={2}>
      {modal?.kind === "input" ? (
        <InputBar state={modal.input} width={props.width} />
      ) : (
        <Text wrap="truncate">
          <Styled tone={props.message?.tone ?? "muted"} bold={props.message !== null}>{props.message?.text ?? " "}</Styled>
        </Text>
      )}
      <Text wrap="truncate">
        <Styled tone="muted">{keyHints(props.screen, props.readOnly, modal)}</Styled>
      </Text>
    </Box>
  );
}
