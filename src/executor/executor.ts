// The executor kinds. python, command and bun (a command computed per task) run a process:
// build the argv, check and deliver the payload, run the process, find the envelope and describe
// what happened; bun-inprocess lives in bun-inprocess.ts. Every failure becomes an
// ExecutionResult; classifying it (retry, failure kind) is left to the worker runtime.
import { describeMissingEnvelope, parseEnvelope, type EnvelopeParse } from "./envelope.ts";
import { childEnvironment } from "./environment.ts";
import { payloadSizeProblem, preparePayload } from "./payload.ts";
import { startProcess, superviseProcess, type ProcessRun } from "./process.ts";
import { bunChildCommand } from "./bun-child.ts";
import { createInProcessExecutor } from "./bun-inprocess.ts";
import { DEFAULT_KILL_GRACE_MS, type ExecutionRequest, type ExecutionResult, type Executor, type ExecutorOptions } from "./types.ts";

const DEFAULT_PIPE_DRAIN_MS = 2000;
/** An envelope printed after more than max_stdout_bytes of noise is still found within this. */
const ENVELOPE_TAIL_BYTES = 64 * 1024;

/** "30s", "1.5s", "250ms": durations as people write them. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = Math.round(ms / 100) / 10;
  return `${seconds}s`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

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
  return `exec: ${program}: ${errorText(error)}`;
}

function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (typeof reason === "string" && reason !== "") return reason;
  if (reason instanceof Error && reason.name !== "AbortError" && reason.message !== "") return reason.message;
  return "";
}

/** How the process ended, e.g. "exited with code 1", "killed by SIGKILL after SIGTERM grace (5s)". */
function describeEnd(run: ProcessRun, killGraceMs: number): string {
  if (run.sentSignal === "SIGKILL" && run.signal === "SIGKILL") {
    return `killed by SIGKILL after SIGTERM grace (${formatDuration(killGraceMs)})`;
  }
  if (run.sentSignal !== null) {
    return run.signal !== null ? `stopped by ${run.signal}` : `exited with code ${run.exitCode} after SIGTERM`;
  }
  return run.signal !== null ? `killed by signal ${run.signal}` : `exited with code ${run.exitCode}`;
}

function describeRun(run: ProcessRun, request: ExecutionRequest, killGraceMs: number, pipeDrainMs: number): string {
  let text = describeEnd(run, killGraceMs);
  if (run.stopReason === "timeout") text = `timed out after ${formatDuration(request.timeoutMs)}; ${text}`;
  if (run.stopReason === "aborted") {
    const why = abortReason(request.signal);
    text = `aborted${why ? ` (${why})` : ""}; ${text}`;
  }
  if (run.pipesHeldOpen) {
    text += `; output pipes still open ${formatDuration(pipeDrainMs)} after exit (a background process held them), process group killed`;
  }
  return text;
}

/** The envelope, searched in the kept stdout, or in its tail when the output went over the limit. */
function findEnvelope(run: ProcessRun): EnvelopeParse {
  if (!run.stdout.truncated) return parseEnvelope(run.stdout.keptText());
  const tail = run.stdout.tailText();
  const parsed = parseEnvelope(tail);
  if (parsed.envelope) return parsed;
  return { envelope: null, problem: describeMissingEnvelope(tail, run.stdout.totalBytes, run.stdout.limit) };
}

function notStarted(outcome: "payload_too_large" | "start_failed" | "aborted" | "security_violation", message: string, startedAt: number): ExecutionResult {
  return {
    outcome,
    message,
    exitCode: null,
    signal: null,
    envelope: null,
    envelopeProblem: null,
    stdout: "",
    stderr: "",
    stdoutTruncated: false,
    stderrTruncated: false,
    durationMs: performance.now() - startedAt,
    pid: null,
  };
}

/** The argv before the protocol arguments, or why this request cannot start (never started). */
export type CommandFor = (request: ExecutionRequest) => readonly string[] | { outcome: "start_failed" | "security_violation"; message: string };

/** The executor for the configured kind (python, command, bun, bun-inprocess). */
export function createExecutor(options: ExecutorOptions): Executor {
  const { worker } = options;
  const kind: string = worker.executor;
  switch (kind) {
    case "python":
      return createProcessExecutor(options, () => [worker.pythonBin, "-m", worker.executorModule]);
    case "command": {
      const ok = worker.executorCommand.length > 0 && worker.executorCommand[0] !== "";
      const message = "executor_command is empty (executor kind command needs a program)";
      return createProcessExecutor(options, () => (ok ? worker.executorCommand : { outcome: "start_failed", message }));
    }
    case "bun":
      return createProcessExecutor(options, bunChildCommand(worker.tasksDir));
    case "bun-inprocess":
      return createInProcessExecutor(options);
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
        stdoutTailBytes: Math.min(ENVELOPE_TAIL_BYTES, worker.maxStdoutBytes),
      });
      // Parsed for timeouts and aborts too: the runtime decides whether a late envelope counts.
      const { envelope, problem } = findEnvelope(run);
      return {
        outcome: run.stopReason ?? "exited",
        message: describeRun(run, request, killGraceMs, pipeDrainMs),
        exitCode: run.exitCode,
        signal: run.signal,
        envelope,
        envelopeProblem: problem,
        stdout: run.stdout.render(),
        stderr: run.stderr.render(),
        stdoutTruncated: run.stdout.truncated,
        stderrTruncated: run.stderr.truncated,
        durationMs: performance.now() - startedAt,
        pid: run.pid,
      };
    } finally {
      await payload.cleanup();
    }
  }

  return {
    async run(request: ExecutionRequest): Promise<ExecutionResult> {
      const startedAt = performance.now();
      try {
        return await runOnce(request, startedAt);
      } catch (error) {
        // Only a bug gets here; the contract is that run() never throws.
        return notStarted("start_failed", `executor error: ${errorText(error)}`, startedAt);
      }
    },
  };
}
