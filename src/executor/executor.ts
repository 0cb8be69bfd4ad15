// The executor kinds. python, command and bun (a command computed per task) run a process:
// build the argv, check and deliver the payload, run the process, find the envelope and describe
// what happened; bun-inprocess lives in bun-inprocess.ts, python-pool (forks from a warm Python
// process, falling back to this spawn path) in python-pool/. Every failure becomes an
// ExecutionResult; classifying it (retry, failure kind) is left to the worker runtime.
import { childEnvironment } from "./environment.ts";
import { payloadSizeProblem, preparePayload } from "./payload.ts";
import { startProcess, superviseProcess } from "./process.ts";
import { createPythonPoolExecutor } from "./python-pool/executor.ts";
import { errorMessage } from "../errors.ts";
import { neverThrows, notStarted, resultFromRun } from "./result.ts";
import { bunChildCommand } from "./bun-child.ts";
import { createInProcessExecutor } from "./bun-inprocess.ts";
import { DEFAULT_KILL_GRACE_MS, DEFAULT_PIPE_DRAIN_MS, type ExecutionRequest, type ExecutionResult, type Executor, type ExecutorOptions } from "./types.ts";

export { formatDuration } from "./result.ts";

/** Spawn errors in words a person can act on. */
function describeSpawnError(program: string, error: unknown, inlineBytes: number | null): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ENOENT") {
    return program.includes("/") ? `exec: ${program}: no such file or directory` : `exec: ${program} not found on PATH`;
  }
  if (code === "EACCES") return `exec: ${program}: permission denied`;
  if (code === "E2BIG" && inlineBytes !== null) {
    return `exec: argument list too long (payload_mode inline with a ${inlineBytes}-byte payload; use payload_mode stdin or file)`;
  }
  return `exec: ${program}: ${errorMessage(error)}`;
}

/** The argv before the protocol arguments, or why this request cannot start (never started). */
export type CommandFor = (request: ExecutionRequest) => readonly string[] | { outcome: "start_failed" | "security_violation"; message: string };

/** The executor for the configured kind (python, python-pool, command, bun, bun-inprocess). */
export function createExecutor(options: ExecutorOptions): Executor {
  const { worker } = options;
  const kind: string = worker.executor;
  // The kinds that run reproq_django.executor say which settings module their children get.
  const django = { settingsModule: childEnvironment(options.env, worker.executorEnvDeny).DJANGO_SETTINGS_MODULE || null };
  const runsDjango = <T extends Executor>(executor: T): T => Object.assign(executor, { django });
  switch (kind) {
    case "python":
      return runsDjango(createProcessExecutor(options, () => [worker.pythonBin, "-m", worker.executorModule]));
    case "command": {
      const ok = worker.executorCommand.length > 0 && worker.executorCommand[0] !== "";
      const message = "executor_command is empty (executor kind command needs a program)";
      return runsDjango(createProcessExecutor(options, () => (ok ? worker.executorCommand : { outcome: "start_failed", message })));
    }
    case "bun":
      return createProcessExecutor(options, bunChildCommand(worker.tasksDir));
    case "bun-inprocess":
      return createInProcessExecutor(options);
    case "python-pool":
      return runsDjango(createPythonPoolExecutor(options, createProcessExecutor(options, () => [worker.pythonBin, "-m", worker.executorModule])));
    default:
      return createProcessExecutor(options, () => ({ outcome: "start_failed", message: `unknown executor kind: ${kind}` }));
  }
}

/** Runs each task as a process: `commandFor(request)` + the protocol arguments (§5.2). */
export function createProcessExecutor(options: ExecutorOptions, commandFor: CommandFor): Executor {
  const { worker } = options;
  const killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const pipeDrainMs = options.pipeDrainMs ?? DEFAULT_PIPE_DRAIN_MS;
  const tmpDir = options.tmpDir ?? (options.env.TMPDIR || "/tmp");
  // The environment snapshot is frozen, so the child's copy is computed once.
  const env = childEnvironment(options.env, worker.executorEnvDeny);

  async function runOnce(request: ExecutionRequest, startedAt: number): Promise<ExecutionResult> {
    const tooLarge = payloadSizeProblem(request.payload, worker.maxPayloadBytes);
    if (tooLarge !== null) return notStarted("payload_too_large", tooLarge, startedAt);
    const baseArgv = commandFor(request);
    if ("outcome" in baseArgv) return notStarted(baseArgv.outcome, baseArgv.message, startedAt);
    if (request.signal.aborted) return notStarted("aborted", "aborted before the process started", startedAt);

    const payload = await preparePayload(worker.payloadMode, request.payload, request.resultId, tmpDir);
    if ("error" in payload) return notStarted("start_failed", payload.error, startedAt);
    try {
      const spec = {
        argv: [...baseArgv, "--result-id", request.resultId, "--attempt", String(request.attempt), ...payload.args],
        env,
        stdin: payload.stdin,
      };
      let child;
      try {
        child = startProcess(spec);
      } catch (error) {
        const inlineBytes = worker.payloadMode === "inline" ? Buffer.byteLength(request.payload) : null;
        return notStarted("start_failed", describeSpawnError(spec.argv[0] ?? "", error, inlineBytes), startedAt);
      }
      const run = await superviseProcess(child, spec, {
        timeoutMs: request.timeoutMs,
        signal: request.signal,
        killGraceMs,
        pipeDrainMs,
        maxStdoutBytes: worker.maxStdoutBytes,
        maxStderrBytes: worker.maxStderrBytes,
      });
      return resultFromRun(run, request, { killGraceMs, pipeDrainMs }, startedAt);
    } finally {
      await payload.cleanup();
    }
  }

  return {
    run: neverThrows(runOnce),
  };
}
