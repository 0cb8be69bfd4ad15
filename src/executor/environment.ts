// The executor child's environment: the worker's, minus secrets the task has no business
// seeing (executor_env_deny, default METRICS_AUTH_TOKEN). Names match exactly.

export function childEnvironment(env: Readonly<Record<string, string | undefined>>, deny: readonly string[]): Record<string, string> {
  const denied = new Set(deny);
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !denied.has(name)) result[name] = value;
  }
  return result;
}
