// Picks each setting's value by precedence (defaults < file < env < flags), parses it and
// collects every problem, so one run reports all bad settings at once.

import { coerce, showValue, type RawOrigin, type SettingValue } from "./kinds.ts";
import { defaultOf, SETTINGS, type Setting } from "./settings.ts";
import type { ConfigScope } from "./types.ts";

export type FlagValues = Readonly<Record<string, string | boolean | undefined>>;
export type EnvValues = Readonly<Record<string, string | undefined>>;

/** Where a value came from, in the forms messages and `Config.sources` need. */
export interface Candidate {
  readonly raw: unknown;
  /** The name the value was given under (a file key such as worker.dsn, else the setting key). */
  readonly name: string;
  /** "default" | "file <path>" | "env NAME" | "flag --name" */
  readonly source: string;
  /** "(default)" | "(from <path>)" | "(from NAME)" | "(from --name)" */
  readonly phrase: string;
}

export interface Problem {
  /** Setting key or file section the problem belongs to (for scope filtering). */
  readonly key: string;
  readonly message: string;
}

export interface Resolved {
  readonly values: ReadonlyMap<string, SettingValue>;
  readonly candidates: ReadonlyMap<string, Candidate>;
  readonly sources: Record<string, string>;
  readonly problems: Problem[];
}

export interface ResolveInput {
  readonly scope: ConfigScope;
  readonly fileValues: ReadonlyMap<string, unknown>;
  readonly filePath: string | null;
  readonly env: EnvValues;
  readonly flags: FlagValues;
}

/** File keys for a setting in a scope, lowest priority first (dsn, then worker.dsn). */
export function fileKeysFor(setting: Setting, scope: ConfigScope): string[] {
  const aliasScope = scope === "all" ? "worker" : scope; // doctor checks what the worker would use
  return [setting.key, ...(setting.aliases ?? []).filter((a) => a.scope === aliasScope).map((a) => a.key)];
}

/** Empty strings and nulls in a file mean "not set", as in the Go worker. */
const isPresent = (value: unknown): boolean => value !== undefined && value !== null && value !== "";

function pickCandidate(setting: Setting, input: ResolveInput): Candidate & { origin: RawOrigin } {
  const flagValue = input.flags[setting.flag];
  if (flagValue !== undefined) {
    const phrase = `(from --${setting.flag})`;
    return { raw: flagValue, name: setting.key, source: `flag --${setting.flag}`, phrase, origin: "text" };
  }
  for (const name of setting.env) {
    const envValue = input.env[name];
    if (envValue !== undefined && envValue !== "") {
      return { raw: envValue, name: setting.key, source: `env ${name}`, phrase: `(from ${name})`, origin: "text" };
    }
  }
  if (input.filePath !== null) {
    const present = fileKeysFor(setting, input.scope).filter((key) => isPresent(input.fileValues.get(key)));
    const key = present.at(-1);
    if (key !== undefined) {
      const path = input.filePath;
      return { raw: input.fileValues.get(key), name: key, source: `file ${path}`, phrase: `(from ${path})`, origin: "file" };
    }
  }
  return { raw: defaultOf(setting), name: setting.key, source: "default", phrase: "(default)", origin: "file" };
}

export function resolveSettings(input: ResolveInput): Resolved {
  const values = new Map<string, SettingValue>();
  const candidates = new Map<string, Candidate>();
  const sources: Record<string, string> = {};
  const problems: Problem[] = [];

  for (const setting of SETTINGS) {
    const candidate = pickCandidate(setting, input);
    const result = coerce(setting, candidate.raw, candidate.origin);
    if (result.ok) {
      values.set(setting.key, result.value);
      candidates.set(setting.key, candidate);
      sources[setting.key] = candidate.source;
      continue;
    }
    const got = showValue(candidate.raw, result.parsed);
    problems.push({ key: setting.key, message: `${candidate.name} must be ${result.allowed}, got ${got} ${candidate.phrase}` });
    // Keep going with the default so settings outside the command's scope stay usable.
    const fallback = coerce(setting, defaultOf(setting), "file");
    if (!fallback.ok) throw new Error(`default of ${setting.key} is invalid`); // a registry bug, not user input
    values.set(setting.key, fallback.value);
    sources[setting.key] = "default";
  }
  return { values, candidates, sources, problems };
}
