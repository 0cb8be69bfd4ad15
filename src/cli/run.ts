// Resolves the command path, answers --help / --version, checks flags strictly, runs the
// command and turns its outcome into an exit code. Commands may return a number (exit code).
import { runCommand } from "citty";
import { UsageError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { normaliseArgv } from "./argv.ts";
import { describeError, EXIT_OK, EXIT_USAGE, exitCodeFor } from "./exit.ts";
import { commandArgs, resolveCommand, resolveValue, type AnyCommand } from "./tree.ts";
import type { Ui } from "./ui.ts";
import { renderUsage } from "./usage.ts";

const HELP_FLAGS = new Set(["-h", "--help", "-help"]);

export function versionLine(): string {
  return `reproq version ${VERSION}`;
}

async function resolvePath(root: AnyCommand, argv: readonly string[]) {
  let command = root;
  const path = ["reproq"];
  let index = 0;
  while (index < argv.length) {
    const token = argv[index] as string;
    const subs = await resolveValue(command.subCommands);
    if (!subs || Object.keys(subs).length === 0 || token.startsWith("-")) break;
    const next = await resolveCommand(command, token);
    if (!next) {
      throw new UsageError(`unknown command "${token}" for '${path.join(" ")}'`, [`Run '${path.join(" ")} --help' to see the commands.`]);
    }
    command = next;
    path.push(token);
    index++;
  }
  return { command, path, rest: argv.slice(index) };
}

/** `help a b` is `a b --help` (any flags after it are ignored). */
function helpAsFlag(argv: readonly string[]): readonly string[] {
  if (argv[0] !== "help") return argv;
  const path = argv.slice(1);
  const end = path.findIndex((token) => token.startsWith("-"));
  return [...(end === -1 ? path : path.slice(0, end)), "--help"];
}

export async function runCli(root: AnyCommand, rawArgv: readonly string[], ui: Ui): Promise<number> {
  const argv = helpAsFlag(rawArgv);
  try {
    if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-version")) {
      ui.out(versionLine());
      return EXIT_OK;
    }
    const { command, path, rest } = await resolvePath(root, argv);
    const beforeDashes = rest.indexOf("--") === -1 ? rest : rest.slice(0, rest.indexOf("--"));
    if (beforeDashes.some((token) => HELP_FLAGS.has(token))) {
      ui.out(await renderUsage(command, path, { color: ui.stdoutIsTty }));
      return EXIT_OK;
    }
    if (!command.run) {
      const usage = await renderUsage(command, path, { color: ui.stderrIsTty });
      const first = rest[0];
      const message = first === undefined ? `missing command for '${path.join(" ")}'` : `unknown flag ${first} for '${path.join(" ")}'`;
      throw new UsageError(message, ["", ...usage.split("\n")]);
    }
    const normalised = normaliseArgv(path.join(" "), await commandArgs(command), rest);
    const { result } = await runCommand(command, { rawArgs: normalised, data: { ui } });
    return typeof result === "number" ? result : EXIT_OK;
  } catch (error) {
    const { headline, details } = describeError(error);
    ui.error(headline, details);
    return exitCodeFor(error);
  }
}

export { EXIT_USAGE };
