import { describe, expect, test } from "bun:test";
import type { ArgsDef } from "citty";
import { normaliseArgv } from "../../src/cli/argv.ts";
import { exitCodeFor } from "../../src/cli/exit.ts";
import { UsageError } from "../../src/errors.ts";

const args: ArgsDef = {
  dsn: { type: "string" },
  concurrency: { type: "string" },
  priority: { type: "string" },
  "dry-run": { type: "boolean" },
  listen: { type: "boolean" },
  format: { type: "enum", options: ["json", "pretty"] },
};
const withPositional: ArgsDef = { task: { type: "positional" }, ...args };

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect(exitCodeFor(error)).toBe(2);
    return (error as Error).message;
  }
  throw new Error("expected a usage error");
}

describe("normaliseArgv", () => {
  test("accepts --flag value, --flag=value and Go-style single dash", () => {
    expect(normaliseArgv("reproq x", args, ["--dsn", "postgres://a", "--concurrency=4", "-priority", "-5"])).toEqual([
      "--dsn=postgres://a",
      "--concurrency=4",
      "--priority=-5",
    ]);
  });

  test("booleans: bare, negated and explicit values", () => {
    expect(normaliseArgv("reproq x", args, ["--dry-run", "--no-listen"])).toEqual(["--dry-run", "--no-listen"]);
    expect(normaliseArgv("reproq x", args, ["--dry-run=false", "--listen=yes"])).toEqual(["--no-dry-run", "--listen"]);
    expect(usageMessage(() => normaliseArgv("reproq x", args, ["--dry-run=maybe"]))).toBe('invalid value "maybe" for flag --dry-run: expected true or false');
  });

  test("a value that looks like a flag is taken as the value of a string flag", () => {
    expect(normaliseArgv("reproq x", args, ["--dsn", "--weird"])).toEqual(["--dsn=--weird"]);
  });

  test("unknown flag, missing value, bad enum and stray arguments are usage errors", () => {
    expect(usageMessage(() => normaliseArgv("reproq x", args, ["--bogus"]))).toBe("unknown flag --bogus for 'reproq x'");
    expect(usageMessage(() => normaliseArgv("reproq x", args, ["--dsn"]))).toBe("flag --dsn needs a value");
    expect(usageMessage(() => normaliseArgv("reproq x", args, ["--format", "xml"]))).toBe('invalid value "xml" for flag --format: expected one of json, pretty');
    expect(usageMessage(() => normaliseArgv("reproq x", args, ["stray"]))).toBe(`unexpected argument "stray" for 'reproq x'`);
    expect(usageMessage(() => normaliseArgv("reproq x", args, ["--no-dsn"]))).toBe("unknown flag --no-dsn for 'reproq x'");
  });

  test("positionals are kept after -- so citty cannot mistake them for flags", () => {
    expect(normaliseArgv("reproq x", withPositional, ["a.b.c", "--dsn", "d"])).toEqual(["--dsn=d", "--", "a.b.c"]);
    expect(normaliseArgv("reproq x", withPositional, ["--", "-looks-like-flag"])).toEqual(["--", "-looks-like-flag"]);
    expect(usageMessage(() => normaliseArgv("reproq x", withPositional, []))).toBe("missing argument TASK for 'reproq x'");
  });
});

test("citty parses the normalised argv into the values the command sees", async () => {
  const { defineCommand, runCommand } = await import("citty");
  let seen: Record<string, unknown> = {};
  const command = defineCommand({ args: withPositional, run: ({ args: parsed }) => void (seen = { ...parsed }) });
  const argv = normaliseArgv("reproq x", withPositional, ["--dsn", "postgres://u:p@h/d?x=1", "--no-listen", "--dry-run", "--priority", "-3", "my.task"]);
  await runCommand(command, { rawArgs: argv });
  expect(seen.dsn).toBe("postgres://u:p@h/d?x=1");
  expect(seen.listen).toBe(false);
  expect(seen["dry-run"]).toBe(true);
  expect(seen.priority).toBe("-3");
  expect(seen.task).toBe("my.task");
  expect(seen.concurrency).toBeUndefined();
});
