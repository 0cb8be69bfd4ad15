// Help text for every command, rendered from the citty definitions. The same renderer produces
// docs/cli.md (plain mode), so the reference cannot drift from the binary.
import type { ArgDef, CommandDef, CommandMeta } from "citty";
import { commandArgs, resolveCommand, resolveValue, type AnyCommand } from "./tree.ts";

interface Style {
  bold(text: string): string;
  dim(text: string): string;
  cyan(text: string): string;
}

const plain: Style = { bold: (t) => t, dim: (t) => t, cyan: (t) => t };
const ansi: Style = {
  bold: (t) => `\u001B[1m${t}\u001B[22m`,
  dim: (t) => `\u001B[2m${t}\u001B[22m`,
  cyan: (t) => `\u001B[36m${t}\u001B[39m`,
};

export function flagLabel(name: string, def: ArgDef): string {
  const alias = "alias" in def ? def.alias : undefined;
  const aliases: string[] = alias === undefined ? [] : Array.isArray(alias) ? alias : [alias];
  const names = [...aliases.map((a) => (a.length === 1 ? `-${a}` : `--${a}`)), `--${name}`].join(", ");
  if (def.type === "boolean") return names;
  if (def.type === "enum" && def.options?.length) return `${names} <${def.options.join("|")}>`;
  return `${names} <${def.valueHint ?? name}>`;
}

function columns(rows: [string, string][], style: Style, indent = "  "): string[] {
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `${indent}${style.cyan(left.padEnd(width))}  ${right}`.trimEnd());
}

/** Renders the help of the command at `path` (e.g. ["reproq", "triage", "list"]). */
export async function renderUsage(command: AnyCommand, path: readonly string[], options: { color: boolean }): Promise<string> {
  const style = options.color ? ansi : plain;
  const meta: CommandMeta = (await resolveValue(command.meta)) ?? {};
  const args = await commandArgs(command);
  const subCommands = (await resolveValue(command.subCommands)) ?? {};
  const name = path.join(" ");
  const lines: string[] = [];
  lines.push(meta.description ? `${style.bold(name)} — ${meta.description}` : style.bold(name), "");

  const positionals = Object.entries(args).filter(([, def]) => def.type === "positional");
  const flags = Object.entries(args).filter(([, def]) => def.type !== "positional");
  const visibleSubs: [string, string][] = [];
  for (const [subName, sub] of Object.entries(subCommands)) {
    const resolved = await resolveValue(sub as AnyCommand);
    const subMeta: CommandMeta = (await resolveValue(resolved?.meta)) ?? {};
    if (!subMeta.hidden) visibleSubs.push([subName, subMeta.description ?? ""]);
  }

  const usageParts = [name];
  if (visibleSubs.length > 0) usageParts.push("<command>");
  for (const [argName, def] of positionals) usageParts.push(def.required === false ? `[${argName.toUpperCase()}]` : `<${argName.toUpperCase()}>`);
  usageParts.push("[flags]");
  lines.push(`${style.bold("Usage:")} ${usageParts.join(" ")}`, "");

  if (visibleSubs.length > 0) {
    lines.push(style.bold("Commands:"), ...columns(visibleSubs, style), "");
  }
  if (positionals.length > 0) {
    const rows = positionals.map(([argName, def]): [string, string] => [argName.toUpperCase(), def.description ?? ""]);
    lines.push(style.bold("Arguments:"), ...columns(rows, style), "");
  }
  const flagRows = flags.map(([flagName, def]): [string, string] => [flagLabel(flagName, def), def.description ?? ""]);
  flagRows.push(["-h, --help", "Show this help"]);
  if (path.length === 1) flagRows.push(["--version", "Print the version and exit"]);
  lines.push(style.bold("Flags:"), ...columns(flagRows, style), "");
  if (visibleSubs.length > 0) lines.push(style.dim(`Run '${name} <command> --help' for the flags of a command.`), "");
  return lines.join("\n");
}

/** Every visible command path below `root`, depth first, for docs/cli.md. */
export async function listCommands(root: AnyCommand, rootName: string): Promise<{ path: string[]; command: AnyCommand }[]> {
  const out: { path: string[]; command: AnyCommand }[] = [];
  async function walk(command: AnyCommand, path: string[]): Promise<void> {
    out.push({ path, command });
    const subs = (await resolveValue(command.subCommands)) ?? {};
    for (const subName of Object.keys(subs)) {
      const resolved = await resolveCommand(command, subName);
      if (!resolved) continue;
      const meta: CommandMeta = (await resolveValue(resolved.meta)) ?? {};
      if (!meta.hidden) await walk(resolved, [...path, subName]);
    }
  }
  await walk(root, [rootName]);
  return out;
}

export type { CommandDef };

/** The whole command reference as Markdown (docs/cli.md), from the same definitions as --help. */
export async function renderCliReference(root: AnyCommand): Promise<string> {
  const sections = [
    "# Command reference",
    "",
    "Generated from the command definitions by `bun run docs`; a test fails when this file is stale.",
    "Every command prints this help with `--help`. Exit codes: 0 success, 1 runtime error, 2 usage error",
    "(unknown flag, missing value, invalid setting). `--flag value` and `--flag=value` both work.",
    "",
  ];
  for (const { path, command } of await listCommands(root, "reproq")) {
    sections.push(`## \`${path.join(" ")}\``, "", "```", (await renderUsage(command, path, { color: false })).trimEnd(), "```", "");
  }
  return sections.join("\n");
}
