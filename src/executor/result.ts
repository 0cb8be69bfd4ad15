// Turning a finished run into the ExecutionResult the runtime classifies. Shared by every
// process-based kind: spawn-per-task (executor.ts) and the python pool (python-pool/), so
// messages, envelope search and truncation read the same whichever ran the task.
import { errorMessage } from "../errors.ts";
import { describeMissingEnvelope, parseEnvelope, type EnvelopeParse } from "./envelope.ts";
import type { ProcessRun } from "./process.ts";
import type { Envelope, ExecutionOutcome, ExecutionRequest, ExecutionResult } from "./types.ts";

/** "30s", "1.5s", "250ms": durations as people write them. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = Math.round(ms / 100) / 10;
  return `${seconds}s`;
}

/** Why the runtime aborted a run, in words ("cancel", "lease_lost", …); "" when it gave none. */
export function abortReason(signal: AbortSignal): string {
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

/** The envelope, searched in all of stdout, or in its last max_stdout_bytes when it went over. */
function findEnvelope(run: ProcessRun): EnvelopeParse {
  const text = run.stdout.envelopeText();
  const parsed = parseEnvelope(text);
  if (parsed.envelope || !run.stdout.truncated) return parsed;
  return { envelope: null, problem: describeMissingEnvelope(text, run.stdout.totalBytes, run.stdout.limit) };
}

/** A result with no process behind it (never started, or an in-process run): no output, no pid. */
export function processlessResult(outcome: ExecutionOutcome, message: string, envelope: Envelope | null, startedAt: number): ExecutionResult {
  return {
    outcome,
    message,
    exitCode: null,
    signal: null,
    envelope,
    envelopeProblem: envelope === null && outcome === "exited" ? "the task produced no result" : null,
    stdout: "",
    stderr: "",
    stdoutTruncated: false,
    stderrTruncated: false,
    durationMs: performance.now() - startedAt,
    pid: null,
  };
}

export function notStarted(outcome: "payload_too_large" | "start_failed" | "aborted" | "security_violation", message: string, startedAt: number): ExecutionResult {
  return processlessResult(outcome, message, null, startedAt);
}

/** The result of a process that ran (parsed for timeouts and aborts too: the runtime decides whether a late envelope counts). */
export function resultFromRun(
  run: ProcessRun,
  request: ExecutionRequest,
  timing: { killGraceMs: number; pipeDrainMs: number },
  startedAt: number,
): ExecutionResult {
  const { envelope, problem } = findEnvelope(run);
  return {
    outcome: run.stopReason ?? "exited",
    message: describeRun(run, request, timing.killGraceMs, timing.pipeDrainMs),
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
}

/** The executor contract: run() never throws. A bug inside `runOnce` becomes a start_failed result. */
export function neverThrows(runOnce: (request: ExecutionRequest, startedAt: number) => Promise<ExecutionResult>) {
  return async (request: ExecutionRequest): Promise<ExecutionResult> => {
    const startedAt = performance.now();
    try {
      return await runOnce(request, startedAt);
    } catch (error) {
      return notStarted("start_failed", `executor error: ${errorMessage(error)}`, startedAt);
    }
  };
}
