// The terminal size, updated live on resize; never smaller than the 40×12 the layout needs.
import { useWindowSize } from "ink";

export interface TerminalSize {
  columns: number;
  rows: number;
}

export function useTerminalSize(): TerminalSize {
  const { columns, rows } = useWindowSize();
  return { columns: Math.max(40, columns || 80), rows: Math.max(12, rows || 24) };
}
