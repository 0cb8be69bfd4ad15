// The one place where errors become exit codes and stderr lines (SPEC §2):
// 0 success, 1 runtime error, 2 usage error (bad flag, bad setting, bad argument); `reproq worker`
// also exits 3 when it stopped with task results it could not write (they are in the result journal).
import { ReproqError } from "../errors.ts";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_RESULTS_UNWRITTEN = 3;

export function exitCodeFor(error: unknown): number {
  if (error instanceof ReproqError) return error.code === "usage" || error.code === "config" ? EXIT_USAGE : EXIT_FAILURE;
  // citty's own argument errors (e.g. a required positional) are usage errors too.
  if (error instanceof Error && error.name === "CLIError") return EXIT_USAGE;
  return EXIT_FAILURE;
}

/** Lines to print on stderr: one clear line, then details; a stack only for unexpected errors. */
export function describeError(error: unknown): { headline: string; details: string[] } {
  if (error instanceof ReproqError) return { headline: error.message, details: [...error.details] };
  if (error instanceof Error && error.name === "CLIError") return { headline: error.message, details: [] };
  if (error instanceof Error) {
    const stack = (error.stack ?? "").split("\n").slice(1).map((line) => line.trim());
    return { headline: `unexpected error: ${error.message}`, details: ["this is a bug in reproq; please report it with the lines below", ...stack] };
  }
  return { headline: `unexpected error: ${String(error)}`, details: [] };
}
