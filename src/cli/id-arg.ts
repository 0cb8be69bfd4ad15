// The task id of the one-task commands (triage inspect/retry/discard, cancel): given as an
// argument (`reproq triage inspect 6`) or with --id (the Go worker's flag); both are accepted.
import { UsageError } from "../errors.ts";
import { positiveInt } from "./context.ts";

export function idArgs(description: string) {
  return {
    ID: { type: "positional", required: false, valueHint: "id", description: `${description} (or --id)` },
    id: { type: "string", valueHint: "id", description },
  } as const;
}

/** The id from the argument or --id (a positive integer, exit 2 otherwise); undefined when neither. */
export function resultIdFrom(args: Record<string, unknown>): string | undefined {
  const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);
  // citty's args.ID falls back to args.id when no argument was given: read the argument list.
  const positional = text(Array.isArray(args._) ? args._[0] : undefined);
  const flag = text(args.id);
  let positionalId: string | undefined;
  try {
    positionalId = positional === undefined ? undefined : positiveInt("id", positional);
  } catch {
    throw new UsageError(`the task id must be a positive integer, got "${positional}"`);
  }
  const flagId = flag === undefined ? undefined : positiveInt("id", flag);
  if (positionalId !== undefined && flagId !== undefined && positionalId !== flagId) {
    throw new UsageError(`two different ids: ${positional} and --id ${flag}; give one`);
  }
  return positionalId ?? flagId;
}
