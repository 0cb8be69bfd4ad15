// Human-facing output for commands: consola on a terminal, plain lines otherwise (so scripts
// can parse what we print). Structured JSON logs for worker/beat live in observability/.
import { createConsola, type ConsolaInstance } from "consola";

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

export function createUi(streams: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream } = process): Ui {
  const stdoutIsTty = Boolean(streams.stdout.isTTY);
  const stderrIsTty = Boolean(streams.stderr.isTTY);
  const fancy: ConsolaInstance | null = stderrIsTty
    ? createConsola({ stdout: streams.stderr, stderr: streams.stderr, formatOptions: { date: false } })
    : null;
  const plainErr = (prefix: string, message: string) => streams.stderr.write(`${prefix}${message}\n`);
  // A reader that goes away (`reproq … | head`) is not an error: stop writing, exit normally.
  let stdoutClosed = false;
  const out = (line: string) => {
    if (stdoutClosed) return;
    try {
      streams.stdout.write(`${line}\n`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EPIPE") throw error;
      stdoutClosed = true;
    }
  };
  streams.stdout.on?.("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") stdoutClosed = true;
  });
  return {
    stdoutIsTty,
    stderrIsTty,
    out,
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
