// The bun kind, worker side: the command kind with a computed argv. Each task runs in a child of
// this same program, `reproq exec --tasks-dir D --task-path P` plus the usual protocol arguments
// (--result-id, --attempt, --payload-*), so timeouts, cancel, kill grace, output capture and
// envelope parsing are exactly the process executor's. The task path is resolved here first, so a
// path outside tasks_dir is refused (security_violation) before any process starts; the child
// resolves it again before importing (uncached: it is the check that guards the import).
import type { CommandFor } from "./executor.ts";
import { selfCommand } from "./self.ts";
import { absoluteTasksDir, taskModuleResolver } from "./ts-module.ts";

export function bunChildCommand(tasksDir: string): CommandFor {
  const root = absoluteTasksDir(tasksDir);
  const self = selfCommand();
  const resolveModule = taskModuleResolver(root);
  return (request) => {
    const resolved = resolveModule(request.taskPath);
    // A missing module is the task's problem (an app_error from the child, like Python's
    // ImportError); only a path that escapes tasks_dir is refused here.
    if (!resolved.ok && resolved.kind === "security_violation") return { outcome: "security_violation", message: resolved.message };
    return [...self, "exec", "--tasks-dir", root, "--task-path", request.taskPath];
  };
}
