// Executor processes die with the worker, however the worker ends (SPEC §11): a task left running
// by a killed worker would run again elsewhere once its row is rescued, at the same time.
//
// A task starts as `/bin/sh -c <LIFELINE> sh <argv…>`. The shell forks a watcher, then execs the
// task in its own place: same pid, so the exit status, signals and process group are the task's
// own. The watcher blocks reading fd 3, one end of a socketpair whose other end only the worker
// holds (close-on-exec, so no other child inherits it). When the worker ends, even by SIGKILL, the
// kernel closes that end: the watcher reads EOF and SIGKILLs its process group, the task and every
// grandchild still in it, within milliseconds. When the task is over the worker writes a newline
// first (releaseLifeline), and the watcher exits without killing anything.
//
// The watcher ignores SIGHUP, SIGINT and SIGTERM, so the worker's SIGTERM to the group (timeout,
// cancel, shutdown) reaches the task without cutting the lifeline; the group SIGKILL ends both.
// The cost is one small shell and one fork per task (about 1–2 ms). Without /bin/sh (Windows)
// tasks start directly, with no lifeline.
import { accessSync, closeSync, constants, existsSync, statSync, writeSync } from "node:fs";

const SHELL = "/bin/sh";
const WATCH = `(trap '' HUP INT TERM; read -r line <&3 || kill -KILL 0) </dev/null >/dev/null 2>&1 &`;
// dash exports PWD to what it execs; unset it unless the task's environment had it.
const EXEC = `exec "$@" 3<&-`;
const SCRIPT_KEEP_PWD = `${WATCH}\n${EXEC}`;
const SCRIPT_DROP_PWD = `${WATCH}\nunset PWD; ${EXEC}`;

const available = process.platform !== "win32" && existsSync(SHELL);

function spawnError(code: "ENOENT" | "EACCES", program: string): Error {
  return Object.assign(new Error(`${code}: ${program}`), { code });
}

/**
 * The program as the shell will exec it, checked the way Bun.spawn checks it so that a missing or
 * non-executable program is the same error (ENOENT, EACCES) before anything starts.
 */
function resolveProgram(program: string, env: Record<string, string>): string {
  if (!program.includes("/")) {
    const found = Bun.which(program, env.PATH === undefined ? undefined : { PATH: env.PATH });
    if (found === null) throw spawnError("ENOENT", program);
    return found;
  }
  if (!existsSync(program)) throw spawnError("ENOENT", program);
  try {
    accessSync(program, constants.X_OK);
  } catch {
    throw spawnError("EACCES", program);
  }
  if (statSync(program).isDirectory()) throw spawnError("EACCES", program);
  return program;
}

/** argv and the extra stdio slot (fd 3) that start `argv` on a lifeline; throws ENOENT/EACCES. */
export function lifelineSpawn(argv: readonly string[], env: Record<string, string>): { argv: string[]; lifeline: "socket-fd"[] } {
  if (!available || argv.length === 0) return { argv: [...argv], lifeline: [] };
  const [program = "", ...rest] = argv;
  const script = env.PWD === undefined ? SCRIPT_DROP_PWD : SCRIPT_KEEP_PWD;
  return { argv: [SHELL, "-c", script, "sh", resolveProgram(program, env), ...rest], lifeline: ["socket-fd"] };
}

const released = new WeakSet<object>();

/** Lets the watcher go without killing anything, and closes our end. Idempotent. */
export function releaseLifeline(child: { readonly stdio: readonly (number | null)[] }): void {
  const fd = child.stdio[3];
  if (typeof fd !== "number" || released.has(child)) return;
  released.add(child);
  try {
    writeSync(fd, "\n");
  } catch {
    // the watcher is already gone (its group was killed)
  }
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
