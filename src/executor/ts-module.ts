// Where a TypeScript/JavaScript task lives (the bun and bun-inprocess kinds). The rule:
//
//   task_path `a.b.func`  →  export `func` of <tasks_dir>/a/b.ts
//
// The last segment is the export, the others are directories and the file name. Extensions are
// tried in order .ts, .tsx, .mts, .js, .mjs, then <…>/a/b/index.<ext>. Every segment must be a
// JavaScript identifier (so `..`, `/` and empty segments cannot occur), and the file found must
// lie inside tasks_dir once `..` and symlinks are resolved (realpath), and its real path must not
// contain `?` or `#` (Bun would read them as a query/fragment and import another file). Anything
// else is a security violation and nothing is imported.
import { realpathSync, statSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";

export const TASK_MODULE_EXTENSIONS = [".ts", ".tsx", ".mts", ".js", ".mjs"] as const;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export type TaskModuleResolution =
  | { ok: true; file: string; exportName: string; modulePath: string }
  | { ok: false; kind: "security_violation" | "not_found"; message: string };

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel);
}

/** The tasks_dir as an absolute path (relative settings are taken from `cwd`). */
export function absoluteTasksDir(tasksDir: string, cwd = process.cwd()): string {
  return resolve(cwd, tasksDir);
}

/** Finds the module file and export for `taskPath` under `tasksDir` (see the file comment). */
export function resolveTaskModule(tasksDir: string, taskPath: string): TaskModuleResolution {
  const segments = taskPath.split(".");
  if (segments.length < 2 || !segments.every((segment) => IDENTIFIER.test(segment))) {
    return {
      ok: false,
      kind: "security_violation",
      message: `security violation: task path ${JSON.stringify(taskPath)} must be dotted identifiers (module.path.function) resolving inside tasks_dir`,
    };
  }
  const exportName = segments.at(-1) as string;
  const moduleSegments = segments.slice(0, -1);
  const modulePath = moduleSegments.join(".");
  let root: string;
  try {
    root = realpathSync(tasksDir);
  } catch (error) {
    return { ok: false, kind: "not_found", message: `tasks_dir ${tasksDir} is not readable: ${error instanceof Error ? error.message : String(error)}` };
  }
  const base = join(root, ...moduleSegments);
  const candidates = [
    ...TASK_MODULE_EXTENSIONS.map((ext) => base + ext),
    ...TASK_MODULE_EXTENSIONS.map((ext) => join(base, `index${ext}`)),
  ];
  for (const candidate of candidates) {
    if (!isFile(candidate)) continue;
    let real: string;
    try {
      real = realpathSync(candidate);
    } catch {
      continue;
    }
    if (!inside(root, real)) {
      return {
        ok: false,
        kind: "security_violation",
        message: `security violation: task module for ${taskPath} resolves outside tasks_dir (${candidate} → ${real})`,
      };
    }
    if (real.includes("?") || real.includes("#")) {
      // Bun reads `?` (and `#`) in an import specifier as a query (fragment), even through
      // pathToFileURL, so the file imported would not be the one checked above.
      return {
        ok: false,
        kind: "security_violation",
        message: `security violation: task module for ${taskPath} has a path containing "?" or "#" (${real}), which cannot be imported safely; rename the directory or file`,
      };
    }
    return { ok: true, file: real, exportName, modulePath };
  }
  const tried = moduleSegments.join("/");
  return {
    ok: false,
    kind: "not_found",
    message: `no task module for ${taskPath}: none of ${tried}{${TASK_MODULE_EXTENSIONS.join(",")}} or ${tried}/index.* exists in tasks_dir ${root}`,
  };
}

/** How long a found module stays remembered by taskModuleResolver. */
export const TASK_MODULE_TTL_MS = 1_000;

/**
 * resolveTaskModule for one tasks_dir, remembering each module found for `ttlMs` so a busy worker
 * does not stat and realpath the same files for every task. Only successes are remembered (the
 * path was checked to lie inside tasks_dir when found); refusals and misses are looked up every
 * time. A file moved, added or re-linked on disk is therefore seen within `ttlMs`.
 */
export function taskModuleResolver(
  tasksDir: string,
  options: { ttlMs?: number; now?: () => number } = {},
): (taskPath: string) => TaskModuleResolution {
  const ttlMs = options.ttlMs ?? TASK_MODULE_TTL_MS;
  const now = options.now ?? (() => performance.now());
  const found = new Map<string, { resolution: TaskModuleResolution; until: number }>();
  return (taskPath) => {
    const at = now();
    const known = found.get(taskPath);
    if (known !== undefined && at < known.until) return known.resolution;
    const resolution = resolveTaskModule(tasksDir, taskPath);
    if (resolution.ok) found.set(taskPath, { resolution, until: at + ttlMs });
    else found.delete(taskPath);
    return resolution;
  };
}
