// Which task a row runs, and whether this worker may run it. Both happen before any process
// starts: a bad spec is `invalid_spec`, a rejected path is `security_violation`.

/** The allow-list used when `allowed_task_modules` is empty (as in the Go worker). */
export const DEFAULT_ALLOWED_TASK_MODULES: readonly string[] = ["myapp.tasks.", "tasks."];

/**
 * Case-sensitive string-prefix match (no dot semantics: "myapp.tasks" also allows
 * "myapp.tasks_x", which is why the defaults end with a dot). "*" allows everything. Empty
 * entries are ignored rather than read as "allow all", and an empty list means the defaults.
 */
export function isTaskPathAllowed(taskPath: string, allowed: readonly string[]): boolean {
  const prefixes = allowed.filter((prefix) => prefix !== "");
  const effective = prefixes.length === 0 ? DEFAULT_ALLOWED_TASK_MODULES : prefixes;
  return effective.some((prefix) => prefix === "*" || taskPath.startsWith(prefix));
}

/** The task path: the `task_path` column when non-empty, else `spec_json.task_path`. */
export function resolveTaskPath(columnValue: string | null, specText: string): { taskPath: string } | { error: string } {
  if (columnValue !== null && columnValue !== "") return { taskPath: columnValue };
  if (specText.trim() === "") return { error: "spec_json is empty" };
  let spec: unknown;
  try {
    spec = JSON.parse(specText);
  } catch (error) {
    return { error: `spec_json is not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) return { error: "spec_json is not an object" };
  const taskPath: unknown = (spec as Record<string, unknown>).task_path;
  if (taskPath === undefined || taskPath === null || taskPath === "") return { error: "spec_json missing task_path" };
  if (typeof taskPath !== "string") {
    return { error: `spec_json missing task_path (task_path is ${Array.isArray(taskPath) ? "an array" : `a ${typeof taskPath}`}, not a string)` };
  }
  return { taskPath };
}
