// Column widths fitted to the terminal: every column gets its minimum, columns that do not fit
// are dropped lowest priority first, and the spare width goes to the flexible columns.
import type { Cut } from "../format.ts";

export interface ColumnSpec {
  key: string;
  title: string;
  /** Smallest useful width in cells (the title is cut to it if longer). */
  min: number;
  /** Widest the column grows to; default: min for fixed columns, unbounded for flex ones. */
  max?: number;
  /** Share of the spare width (0 = fixed). */
  flex?: number;
  align?: "left" | "right";
  /** Dropped first when the terminal is too narrow (higher = kept longer; default 5). */
  priority?: number;
  /** Where a long value is cut: "end" (default) or "middle" for dotted names (keeps the last segment). */
  cut?: Cut;
}

export interface FittedColumn extends ColumnSpec {
  width: number;
}

export const COLUMN_GAP = 2;

function totalWidth(columns: readonly { width: number }[]): number {
  return columns.reduce((sum, c) => sum + c.width, 0) + COLUMN_GAP * Math.max(0, columns.length - 1);
}

/** Widths for `available` cells; the result never exceeds it (the first column shrinks last). */
export function fitColumns(specs: readonly ColumnSpec[], available: number): FittedColumn[] {
  let columns: FittedColumn[] = specs.map((spec) => ({ ...spec, width: spec.min }));
  while (columns.length > 1 && totalWidth(columns) > available) {
    const victim = columns.reduce((lowest, c, i) => ((c.priority ?? 5) < (columns[lowest]!.priority ?? 5) ? i : lowest), columns.length - 1);
    columns = columns.filter((_, i) => i !== victim);
  }
  if (totalWidth(columns) > available) columns[0]!.width = Math.max(1, available);
  distribute(columns, available - totalWidth(columns));
  return columns;
}

function distribute(columns: FittedColumn[], spare: number): void {
  let left = spare;
  for (let round = 0; round < 4 && left > 0; round++) {
    const growable = columns.filter((c) => (c.flex ?? 0) > 0 && c.width < (c.max ?? Number.POSITIVE_INFINITY));
    const weight = growable.reduce((sum, c) => sum + (c.flex ?? 0), 0);
    if (weight === 0) return;
    let given = 0;
    for (const column of growable) {
      const share = Math.floor((left * (column.flex ?? 0)) / weight);
      const room = (column.max ?? Number.POSITIVE_INFINITY) - column.width;
      const add = Math.min(share, room);
      column.width += add;
      given += add;
    }
    if (given === 0) {
      const first = growable[0]!;
      first.width += 1;
      given = 1;
    }
    left -= given;
  }
}
