// The configuration module: the only place that reads process.env. Commands call loadConfig
// once and pass the frozen Config down.

import { ConfigError } from "../errors.ts";
import { buildConfig } from "./build.ts";
import { findConfigFile, readConfigFile } from "./discover.ts";
import { flattenConfigFile } from "./file-keys.ts";
import { resolveSettings, type Problem } from "./resolve.ts";
import { checkRules } from "./rules.ts";
import { inScope, SETTINGS, SETTINGS_BY_KEY, sectionOf } from "./settings.ts";
import type { Config, ConfigScope } from "./types.ts";

export { configArgs } from "./args.ts";
export { CONFIG_FILE_NAMES } from "./discover.ts";
export { DurationError, isGoDuration, parseGoDuration } from "./duration.ts";
export { explainConfig, maskDsn, sourcePhrase, type ExplainedSetting } from "./explain.ts";
export * from "./types.ts";

export interface LoadConfigOptions {
  scope: ConfigScope;
  /** citty parsed args keyed by flag name as declared (kebab-case); undefined = not given. */
  flags?: Record<string, string | boolean | undefined>;
  /** Defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** Defaults to process.cwd(). */
  cwd?: string;
}

/** A problem counts when its setting (or, for a whole section, any setting in it) is in scope. */
function problemInScope(problem: Problem, scope: ConfigScope): boolean {
  const setting = SETTINGS_BY_KEY.get(problem.key);
  if (setting) return inScope(setting, scope);
  return SETTINGS.some((s) => sectionOf(s.key) === problem.key && inScope(s, scope));
}

/** Loads, merges and validates every setting; throws one ConfigError listing every problem. */
export async function loadConfig(options: LoadConfigOptions): Promise<Config> {
  const flags = options.flags ?? {};
  const envSource = options.env ?? process.env;
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(envSource)) if (value !== undefined) env[name] = value;

  const fileRef = await findConfigFile(flags, env, options.cwd ?? process.cwd());
  const file = fileRef
    ? flattenConfigFile(await readConfigFile(fileRef), fileRef.path)
    : { values: new Map<string, unknown>(), warnings: [], problems: [] };

  const resolved = resolveSettings({
    scope: options.scope,
    fileValues: file.values,
    filePath: fileRef?.path ?? null,
    env,
    flags,
  });
  const problems = [...file.problems, ...resolved.problems, ...checkRules(resolved.values, resolved.candidates)]
    .filter((problem) => problemInScope(problem, options.scope))
    .map((problem) => problem.message);
  if (problems.length > 0) throw new ConfigError(problems);

  return buildConfig({
    values: resolved.values,
    configFile: fileRef?.path ?? null,
    warnings: file.warnings,
    sources: resolved.sources,
    env,
  });
}
