// The bun-inprocess kind: task modules imported once into the worker and run as async functions
// (no process, no isolation; the fastest kind). Timeout and cancel abort ctx.signal; the slot is
// then freed as soon as the task settles, or after the kill grace if it never does (the promise
// is abandoned; its late result or rejection is ignored). Tasks share the worker's event loop:
// a task that blocks it (a synchronous endless loop) blocks the worker, which only the bun kind
// can protect against.
//
// Modules are cached per file after the first successful import; a failed import (a syntax
// error or a top-level throw) is not cached, here or in Bun's module registry, so the next task
// retries it (fix the file, no restart needed). A module that did import is never reloaded:
// restart the worker to pick up changes. The timeout and cancel also cover the import: a module
// whose top-level code never finishes is abandoned after the kill grace, and forgotten so a
// later task retries it.
import { abortReason, formatDuration, neverThrows, processlessResult } from "./result.ts";
import { payloadSizeProblem } from "./payload.ts";
import { failureEnvelope, invokeTask, loadTaskFunction, parseTaskPayload, taskCallOf, type TaskContext } from "./ts-invoke.ts";
import { absoluteTasksDir, taskModuleResolver } from "./ts-module.ts";
import { DEFAULT_KILL_GRACE_MS, SHUTDOWN_GRACE_MS, type ExecutionRequest, type ExecutionResult, type Executor, type ExecutorOptions } from "./types.ts";

/** The largest delay setTimeout honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const result = processlessResult;


let strayGuardInstalled = false;

/**
 * Task code shares the worker process: a promise it rejects without handling, or an exception
 * thrown from one of its timers, would otherwise end the worker. Installed once, only when a
 * bun-inprocess executor exists; each stray error is written to stderr as a JSON log line.
 */
function installStrayErrorGuard(): void {
  if (strayGuardInstalled) return;
  strayGuardInstalled = true;
  const report = (what: string) => (error: unknown): void => {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: "ERROR", msg: `${what} in task code (bun-inprocess); ignored`, error: message })}\n`);
  };
  process.on("unhandledRejection", report("Unhandled promise rejection"));
  process.on("uncaughtException", report("Uncaught exception"));
}

export function createInProcessExecutor(options: ExecutorOptions): Executor {
  const { worker } = options;
  const root = absoluteTasksDir(worker.tasksDir);
  const killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  // Shortened once the worker is shutting down (see Executor.shuttingDown).
  let graceMs = killGraceMs;
  const modules = new Map<string, Promise<Record<string, unknown>>>();
  const resolveModule = taskModuleResolver(root);
  installStrayErrorGuard();

  /** Forgets `file` (ours and Bun's module registry) so the next task imports it afresh. */
  function forgetModule(file: string, loading?: Promise<Record<string, unknown>>): void {
    if (loading === undefined || modules.get(file) === loading) modules.delete(file);
    // A module that threw while evaluating stays failed in Bun's registry until this is dropped.
    delete require.cache[file];
  }

  function importModule(file: string): Promise<Record<string, unknown>> {
    let loading = modules.get(file);
    if (!loading) {
      const started = import(file) as Promise<Record<string, unknown>>;
      loading = started;
      modules.set(file, started);
      started.catch(() => forgetModule(file, started)); // retried by the next task
    }
    return loading;
  }

  async function runOnce(request: ExecutionRequest, startedAt: number): Promise<ExecutionResult> {
    const tooLarge = payloadSizeProblem(request.payload, worker.maxPayloadBytes);
    if (tooLarge !== null) return result("payload_too_large", tooLarge, null, startedAt);
    if (request.signal.aborted) return result("aborted", "aborted before the task started", null, startedAt);
    const resolved = resolveModule(request.taskPath);
    if (!resolved.ok && resolved.kind === "security_violation") return result("security_violation", resolved.message, null, startedAt);
    if (!resolved.ok) return result("exited", "task not found", failureEnvelope("TaskNotFoundError", resolved.message), startedAt);
    const call = request.spec !== undefined ? taskCallOf(request.spec) : parseTaskPayload(request.payload);
    if ("error" in call) return result("exited", "bad payload", failureEnvelope("PayloadError", call.error), startedAt);
    // The stop (timeout, abort) is armed before the import: a module whose top-level code never
    // finishes must not hold the slot forever.
    const controller = new AbortController();
    let stopReason: "timeout" | "aborted" | null = null;
    let markStopped: () => void = () => {};
    const stopped = new Promise<null>((resolve) => {
      markStopped = () => resolve(null);
    });
    const stop = (why: "timeout" | "aborted", reason: Error): void => {
      if (stopReason !== null) return;
      stopReason = why;
      controller.abort(reason);
      markStopped();
    };
    const onAbort = (): void => stop("aborted", new Error(abortReason(request.signal) || "aborted"));
    const hasTimeout = Number.isFinite(request.timeoutMs) && request.timeoutMs > 0 && request.timeoutMs <= MAX_TIMER_MS;
    const timeoutText = `timed out after ${formatDuration(request.timeoutMs)}`;
    const timer = hasTimeout
      ? setTimeout(() => stop("timeout", Object.assign(new Error(timeoutText), { name: "TimeoutError" })), request.timeoutMs)
      : undefined;
    request.signal.addEventListener("abort", onAbort, { once: true });
    if (request.signal.aborted) onAbort(); // aborted between the check above and the listener
    const whyStopped = (): string =>
      stopReason === "timeout" ? timeoutText : `aborted${abortReason(request.signal) ? ` (${abortReason(request.signal)})` : ""}`;
    let grace: ReturnType<typeof setTimeout> | undefined;
    const graceOver = (): Promise<null> =>
      new Promise<null>((resolve) => {
        grace = setTimeout(() => resolve(null), graceMs);
      });

    try {
      const loading = loadTaskFunction(importModule, resolved.file, resolved.modulePath, resolved.exportName); // never rejects
      const loadedFirst = await Promise.race([loading, stopped]);
      if (loadedFirst === null || stopReason !== null) {
        // Stopped while importing: the import gets the grace period, then it is abandoned.
        const late = loadedFirst ?? (await Promise.race([loading, graceOver()]));
        if (late === null) forgetModule(resolved.file); // a later task retries the import
        const after = late !== null
          ? "the task had not started (stopped while its module was importing)"
          : `the task module ${resolved.modulePath} did not finish importing within ${formatDuration(graceMs)} of the stop and was abandoned`;
        return result(stopReason ?? "aborted", `${whyStopped()}; ${after}`, null, startedAt);
      }
      const loaded = loadedFirst;
      if ("envelope" in loaded) return result("exited", "task module did not load", loaded.envelope, startedAt);
      return await runTask(loaded.fn, call);
    } finally {
      clearTimeout(timer);
      clearTimeout(grace);
      request.signal.removeEventListener("abort", onAbort);
    }

    async function runTask(fn: Parameters<typeof invokeTask>[0], call: Parameters<typeof invokeTask>[1]): Promise<ExecutionResult> {
      const ctx: TaskContext = Object.freeze({
        resultId: request.resultId,
        attempt: request.attempt,
        queue: call.queue,
        taskPath: request.taskPath,
        signal: controller.signal,
      });
      const task = invokeTask(fn, call, ctx); // never rejects
      const first = await Promise.race([task, stopped]);
      if (first !== null && stopReason === null) return result("exited", first.ok ? "completed" : "the task threw", first, startedAt);
      // Stopped: give the task the grace period to notice its signal, then abandon it.
      const late = await Promise.race([task, graceOver()]);
      const after = late !== null
        ? "the task settled after its signal was aborted"
        : `the task did not settle within ${formatDuration(graceMs)} of its signal being aborted and was abandoned`;
      return result(stopReason ?? "aborted", `${whyStopped()}; ${after}`, late, startedAt);
    }
  }

  return {
    run: neverThrows(runOnce),
    shuttingDown: () => {
      graceMs = Math.min(killGraceMs, SHUTDOWN_GRACE_MS);
    },
  };
}
