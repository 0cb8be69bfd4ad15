// Tables for list commands: tab-separated when stdout is not a terminal (stable for scripts;
// tabs and newlines inside cells are escaped so a row stays one line), aligned columns on a
// terminal. "–" stands for a missing value.
import type { Ui } from "./ui.ts";

export type Cell = string | number | boolean | null | undefined | Date;

function text(cell: Cell): string {
  if (cell === null || cell === undefined || cell === "") return "–";
  if (cell instanceof Date) return cell.toISOString();
  return String(cell);
}

/** Escapes characters that would break a tab-separated line. */
export function tsvCell(cell: Cell): string {
  return text(cell).replaceAll("\\", "\\\\").replaceAll("\t", "\\t").replaceAll("\n", "\\n").replaceAll("\r", "\\r");
}

export function printTable(ui: Ui, header: readonly string[], rows: readonly (readonly Cell[])[]): void {
  if (!ui.stdoutIsTty) {
    ui.out(header.join("\t"));
    for (const row of rows) ui.out(row.map(tsvCell).join("\t"));
    return;
  }
  const cells = rows.map((row) => row.map((cell) => text(cell).replaceAll("\n", " ")));
  const widths = header.map((title, column) => Math.min(60, Math.max(title.length, ...cells.map((row) => (row[column] ?? "").length))));
  const line = (values: readonly string[]) =>
    values.map((value, column) => (value.length > (widths[column] ?? 0) ? `${value.slice(0, (widths[column] ?? 1) - 1)}…` : value.padEnd(widths[column] ?? 0))).join("  ").trimEnd();
  ui.out(`\u001B[1m${line(header)}\u001B[22m`);
  for (const row of cells) ui.out(line(row));
}
