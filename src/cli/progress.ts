// A one-line progress display for long operations: redrawn in place on a terminal's stderr,
// nothing at all when stderr is not a terminal (logs and pipes get only the summary line).
import type { Ui } from "./ui.ts";

export interface Progress {
  /** Replaces the line with `text`. */
  note(text: string): void;
  /** A bar with done/total and the rate since start. */
  step(label: string, done: number, total: number): void;
  /** Clears the line (before the summary is printed). */
  done(): void;
}

const BAR_WIDTH = 24;
const count = (n: number) => n.toLocaleString("en-US");

export function progressLine(ui: Ui): Progress {
  if (!ui.stderrIsTty) return { note() {}, step() {}, done() {} };
  const started = performance.now();
  let shown = false;
  const draw = (text: string) => {
    process.stderr.write(`\r\u001B[2K${text}`);
    shown = true;
  };
  return {
    note: draw,
    step(label, done, total) {
      const fraction = total > 0 ? Math.min(1, done / total) : 1;
      const filled = Math.round(fraction * BAR_WIDTH);
      const seconds = (performance.now() - started) / 1000;
      const rate = seconds > 0 ? ` · ${count(Math.round(done / seconds))}/s` : "";
      draw(`${label} ${"█".repeat(filled)}${"░".repeat(BAR_WIDTH - filled)} ${count(done)}/${count(total)} (${Math.floor(fraction * 100)}%)${rate}`);
    },
    done() {
      if (shown) process.stderr.write("\r\u001B[2K");
      shown = false;
    },
  };
}
