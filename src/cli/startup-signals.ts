// SIGTERM/SIGINT while a long-running command (worker, beat) is still starting: config, the
// pooler probe, connecting. Without a handler Bun takes the default action and the process dies
// with 143 ("killed"), which a supervisor or `docker stop` reports as a failure, though nothing was
// held yet. Installed first thing; until the command hands the signals to its own handler, a stop
// request exits at once with 0: no task is claimed and no registry row written before then.
import type { Logger } from "../observability/logger.ts";
import { EXIT_OK } from "./exit.ts";

const SIGNALS = ["SIGTERM", "SIGINT"] as const;

export interface StartupSignals {
  /** From now on the command's own handler takes SIGTERM/SIGINT. */
  handOff(handler: () => void): void;
  /** Removes whichever handler is installed (the command is done). */
  release(): void;
}

/** `logger` is read when a signal arrives (the logger is created after the guard). */
export function guardStartup(logger: () => Pick<Logger, "info"> | null): StartupSignals {
  let current: () => void = () => {
    logger()?.info("Shutdown requested while starting; exiting (nothing claimed yet)");
    // The short delay lets the line reach a slow reader, as at a normal exit.
    process.exitCode = EXIT_OK;
    setTimeout(() => process.exit(EXIT_OK), 50);
  };
  const listener = () => current();
  for (const signal of SIGNALS) process.on(signal, listener);
  return {
    handOff(handler) {
      current = handler;
    },
    release() {
      for (const signal of SIGNALS) process.off(signal, listener);
    },
  };
}
