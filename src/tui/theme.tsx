// Colour on or off for the whole app (off with --no-color, NO_COLOR or TERM=dumb). Views use
// <Styled> so a colourless terminal gets the same text with no escape codes at all.
import { Text } from "ink";
import { createContext, useContext, type ReactNode } from "react";

export type Tone = "ok" | "warn" | "bad" | "muted" | "accent" | "title";

const TONE_COLOURS: Record<Tone, string> = {
  ok: "green",
  warn: "yellow",
  bad: "red",
  muted: "gray",
  accent: "cyan",
  title: "white",
};

export const ColourContext = createContext<boolean>(true);

export function useColour(): boolean {
  return useContext(ColourContext);
}

/** Whether colour is wanted for this environment and flag set. */
export function colourEnabled(env: Record<string, string | undefined>, noColorFlag: boolean): boolean {
  if (noColorFlag) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if ((env.TERM ?? "") === "dumb") return false;
  return true;
}

export function Styled(props: { tone?: Tone | undefined; bold?: boolean; inverse?: boolean; children: ReactNode }) {
  const colour = useColour();
  if (!colour) return <Text>{props.children}</Text>;
  return (
    <Text color={props.tone ? TONE_COLOURS[props.tone] : undefined} bold={props.bold ?? false} inverse={props.inverse ?? false}>
      {props.children}
    </Text>
  );
}
