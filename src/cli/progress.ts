// A one-line progress bar on stderr for long bulk operations (redrawn in place), and the Ctrl-C
// handling that stops them between batches. Nothing is drawn when stderr is not a terminal, so
// scripts only ever see the summary lines on stdout.
import type { BatchOptions } from "../queue/batches.ts";
import type { Ui } from "./ui.ts";

export interface ProgressBar {
  /** Replaces the line with `text` (e.g. while counting, before the first update). */
  note(text: string): void;
  update(done: number, total: number): void;
  /** Erases the bar; returns the seconds since the bar was created. */
  finish(): number;
}

const count = (n: number) => n.toLocaleString("en-US");

export function progressBar(ui: Ui, label: string): ProgressBar {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  if (!ui.stderrIsTty) return { note() {}, update() {}, finish: seconds };
  let drawn = false;
  return {
    note(text) {
      process.stderr.write(`\r\u001B[2K${text}`);
      drawn = true;
    },
    update(done, total) {
      const ratio = total === 0 ? 1 : Math.min(1, done / total);
      const tail = ` ${count(done)}/${count(total)} ${String(Math.floor(ratio * 100)).padStart(3)}%  ${seconds().toFixed(1)} s`;
      const width = Math.max(10, Math.min(40, (process.stderr.columns ?? 80) - label.length - tail.length - 4));
      const filled = Math.round(ratio * width);
      process.stderr.write(`\r\u001B[2K${label} \u001B[36m${"█".repeat(filled)}\u001B[2m${"░".repeat(width - filled)}\u001B[22m\u001B[39m${tail}`);
      drawn = true;
    },
    finish() {
      if (drawn) process.stderr.write("\r\u001B[2K");
      return seconds();
    },
  };
}

/**
 * An AbortSignal that the first Ctrl-C (SIGINT) aborts while `work` runs (work stops at its next
 * safe point); a second Ctrl-C exits at once (130). The default handler is back afterwards.
 */
export async function stoppableBySigint<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const stop = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on("SIGINT", stop);
  try {
    return await work(controller.signal);
  } finally {
    process.off("SIGINT", stop);
  }
}

/**
 * Runs a bulk operation stoppable by Ctrl-C. With `bar` (a bulk run, not a dry run) a terminal
 * also gets the progress bar and, at the end, a ✔ line: `closing(outcome)` and the elapsed time.
 */
export async function runWithProgress<T>(
  ui: Ui,
  bar: { label: string; closing: (outcome: T) => string } | null,
  work: (control: Pick<BatchOptions, "signal" | "onProgress">) => Promise<T>,
): Promise<T> {
  const drawn = progressBar(ui, bar?.label ?? "");
  const outcome = await stoppableBySigint((signal) => work(bar === null ? { signal } : { signal, onProgress: (p) => drawn.update(p.done, p.total) }));
  const seconds = drawn.finish();
  if (bar !== null && ui.stderrIsTty) ui.success(`${bar.closing(outcome)} in ${seconds.toFixed(1)} s`);
  return outcome;
}
