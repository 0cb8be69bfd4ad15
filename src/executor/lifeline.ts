// Executor processes die with the worker, however the worker ends (SPEC §11): a task left running
// by a killed worker would run again elsewhere once its row is rescued, at the same time.
//
// One small reaper per worker: `/bin/sh` started once, holding one end of a socket pair whose
// other end only the worker holds (close-on-exec, so no task inherits it). The worker tells it
// each task's process group as the task starts (`+pgid`) and ends (`-pgid`). When the worker ends,
// even by SIGKILL, the kernel closes the worker's end: the reaper reads end-of-file and SIGKILLs
// every group it was told about (the tasks and their grandchildren), within milliseconds.
//
// No task can slip through between its start and its registration: each task starts as
// `/bin/sh -c <GATE> sh <argv…>`, a shell that waits on its own socket pair (fd 3) for a go-ahead
// and then execs the task in its own place (same pid, so the exit status, signals and process
// group are the task's own). The worker registers the group with the reaper first and only then
// lets the task go; if the worker dies before that, the gate reads end-of-file and the task never
// runs. The cost per task is that one shell in front of the task (about 1 ms); nothing is left
// behind when a task ends, so nothing waits to be reaped by PID 1 in a container.
//
// The reaper ignores SIGHUP/SIGINT/SIGTERM and has its own session, so a terminal's Ctrl-C reaches
// the worker (which decides how tasks stop) and not the reaper. If the reaper dies anyway, the
// worker starts a new one at once and tells it every running group. Without /bin/sh
// (Windows) tasks start directly, with no lifeline.
import type { Subprocess } from "bun";
import { accessSync, closeSync, constants, existsSync, statSync, writeSync } from "node:fs";

const SHELL = "/bin/sh";
// dash exports PWD to what it execs; unset it unless the task's environment had it.
const GATE = `read -r go <&3 || exit 125`;
const EXEC = `exec "$@" 3<&-`;
const GATE_KEEP_PWD = `${GATE}\n${EXEC}`;
const GATE_DROP_PWD = `${GATE}\nunset PWD; ${EXEC}`;
const REAPER = `trap '' HUP INT TERM PIPE
groups=' '
while IFS= read -r line <&3; do
  case $line in
    +*) groups="$groups\${line#+} " ;;
    -*) id=\${line#-}; case $groups in *" $id "*) groups="\${groups%%" $id "*} \${groups#*" $id "}" ;; esac ;;
  esac
done
for g in $groups; do kill -s KILL -- -"$g" 2>/dev/null; done`;

const available = process.platform !== "win32" && existsSync(SHELL);

type Child = Pick<Subprocess, "pid" | "stdio">;

/** The reaper process and our end of its lifeline; started on first use. */
class Reaper {
  private fd: number | null = null;
  private readonly groups = new Set<number>();

  add(pgid: number): void {
    this.groups.add(pgid);
    if (!this.send(`+${pgid}\n`)) this.restart();
  }

  remove(pgid: number): void {
    if (!this.groups.delete(pgid)) return;
    if (this.send(`-${pgid}\n`) || this.groups.size === 0) return;
    // The reaper is gone while other tasks still run: replace it now, not at the next start.
    try {
      this.restart();
    } catch {
      // no shell to start: the next registration tries again and reports it
    }
  }

  /** A group whose task never started: dropped without a word to the reaper. */
  forget(pgid: number): void {
    this.groups.delete(pgid);
  }

  /** Writes to the lifeline; false when there is no live reaper to write to. */
  private send(line: string): boolean {
    if (this.fd === null) return false;
    for (let attempt = 0; ; attempt++) {
      try {
        writeSync(this.fd, line); // small writes to a socket: complete or EPIPE, never partial
        return true;
      } catch (error) {
        // A full socket (a starved reaper) is not a dead one: closing our end would make a live
        // reaper kill every task. Wait for it to drain; only a broken lifeline is given up.
        if ((error as NodeJS.ErrnoException).code === "EAGAIN" && attempt < 2_000) {
          Bun.sleepSync(1);
          continue;
        }
        this.closeLifeline();
        return false;
      }
    }
  }

  /** (Re)starts the reaper and tells it every group still running. */
  private restart(): void {
    this.closeLifeline();
    // The script comes on stdin, so `ps` shows `/bin/sh -s reproq-reaper`.
    const proc = Bun.spawn([SHELL, "-s", "reproq-reaper"], { stdio: [new Blob([REAPER]), "ignore", "ignore", "socket-fd"], detached: true });
    const fd = proc.stdio[3];
    if (typeof fd !== "number") throw new Error("the reaper has no lifeline");
    this.fd = fd;
    proc.unref();
    // A reaper that dies (someone killed it) is replaced at once while tasks run, else at the
    // next registration.
    void proc.exited.then(() => {
      if (this.fd !== fd) return;
      this.closeLifeline();
      try {
        if (this.groups.size > 0) this.restart();
      } catch {
        // no shell to start: the next registration tries again and reports it
      }
    });
    const lines = [...this.groups].map((pgid) => `+${pgid}\n`).join("");
    if (!this.send(lines)) throw new Error("the reaper did not take the running process groups");
  }

  private closeLifeline(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = null;
  }
}

const reaper = new Reaper();

function spawnError(code: "ENOENT" | "EACCES", program: string): Error {
  return Object.assign(new Error(`${code}: ${program}`), { code });
}

/**
 * Checks the program the way Bun.spawn would, so that a missing or non-executable one is the same
 * error (ENOENT, EACCES) before anything starts. The shell then finds it itself, on the same PATH.
 */
function checkProgram(program: string, env: Record<string, string>): void {
  if (!program.includes("/")) {
    if (Bun.which(program, env.PATH === undefined ? undefined : { PATH: env.PATH }) === null) throw spawnError("ENOENT", program);
    return;
  }
  if (!existsSync(program)) throw spawnError("ENOENT", program);
  try {
    accessSync(program, constants.X_OK);
  } catch {
    throw spawnError("EACCES", program);
  }
  if (statSync(program).isDirectory()) throw spawnError("EACCES", program);
}

/** argv and the extra stdio slot (the gate, fd 3) that start `argv` on a lifeline; throws ENOENT/EACCES. */
export function lifelineSpawn(argv: readonly string[], env: Record<string, string>): { argv: string[]; lifeline: "socket-fd"[] } {
  if (!available || argv.length === 0) return { argv: [...argv], lifeline: [] };
  checkProgram(argv[0] ?? "", env);
  const script = env.PWD === undefined ? GATE_DROP_PWD : GATE_KEEP_PWD;
  return { argv: [SHELL, "-c", script, "sh", ...argv], lifeline: ["socket-fd"] };
}

/**
 * Registers the child's process group with the reaper, then lets the task start. Throws when no
 * reaper can be started; the gated shell then exits without running the task.
 */
export function armLifeline(child: Child): void {
  const gate = child.stdio[3];
  if (typeof gate !== "number") return;
  try {
    reaper.add(child.pid);
  } catch (error) {
    reaper.forget(child.pid); // never started: its pid must not stay on the reaper's kill list
    closeSync(gate); // no go-ahead: the shell exits instead of running an unprotected task
    throw new Error(`cannot start the process reaper (${SHELL}): ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    writeSync(gate, "\n");
  } catch {
    // the gated shell is gone already (killed): its exit is reported as usual
  }
  closeSync(gate);
}

/** The task has ended: the reaper forgets its group. Idempotent. */
export function releaseLifeline(child: Child): void {
  if (typeof child.stdio[3] === "number") reaper.remove(child.pid);
}
