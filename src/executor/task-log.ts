// Per-attempt log files (`logs_dir`): task-<id>-attempt-<n>.log holding the captured stdout
// and stderr, stored by the runtime in task_runs.logs_uri. Logging must never fail a task, so
// every error becomes a null return (and an optional callback for the caller's logger).
import { constants } from "node:fs";
import { randomBytes } from "node:crypto";
import { mkdir, open, unlink } from "node:fs/promises";
import { join } from "node:path";
import { sourcePhrase, type Config } from "../config/index.ts";

/** Result ids are decimal strings; anything else must not be able to steer the path. */
const SAFE_ID = /^[0-9A-Za-z_-]+$/;

function section(title: string, text: string): string {
  return `${title}:\n${text}${text.endsWith("\n") ? "" : "\n"}`;
}

/** The file's content: "STDOUT:\n…\nSTDERR:\n…\n" (a newline added where missing). */
export function formatTaskLog(stdout: string, stderr: string): string {
  return section("STDOUT", stdout) + section("STDERR", stderr);
}

/**
 * Can task logs be written in `logsDir`? Creates the directory (0700) as the worker would, then
 * creates and removes a probe file: a real write, because permission bits say nothing about root,
 * read-only mounts or a full disk. Returns why not, or null when it works.
 */
export async function checkLogsDir(logsDir: string): Promise<string | null> {
  try {
    await mkdir(logsDir, { recursive: true, mode: 0o700 });
    const probe = join(logsDir, `.reproq-write-check-${process.pid}-${randomBytes(4).toString("hex")}`);
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    const handle = await open(probe, flags, 0o600);
    try {
      await handle.writeFile("ok\n");
    } finally {
      await handle.close();
      await unlink(probe);
    }
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Why task logs cannot be written to the configured logs_dir, naming the setting; null when they can (or it is off). */
export async function logsDirProblem(config: Config): Promise<string | null> {
  const dir = config.worker.logsDir;
  if (dir === "") return null;
  const problem = await checkLogsDir(dir);
  if (problem === null) return null;
  return `worker.logs_dir ${dir} is not writable: ${problem} ${sourcePhrase(config, "worker.logs_dir")}; ` +
    "task output would be lost: fix the directory or choose another (--logs-dir, REPROQ_LOGS_DIR)";
}

/** Writes the log (file 0600, directory created 0700); the path as joined, or null on failure. */
export async function writeTaskLog(
  logsDir: string,
  resultId: string,
  attempt: number,
  stdout: string,
  stderr: string,
  onError?: (message: string) => void,
): Promise<string | null> {
  try {
    if (!SAFE_ID.test(resultId) || !Number.isSafeInteger(attempt)) {
      throw new Error(`refusing log file name for result id ${JSON.stringify(resultId)}, attempt ${attempt}`);
    }
    await mkdir(logsDir, { recursive: true, mode: 0o700 });
    const path = join(logsDir, `task-${resultId}-attempt-${attempt}.log`);
    // O_NOFOLLOW: a symlink planted in a shared logs dir must not redirect the write.
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
    const handle = await open(path, flags, 0o600);
    try {
      await handle.chmod(0o600); // an existing file keeps its old mode on open; tighten it
      await handle.writeFile(formatTaskLog(stdout, stderr));
    } finally {
      await handle.close();
    }
    return path;
  } catch (error) {
    try {
      onError?.(`failed to write task log in ${logsDir}: ${error instanceof Error ? error.message : String(error)}`);
    } catch {
      // the callback's own failure must not escape either
    }
    return null;
  }
}
