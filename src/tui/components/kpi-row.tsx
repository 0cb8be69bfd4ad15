// The overview's headline numbers, each a label over a value, laid out to fit the width.
import { Box, Text } from "ink";
import { fit } from "../format.ts";
import { Styled, type Tone } from "../theme.tsx";

export interface Kpi {
  label: string;
  value: string;
  tone?: Tone | undefined;
}

/** How many KPIs fit per line at `width` (each takes 13 cells) — always at least one. */
export function kpisPerLine(width: number, cell = 13): number {
  return Math.max(1, Math.floor(width / cell));
}

export function KpiRow(props: { kpis: readonly Kpi[]; width: number }) {
  const perLine = kpisPerLine(props.width);
  const cell = Math.floor(props.width / Math.min(perLine, props.kpis.length));
  const lines: Kpi[][] = [];
  for (let i = 0; i < props.kpis.length; i += perLine) lines.push(props.kpis.slice(i, i + perLine));
  return (
    <Box flexDirection="column">
      {lines.map((line, n) => (
        <Box key={n} flexDirection="column">
          <Text wrap="truncate">
            {line.map((k) => (
              <Styled key={k.label} tone="muted">{fit(` ${k.label}`, cell)}</Styled>
            ))}
          </Text>
          <Text wrap="truncate">
            {line.map((k) => (
              <Styled key={k.label} tone={k.tone} bold>{fit(` ${k.value}`, cell)}</Styled>
            ))}
          </Text>
        </Box>
      ))}
    </Box>
  );
}
