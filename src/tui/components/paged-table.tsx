// A titled table that shows one page of rows sized to the height it is given, with the
// "rows 1–20 of 1,234" pager under it. Lists with all rows in memory pass `rows` whole; the task
// list passes one server page plus its offset and total.
import { Box, Text } from "ink";
import { pageOffset } from "../navigation.ts";
import { Styled } from "../theme.tsx";
import type { ColumnSpec } from "./columns.ts";
import { Pager } from "./pager.tsx";
import { Table, type Row } from "./table.tsx";

/** Title, table header and pager take three lines; the rest of the height is rows. */
export const LIST_CHROME_LINES = 3;

export function listPageSize(height: number): number {
  return Math.max(1, height - LIST_CHROME_LINES);
}

export interface PagedTableProps {
  title: string;
  columns: readonly ColumnSpec[];
  rows: readonly Row[];
  width: number;
  height: number;
  selected: number;
  /** Server paging: the rows are already one page starting at `offset` of `total`. */
  server?: { offset: number; total: number; estimate: boolean };
  empty?: string;
  hint?: string;
}

export function PagedTable(props: PagedTableProps) {
  const pageSize = listPageSize(props.height);
  const offset = props.server ? props.server.offset : pageOffset(props.selected, pageSize);
  const visible = props.server ? props.rows.slice(0, pageSize) : props.rows.slice(offset, offset + pageSize);
  const total = props.server ? props.server.total : props.rows.length;
  const selected = visible.length === 0 ? -1 : Math.min(props.selected - offset, visible.length - 1);
  return (
    <Box flexDirection="column" height={props.height}>
      <Text wrap="truncate">
        <Styled bold tone="title">{props.title}</Styled>
      </Text>
      <Table columns={props.columns} rows={visible} width={props.width} selected={selected} empty={props.empty ?? "nothing to show"} />
      <Pager offset={offset} shown={visible.length} total={Math.max(total, offset + visible.length)} estimate={props.server?.estimate ?? false} hint={props.hint ?? ""} />
    </Box>
  );
}
