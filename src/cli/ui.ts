// Human-facing output for commands: consola on a terminal, plain lines otherwise (so scripts
// can parse what we print). Structured JSON logs for worker/beat live in observability/.
import { isatty } from "node:tty";
import type { ConsolaInstance } from "consola";

export interface Ui {
  readonly stdoutIsTty: boolean;
  readonly stderrIsTty: boolean;
  /** Write a line to stdout (results, tables, JSON). */
  out(line: string): void;
  /** Human messages on stderr. */
  info(message: string): void;
  success(message: string): void;
  warn(message: string): void;
  error(message: string, details?: readonly string[]): void;
}

/**
 * consola is loaded only for a terminal, and plain output goes through console.log/error rather
 * than process.stdout/stderr: both the library and Node's stream objects cost tens of
 * milliseconds of start-up.
 */
export async function createUi(): Promise<Ui> {
  const stdoutIsTty = isatty(1);
  const stderrIsTty = isatty(2);
  const fancy: ConsolaInstance | null = stderrIsTty
    ? (await import("consola")).createConsola({ stdout: process.stderr, stderr: process.stderr, formatOptions: { date: false } })
    : null;
  const plainErr = (prefix: string, message: string) => console.error(`${prefix}${message}`);
  return {
    stdoutIsTty,
    stderrIsTty,
    out: (line) => console.log(line),
    info: (message) => (fancy ? fancy.info(message) : plainErr("", message)),
    success: (message) => (fancy ? fancy.success(message) : plainErr("", message)),
    warn: (message) => (fancy ? fancy.warn(message) : plainErr("warning: ", message)),
    error: (message, details = []) => {
      if (fancy) fancy.error([message, ...details.map((d) => `  ${d}`)].join("\n"));
      else {
        plainErr("error: ", message);
        for (const detail of details) plainErr("  ", detail);
      }
    },
  };
}

/** The Ui the runner hands every command through citty's `data`. */
export function uiOf(context: { data?: unknown }): Ui {
  const ui = (context.data as { ui?: Ui } | undefined)?.ui;
  if (!ui) throw new Error("command run without a Ui (use runCli)");
  return ui;
}
