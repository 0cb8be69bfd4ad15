// The typed errors every layer throws. Each has a stable `code` and a message a person can act
// on; the CLI maps them to exit codes in one place (src/cli/exit.ts) and never prints a stack
// trace for them.

export type ReproqErrorCode =
  | "usage" // unknown flag, missing value, bad positional argument
  | "config" // invalid setting value, unreadable or unparsable config file
  | "dsn" // the connection string does not parse
  | "db_unavailable" // cannot connect / database went away
  | "migration" // a migration statement failed
  | "not_found" // a row the command needs does not exist
  | "conflict" // the operation would violate a uniqueness rule
  | "ambiguous" // the input names several rows where one is needed
  | "check_failed"; // doctor or another verification found a problem

export class ReproqError extends Error {
  readonly code: ReproqErrorCode;
  /** Extra lines printed after the message (one clear line first, details after). */
  readonly details: readonly string[];

  constructor(code: ReproqErrorCode, message: string, options?: { cause?: unknown; details?: readonly string[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ReproqError";
    this.code = code;
    this.details = options?.details ?? [];
  }
}

export class UsageError extends ReproqError {
  constructor(message: string, details?: readonly string[]) {
    super("usage", message, details ? { details } : undefined);
    this.name = "UsageError";
  }
}

/** One or more invalid settings; `problems` holds one line per bad setting. */
export class ConfigError extends ReproqError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    const first = problems[0] ?? "invalid configuration";
    super("config", first, { details: problems.slice(1) });
    this.name = "ConfigError";
    this.problems = problems;
  }
}

export class DsnError extends ReproqError {
  constructor(message: string) {
    super("dsn", message);
    this.name = "DsnError";
  }
}

export class DatabaseUnavailableError extends ReproqError {
  constructor(message: string, cause?: unknown) {
    super("db_unavailable", message, { cause });
    this.name = "DatabaseUnavailableError";
  }
}

export class MigrationError extends ReproqError {
  constructor(message: string, cause?: unknown, details?: readonly string[]) {
    super("migration", message, { cause, ...(details ? { details } : {}) });
    this.name = "MigrationError";
  }
}

export class CheckFailedError extends ReproqError {
  constructor(message: string) {
    super("check_failed", message);
    this.name = "CheckFailedError";
  }
}

/** Text of any thrown value, without a stack trace. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
