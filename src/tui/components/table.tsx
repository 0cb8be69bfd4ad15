// A table whose columns fit the given width: one line per row, never wrapped, cells cut with "…".
// The selected row is marked with "›" (and reversed when colour is on).
import { Box, Text } from "ink";
import { fit } from "../format.ts";
import { Styled, type Tone } from "../theme.tsx";
import { COLUMN_GAP, fitColumns, type ColumnSpec, type FittedColumn } from "./columns.ts";

export interface Cell {
  text: string;
  tone?: Tone | undefined;
}

export type Row = Record<string, string | Cell>;

export interface TableProps {
  columns: readonly ColumnSpec[];
  rows: readonly Row[];
  width: number;
  /** Index into `rows` of the highlighted row; -1 or undefined for none. */
  selected?: number | undefined;
  empty?: string;
}

const MARK_WIDTH = 2;

function cellOf(value: string | Cell | undefined): Cell {
  if (value === undefined) return { text: "–" };
  return typeof value === "string" ? { text: value } : value;
}

function Line(props: { columns: FittedColumn[]; row: Row; selected: boolean; header?: boolean }) {
  const gap = " ".repeat(COLUMN_GAP);
  const parts = props.columns.map((column, i) => {
    const cell = cellOf(props.row[column.key]);
    const content = fit(cell.text, column.width, column.align ?? "left", props.header ? "end" : column.cut);
    return (
      <Styled key={column.key} tone={props.header ? "muted" : props.selected ? undefined : cell.tone} bold={props.header ?? false}>
        {i === 0 ? content : gap + content}
      </Styled>
    );
  });
  return (
    <Text wrap="truncate">
      <Styled tone="accent" bold>{props.selected ? "› " : "  "}</Styled>
      {props.selected ? <Styled inverse>{parts}</Styled> : parts}
    </Text>
  );
}

export function Table(props: TableProps) {
  const columns = fitColumns(props.columns, Math.max(1, props.width - MARK_WIDTH));
  const header: Row = Object.fromEntries(columns.map((c) => [c.key, c.title]));
  return (
    <Box flexDirection="column">
      <Line columns={columns} row={header} selected={false} header />
      {props.rows.length === 0 ? (
        <Text wrap="truncate">
          <Styled tone="muted">{`  ${props.empty ?? "nothing to show"}`}</Styled>
        </Text>
      ) : (
        props.rows.map((row, i) => <Line key={i} columns={columns} row={row} selected={i === props.selected} />)
      )}
    </Box>
  );
}
