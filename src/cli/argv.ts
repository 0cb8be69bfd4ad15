// Strict flag checking in front of citty (whose parser accepts anything). Unknown flags, missing
// values and stray arguments are usage errors (exit 2). The output is a normalised argv
// (`--name=value`, `--name`, `--no-name`, positionals) that citty parses unambiguously.
// Single-dash long flags (`-dsn x`) are accepted because the Go worker's flag package took them.
import type { ArgDef, ArgsDef } from "citty";
import { UsageError } from "../errors.ts";

const TRUE_WORDS = new Set(["1", "t", "true", "yes", "on"]);
const FALSE_WORDS = new Set(["0", "f", "false", "no", "off"]);

interface Lookup {
  name: string;
  def: ArgDef;
  negated: boolean;
}

function aliasesOf(def: ArgDef): string[] {
  if (!("alias" in def) || def.alias === undefined) return [];
  return Array.isArray(def.alias) ? def.alias : [def.alias];
}

function lookupFlag(args: ArgsDef, raw: string): Lookup | undefined {
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    if (name === raw || aliasesOf(def).includes(raw)) return { name, def, negated: false };
  }
  if (raw.startsWith("no-")) {
    const found = lookupFlag(args, raw.slice(3));
    if (found && found.def.type === "boolean") return { ...found, negated: true };
  }
  return undefined;
}

function isFlagToken(token: string): boolean {
  // "-5" is a value (e.g. a negative priority), not a flag.
  return token.startsWith("-") && token !== "-" && !/^-\d/.test(token);
}

export function normaliseArgv(commandPath: string, args: ArgsDef, argv: readonly string[]): string[] {
  const out: string[] = [];
  const positionals: string[] = [];
  const helpHint = [`Run '${commandPath} --help' to see its flags.`];
  for (let index = 0; index < argv.length; index++) {
    const token = argv[index] as string;
    if (token === "--") {
      positionals.push(...argv.slice(index + 1));
      break;
    }
    if (!isFlagToken(token)) {
      positionals.push(token);
      continue;
    }
    const body = token.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const rawName = eq === -1 ? body : body.slice(0, eq);
    const inline = eq === -1 ? undefined : body.slice(eq + 1);
    const found = lookupFlag(args, rawName);
    if (!found) throw new UsageError(`unknown flag ${token.split("=")[0]} for '${commandPath}'`, helpHint);
    if (found.def.type === "boolean") {
      let value = !found.negated;
      if (inline !== undefined) {
        const word = inline.toLowerCase();
        if (found.negated || (!TRUE_WORDS.has(word) && !FALSE_WORDS.has(word))) {
          throw new UsageError(`invalid value "${inline}" for flag --${rawName}: expected true or false`, helpHint);
        }
        value = TRUE_WORDS.has(word);
      }
      out.push(value ? `--${found.name}` : `--no-${found.name}`);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[index + 1];
      if (next === undefined) throw new UsageError(`flag --${found.name} needs a value`, helpHint);
      value = next;
      index++;
    }
    if (found.def.type === "enum" && found.def.options && !found.def.options.includes(value)) {
      throw new UsageError(`invalid value "${value}" for flag --${found.name}: expected one of ${found.def.options.join(", ")}`, helpHint);
    }
    out.push(`--${found.name}=${value}`);
  }

  const positionalDefs = Object.entries(args).filter(([, def]) => def.type === "positional");
  if (positionals.length > positionalDefs.length) {
    const extra = positionals[positionalDefs.length] as string;
    throw new UsageError(`unexpected argument "${extra}" for '${commandPath}'`, helpHint);
  }
  positionalDefs.forEach(([name, def], position) => {
    if (positionals[position] === undefined && def.required !== false) {
      throw new UsageError(`missing argument ${name.toUpperCase()} for '${commandPath}'`, helpHint);
    }
  });
  for (const [name, def] of Object.entries(args)) {
    if (def.type !== "positional" && def.required === true && !out.some((t) => t.startsWith(`--${name}=`))) {
      throw new UsageError(`flag --${name} is required for '${commandPath}'`, helpHint);
    }
  }
  // Positionals go after "--" so values that look like flags stay positionals.
  return positionals.length > 0 ? [...out, "--", ...positionals] : out;
}
