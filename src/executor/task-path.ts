// Which task a row runs, and whether this worker may run it. Both happen before any process
// starts: a bad spec is `invalid_spec`, a rejected path is `security_violation`.

/** The allow-list used when `allowed_task_modules` is empty (as in the Go worker). */
export const DEFAULT_ALLOWED_TASK_MODULES: readonly string[] = ["myapp.tasks.", "tasks."];

/** The entries in force: the configured ones, or the defaults when none are set (empty entries ignored). */
export function effectiveAllowList(allowed: readonly string[]): readonly string[] {
  const entries = allowed.filter((entry) => entry !== "");
  return entries.length === 0 ? DEFAULT_ALLOWED_TASK_MODULES : entries;
}

/** True when no entry is configured, so only the built-in defaults apply. */
export function usesDefaultAllowList(allowed: readonly string[]): boolean {
  return allowed.every((entry) => entry === "");
}

/**
 * Case-sensitive match against the allow-list. "*" allows everything. An entry ending with a
 * dot is a prefix ("myapp.tasks." allows "myapp.tasks.x"); any other entry matches at a module
 * boundary only: itself or below it ("myapp.tasks" allows "myapp.tasks" and "myapp.tasks.x", not
 * "myapp.tasks_evil.x", which a plain prefix match — the Go worker's — let through).
 */
export function isTaskPathAllowed(taskPath: string, allowed: readonly string[]): boolean {
  return effectiveAllowList(allowed).some((entry) =>
    entry === "*" || (entry.endsWith(".") ? taskPath.startsWith(entry) : taskPath === entry || taskPath.startsWith(`${entry}.`)));
}

/** How to change the allow-list, for messages that send people there. */
export const ALLOW_LIST_SETTING = "worker.allowed_task_modules (--allowed-task-modules, ALLOWED_TASK_MODULES)";

/**
 * The security_violation message for a path the allow-list refuses: the Go worker's wording, then
 * what the list holds and which setting to change, so a refused task says how to allow it.
 */
export function allowListRejection(taskPath: string, allowed: readonly string[]): string {
  const entries = effectiveAllowList(allowed).join(", ");
  const why = usesDefaultAllowList(allowed)
    ? `allowed_task_modules is not set, so only the defaults ${entries} are allowed`
    : `allowed_task_modules is ${entries}`;
  return `security violation: unauthorized task module path: ${taskPath} (${why}; to run it, add its module to ${ALLOW_LIST_SETTING})`;
}

/**
 * What is worth a warning about the configured list, as `<what>` and `<what to do>`: the defaults
 * (which fit no real project) or "*" (no validation). null when it lists modules.
 */
export function allowListWarning(allowed: readonly string[]): { message: string; hint: string } | null {
  if (usesDefaultAllowList(allowed)) {
    return {
      message: `not set: only tasks under ${DEFAULT_ALLOWED_TASK_MODULES.join(", ")} will run, others fail as security_violation`,
      hint: `set ${ALLOW_LIST_SETTING} to your task modules`,
    };
  }
  if (allowed.includes("*")) return { message: '"*" lets every task path run (no validation)', hint: `list your task modules in ${ALLOW_LIST_SETTING}` };
  return null;
}

export type TaskPathResolution =
  | { taskPath: string; spec: Readonly<Record<string, unknown>> }
  | { kind: "invalid_spec" | "security_violation"; error: string; columnTaskPath?: string; specTaskPath?: string };

function describeType(value: unknown): string {
  return Array.isArray(value) ? "an array" : value === null ? "null" : `a ${typeof value}`;
}

/**
 * The task path a row runs. The Python executors import `spec_json.task_path`; the bun kinds use
 * the `task_path` column; so when both are set they must agree, or the allow-list would check one
 * name and the executor run another (security_violation). Either alone is used as is. The spec is
 * always parsed: one that is not a JSON object, or whose task_path is not a string, is invalid_spec;
 * the parsed object comes back with the path, for the executor (ExecutionRequest.spec).
 */
export function resolveTaskPath(columnValue: string | null, specText: string): TaskPathResolution {
  const invalid = (error: string) => ({ kind: "invalid_spec" as const, error });
  if (specText.trim() === "") return invalid("spec_json is empty");
  let spec: unknown;
  try {
    spec = JSON.parse(specText);
  } catch (error) {
    return invalid(`spec_json is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) return invalid("spec_json is not an object");
  const specPath: unknown = (spec as Record<string, unknown>).task_path;
  if (specPath !== undefined && specPath !== null && typeof specPath !== "string") {
    return invalid(`spec_json.task_path is ${describeType(specPath)}, not a string`);
  }
  const fromSpec = typeof specPath === "string" && specPath !== "" ? specPath : null;
  const fromColumn = columnValue !== null && columnValue !== "" ? columnValue : null;
  if (fromSpec !== null && fromColumn !== null && fromSpec !== fromColumn) {
    return {
      kind: "security_violation",
      error: `security violation: task_path column ${JSON.stringify(fromColumn)} does not match spec_json.task_path ${JSON.stringify(fromSpec)} (the path the executor would run)`,
      columnTaskPath: fromColumn,
      specTaskPath: fromSpec,
    };
  }
  const taskPath = fromColumn ?? fromSpec;
  return taskPath === null ? invalid("spec_json missing task_path") : { taskPath, spec: spec as Record<string, unknown> };
}

export type SettingsModuleRefusal = { kind: "invalid_spec" | "security_violation"; error: string; settingsModule?: string };

/**
 * spec_json.django.settings_module, for the kinds that run reproq_django.executor: it sets a
 * non-empty value as DJANGO_SETTINGS_MODULE and imports it (django.setup()) before the task, so
 * it is code the allow-list never checks. The Django backend never writes the key, so only the
 * executor's own DJANGO_SETTINGS_MODULE (`own`, null when its environment has none) may appear;
 * any other is security_violation, unless the allow-list is "*". A `django` that is not an object
 * or a settings_module that is not a string is invalid_spec (always). null: nothing to refuse.
 */
export function settingsModuleRefusal(spec: Readonly<Record<string, unknown>>, own: string | null, allowed: readonly string[]): SettingsModuleRefusal | null {
  const django = spec.django;
  if (django === undefined || django === null) return null;
  if (typeof django !== "object" || Array.isArray(django)) return { kind: "invalid_spec", error: `spec_json.django is ${describeType(django)}, not an object` };
  const module: unknown = (django as Record<string, unknown>).settings_module;
  if (module === undefined || module === null || module === "") return null; // the executor ignores an empty value
  if (typeof module !== "string") return { kind: "invalid_spec", error: `spec_json.django.settings_module is ${describeType(module)}, not a string` };
  if (module === own || effectiveAllowList(allowed).includes("*")) return null;
  const quoted = JSON.stringify(module);
  const differs = own === null
    ? `is set but the executor's environment has no DJANGO_SETTINGS_MODULE (unset, or removed by executor_env_deny)`
    : `differs from the worker's DJANGO_SETTINGS_MODULE ${JSON.stringify(own)}`;
  return {
    kind: "security_violation",
    settingsModule: module,
    error:
      `security violation: spec_json.django.settings_module ${quoted} ${differs} ` +
      "(the executor would import it as Django settings, and allowed_task_modules does not check settings modules; " +
      `the Django backend never writes this key: remove it from the row, or run the worker with DJANGO_SETTINGS_MODULE=${module})`,
  };
}
