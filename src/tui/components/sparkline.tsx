// A one-row chart of recent values from the eight block glyphs; zero is the lowest block.
import { Text } from "ink";
import { Styled } from "../theme.tsx";

const BLOCKS = "▁▂▃▄▅▆▇█";

/** `values` scaled from 0 to their max into `width` cells (newest on the right). */
export function sparkline(values: readonly number[], width = values.length): string {
  const clean = values.map((v) => (Number.isFinite(v) && v > 0 ? v : 0)).slice(-Math.max(0, width));
  if (clean.length === 0 || width <= 0) return "";
  const max = Math.max(...clean);
  const glyphs = clean.map((v) => (max === 0 ? BLOCKS[0] : BLOCKS[Math.min(7, Math.round((v / max) * 7))]));
  return glyphs.join("").padStart(width, BLOCKS[0]);
}

export function Sparkline(props: { values: readonly number[]; width?: number }) {
  return (
    <Text>
      <Styled tone="accent">{sparkline(props.values, props.width)}</Styled>
    </Text>
  );
}
