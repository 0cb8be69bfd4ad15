// A one-line text input in the footer: the `/` filter and the reason prompt of pause/discard.
import { Text } from "ink";
import { truncate } from "../format.ts";
import { Styled } from "../theme.tsx";

export interface InputState {
  purpose: "filter" | "reason";
  label: string;
  value: string;
}

/** Applies one key press to the text; returns null for keys the input does not consume. */
export function editInput(value: string, name: string, typed: string): string | null {
  if (name === "backspace") return Array.from(value).slice(0, -1).join("");
  if (name === "ctrl+u") return "";
  if (typed.length > 0 && !/[\u0000-\u001f\u007f]/.test(typed)) return value + typed;
  return null;
}

export function InputBar(props: { state: InputState; width: number }) {
  const prefix = `${props.state.label} `;
  const room = Math.max(1, props.width - prefix.length - 1);
  const chars = Array.from(props.state.value);
  const shown = chars.length > room - 1 ? "…" + chars.slice(chars.length - room + 2).join("") : props.state.value;
  return (
    <Text wrap="truncate">
      <Styled tone="accent" bold>{prefix}</Styled>
      <Text>{truncate(shown, room)}</Text>
      <Styled inverse> </Styled>
    </Text>
  );
}
