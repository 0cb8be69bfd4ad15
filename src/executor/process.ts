// Running one executor process to completion. Each child starts a new session with Bun.spawn's
// `detached: true` (setsid(2), so its pid is also its process-group id); stopping it signals the
// whole group with process.kill(-pid, …): SIGTERM, then SIGKILL after a grace period. Once the
// direct child has exited, pipe EOF is awaited for at most pipeDrainMs: a grandchild that keeps
// stdout open must not hang the worker (the Go worker's Wait could block for as long as it lived).
// The group dies with the worker, however the worker ends (lifeline.ts).
import { BoundedCapture, pump, STDERR_CAPTURE, STDOUT_CAPTURE } from "./capture.ts";
import { armLifeline, lifelineSpawn, releaseLifeline } from "./lifeline.ts";
import { killsAtOnce } from "./types.ts";

/** The largest delay setTimeout honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ProcessSpec {
  argv: string[];
  env: Record<string, string>;
  /** Written to the child's stdin then closed; null gives the child /dev/null. */
  stdin: string | null;
}

export interface ProcessLimits {
  /** ≤ 0 or non-finite: no timeout. */
  timeoutMs: number;
  signal: AbortSignal;
  killGraceMs: number;
  pipeDrainMs: number;
  maxStdoutBytes: number;
  maxStderrBytes: number;
}

export type StopReason = "timeout" | "aborted";

export interface ProcessRun {
  pid: number;
  /** Why we stopped it; null when it ended on its own. */
  stopReason: StopReason | null;
  /** The strongest signal we sent to the group before the direct child exited. */
  sentSignal: "SIGTERM" | "SIGKILL" | null;
  exitCode: number | null;
  signal: string | null;
  stdout: BoundedCapture;
  stderr: BoundedCapture;
  /** The pipes were still open pipeDrainMs after the child exited (the group was then killed). */
  pipesHeldOpen: boolean;
}

/** Signals the process group; ESRCH (already gone) and friends are not our problem. */
function signalGroup(pid: number, signal: "SIGTERM" | "SIGKILL"): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group no longer exists
  }
}

/** Writes the payload and closes stdin; a child that exits early or never reads gets EPIPE, not us. */
function feedStdin(sink: { write(data: string): number | Promise<number>; end(): number | Promise<number> }, text: string): void {
  try {
    const written = sink.write(text);
    // Unhandled, these rejections (EPIPE) would crash the worker.
    if (written instanceof Promise) written.catch(() => {});
    const ended = sink.end();
    if (ended instanceof Promise) ended.catch(() => {});
  } catch {
    // synchronous EPIPE: same story
  }
}

function delay(ms: number): { promise: Promise<"timeout">; clear(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  return { promise, clear: () => clearTimeout(timer) };
}

/** Starts the process; throws what Bun.spawn throws (ENOENT, EACCES, E2BIG…). */
export function startProcess(spec: ProcessSpec) {
  const { argv, lifeline } = lifelineSpawn(spec.argv, spec.env);
  const child = Bun.spawn(argv, {
    env: spec.env,
    stdio: [spec.stdin === null ? "ignore" : "pipe", "pipe", "pipe", ...lifeline],
    detached: true,
  });
  armLifeline(child);
  return child;
}

/** Supervises a started process until it exited and its output is collected (never throws). */
export async function superviseProcess(
  child: ReturnType<typeof startProcess>,
  spec: ProcessSpec,
  limits: ProcessLimits,
): Promise<ProcessRun> {
  const pid = child.pid;
  const stdout = new BoundedCapture(limits.maxStdoutBytes, STDOUT_CAPTURE);
  const stderr = new BoundedCapture(limits.maxStderrBytes, STDERR_CAPTURE);
  const outPump = pump(child.stdout, stdout);
  const errPump = pump(child.stderr, stderr);
  if (spec.stdin !== null && child.stdin) feedStdin(child.stdin, spec.stdin);

  let stopReason: StopReason | null = null;
  let sentSignal: ProcessRun["sentSignal"] = null;
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  const stop = (why: StopReason, atOnce = false): void => {
    if (stopReason !== null) return;
    stopReason = why;
    if (atOnce) {
      sentSignal = "SIGKILL";
      signalGroup(pid, "SIGKILL");
      return;
    }
    sentSignal = "SIGTERM";
    signalGroup(pid, "SIGTERM");
    graceTimer = setTimeout(() => {
      sentSignal = "SIGKILL";
      signalGroup(pid, "SIGKILL");
    }, limits.killGraceMs);
  };
  const onAbort = (): void => stop("aborted", killsAtOnce(limits.signal));
  // setTimeout fires at once beyond 2^31−1 ms (~24.8 days): treat such timeouts as none.
  const hasTimeout = Number.isFinite(limits.timeoutMs) && limits.timeoutMs > 0 && limits.timeoutMs <= MAX_TIMER_MS;
  const timeoutTimer = hasTimeout ? setTimeout(() => stop("timeout"), limits.timeoutMs) : undefined;
  if (limits.signal.aborted) onAbort();
  else limits.signal.addEventListener("abort", onAbort, { once: true });

  try {
    await child.exited;
  } finally {
    clearTimeout(timeoutTimer);
    limits.signal.removeEventListener("abort", onAbort);
  }
  // What we sent before the exit explains it; later signals only sweep up the group.
  const signalBeforeExit = sentSignal;

  const drained = Promise.all([outPump.done, errPump.done]).then(() => "drained" as const);
  const drainLimit = delay(limits.pipeDrainMs);
  const drainResult = await Promise.race([drained, drainLimit.promise]);
  drainLimit.clear();
  const pipesHeldOpen = drainResult === "timeout";
  if (pipesHeldOpen || stopReason !== null) {
    // Whatever is left of a group we stopped, or that holds our pipes, goes now.
    signalGroup(pid, "SIGKILL");
  }
  clearTimeout(graceTimer);
  releaseLifeline(child);
  if (pipesHeldOpen) {
    outPump.cancel();
    errPump.cancel();
    const cancelLimit = delay(limits.pipeDrainMs);
    await Promise.race([drained, cancelLimit.promise]);
    cancelLimit.clear();
  }
  return {
    pid,
    stopReason,
    sentSignal: signalBeforeExit,
    exitCode: child.exitCode,
    signal: typeof child.signalCode === "number" ? `signal ${child.signalCode}` : (child.signalCode ?? null),
    stdout,
    stderr,
    pipesHeldOpen,
  };
}
