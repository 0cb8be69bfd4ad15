// Finding and parsing the config file: --config, then REPROQ_CONFIG, then the first regular
// file among the well-known names in the working directory (never parents or home).

import { stat } from "node:fs/promises";
import { extname, resolve } from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import { ConfigError, errorMessage } from "../errors.ts";
import type { EnvValues, FlagValues } from "./resolve.ts";

export const CONFIG_FILE_NAMES = [
  "reproq.yaml",
  "reproq.yml",
  "reproq.toml",
  ".reproq.yaml",
  ".reproq.yml",
  ".reproq.toml",
] as const;

export interface ConfigFileRef {
  /** As given (explicit) or the bare file name (discovered); used in messages and sources. */
  readonly path: string;
  readonly absolutePath: string;
}

async function isRegularFile(path: string): Promise<boolean | null> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return null; // does not exist (or cannot be inspected)
  }
}

/** The config file to load, or null when there is none. Throws ConfigError for a bad explicit path. */
export async function findConfigFile(flags: FlagValues, env: EnvValues, cwd: string): Promise<ConfigFileRef | null> {
  const flagValue = flags["config"];
  let explicit: { path: string; origin: string } | null = null;
  if (flagValue !== undefined) {
    if (typeof flagValue !== "string" || flagValue === "") throw new ConfigError(["missing value for --config"]);
    explicit = { path: flagValue, origin: "--config" };
  } else if (env["REPROQ_CONFIG"]) {
    explicit = { path: env["REPROQ_CONFIG"], origin: "REPROQ_CONFIG" };
  }

  if (explicit) {
    const absolutePath = resolve(cwd, explicit.path);
    const regular = await isRegularFile(absolutePath);
    if (regular === null) throw new ConfigError([`config file ${explicit.path} not found (from ${explicit.origin})`]);
    if (!regular) throw new ConfigError([`config file ${explicit.path} is not a regular file (from ${explicit.origin})`]);
    return { path: explicit.path, absolutePath };
  }
  for (const name of CONFIG_FILE_NAMES) {
    const absolutePath = resolve(cwd, name);
    if (await isRegularFile(absolutePath)) return { path: name, absolutePath };
  }
  return null;
}

function parsesAsYaml(text: string): boolean {
  try {
    Bun.YAML.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Larger documents are not searched for the error position (each probe parses a prefix). */
const YAML_POSITION_MAX_CHARS = 256 * 1024;

/**
 * Where a YAML document stops parsing, 1-based (Bun.YAML's errors carry no position): the line
 * after the longest run of leading lines that still parses, and on it the first character whose
 * addition breaks the parse. An unclosed bracket or quote points at where it opened.
 */
export function yamlErrorPosition(text: string): { line: number; column: number } | null {
  if (text.length > YAML_POSITION_MAX_CHARS) return null;
  const lines = text.split("\n");
  let good = lines.length;
  while (good > 0 && !parsesAsYaml(lines.slice(0, good).join("\n"))) good--;
  if (good === lines.length) return null; // the whole text parses: nothing to point at
  const head = good > 0 ? `${lines.slice(0, good).join("\n")}\n` : "";
  const line = lines[good] ?? "";
  let column = line.length;
  while (column > 0 && !parsesAsYaml(head + line.slice(0, column))) column--;
  return { line: good + 1, column: column + 1 };
}

/** Parses YAML or TOML text by extension; the result is whatever the document holds. */
export function parseConfigText(text: string, path: string): unknown {
  const extension = extname(path);
  switch (extension.toLowerCase()) {
    case ".yaml":
    case ".yml":
      try {
        return Bun.YAML.parse(text);
      } catch (error) {
        const at = yamlErrorPosition(text);
        const where = at ? ` (line ${at.line}, column ${at.column})` : "";
        throw new ConfigError([`cannot parse ${path}: ${errorMessage(error).split("\n")[0]}${where}`]);
      }
    case ".toml":
      try {
        return parseToml(text);
      } catch (error) {
        const firstLine = errorMessage(error).split("\n")[0];
        const where = error instanceof TomlError ? ` (line ${error.line}, column ${error.column})` : "";
        throw new ConfigError([`cannot parse ${path}: ${firstLine}${where}`]);
      }
    default:
      throw new ConfigError([
        `unsupported config file extension ${JSON.stringify(extension)} for ${path} (use .yaml, .yml or .toml)`,
      ]);
  }
}

export async function readConfigFile(ref: ConfigFileRef): Promise<unknown> {
  let text: string;
  try {
    text = await Bun.file(ref.absolutePath).text();
  } catch (error) {
    throw new ConfigError([`cannot read config file ${ref.path}: ${errorMessage(error)}`]);
  }
  return parseConfigText(text, ref.path);
}
