// The python-pool executor kind: the python kind's contract (argv, payload modes, envelope,
// output limits, exit codes, messages), with each task forked from a warm pool process that has
// already imported Django and the executor module, instead of a fresh `python -m`. Falls back to
// the spawn executor it is given when pools are unavailable. See docs/python-pool.md.
import { BoundedCapture, STDERR_CAPTURE, STDOUT_CAPTURE, tailWindowBytes } from "../capture.ts";
import { childEnvironment } from "../environment.ts";
import { payloadSizeProblem, preparePayload } from "../payload.ts";
import type { ProcessRun } from "../process.ts";
import { notStarted, resultFromRun } from "../result.ts";
import {
  DEFAULT_KILL_GRACE_MS,
  DEFAULT_PIPE_DRAIN_MS,
  type ExecutionRequest,
  type ExecutionResult,
  type Executor,
  type ExecutorOptions,
} from "../types.ts";
import type { DoneEvent } from "./protocol.ts";
import { PoolSupervisor, type JobOutcome } from "./supervisor.ts";

const EMPTY = new Uint8Array(0);
/** persistent: one task waits in the pool for the first child that answers (docs/python-pool.md). */
export const PERSISTENT_QUEUE_AHEAD = 1;
const UTF8 = new TextEncoder();

/** One output field of a done event: UTF-8 text, or base64 when the bytes were not UTF-8. */
function bytes(text: string | undefined, base64: string | undefined): Uint8Array {
  if (text !== undefined) return text === "" ? EMPTY : UTF8.encode(text);
  return base64 === undefined || base64 === "" ? EMPTY : new Uint8Array(Buffer.from(base64, "base64"));
}

/** The pool's report as the ProcessRun the spawn path would have produced. */
export function processRunFrom(event: DoneEvent, stopReason: ProcessRun["stopReason"], maxStdoutBytes: number, maxStderrBytes: number): ProcessRun {
  return {
    pid: event.pid,
    stopReason,
    sentSignal: event.sent_signal,
    exitCode: event.exit_code,
    signal: event.signal,
    stdout: BoundedCapture.fromParts(maxStdoutBytes, STDOUT_CAPTURE, bytes(event.stdout, event.stdout_b64), bytes(event.stdout_tail, event.stdout_tail_b64), event.stdout_total),
    stderr: BoundedCapture.fromParts(maxStderrBytes, STDERR_CAPTURE, bytes(event.stderr, event.stderr_b64), bytes(event.stderr_tail, event.stderr_tail_b64), event.stderr_total),
    pipesHeldOpen: event.pipes_held_open,
  };
}

/** A task whose pool died under it: an infra error (retried) unless we had already stopped it. */
function lostResult(outcome: Extract<JobOutcome, { kind: "lost" }>, startedAt: number): ExecutionResult {
  const stopped = outcome.stopReason;
  return {
    outcome: stopped ?? "start_failed",
    message: stopped === "timeout" ? `timed out; ${outcome.message}` : outcome.message,
    exitCode: null,
    signal: "SIGKILL",
    envelope: null,
    envelopeProblem: "no result envelope (the python pool ended before the task did)",
    stdout: "",
    stderr: "",
    stdoutTruncated: false,
    stderrTruncated: false,
    durationMs: performance.now() - startedAt,
    pid: outcome.pid,
  };
}

export interface PoolExecutor extends Executor {
  start(): Promise<void>;
  stop(): Promise<void>;
  reload(reason: string): void;
  /** The pool process serving new tasks, or null (starting, restarting, disabled). */
  readonly poolPid: number | null;
  /** True once the executor fell back to one process per task for good. */
  readonly fellBack: boolean;
}

/** `spawn` runs tasks the ordinary way when the pool cannot (disabled, refused to fork). */
export function createPythonPoolExecutor(options: ExecutorOptions, spawn: Executor): PoolExecutor {
  const { worker } = options;
  const killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const pipeDrainMs = options.pipeDrainMs ?? DEFAULT_PIPE_DRAIN_MS;
  const tmpDir = options.tmpDir ?? (options.env.TMPDIR || "/tmp");
  const timing = options.pool ?? {};
  const supervisor = new PoolSupervisor({
    pool: {
      pythonBin: worker.pythonBin,
      env: childEnvironment(options.env, worker.executorEnvDeny),
      logger: options.logger,
      init: {
        executor_module: worker.executorModule,
        python_bin: worker.pythonBin,
        preload: worker.poolPreloadModules,
        max_stdout: worker.maxStdoutBytes,
        max_stderr: worker.maxStderrBytes,
        stdout_tail: tailWindowBytes(worker.maxStdoutBytes, true),
        stderr_tail: tailWindowBytes(worker.maxStderrBytes, false),
        drain_ms: pipeDrainMs,
        mode: worker.poolMode,
        children: Math.max(1, worker.concurrency),
        max_tasks_per_child: worker.poolMode === "persistent" ? worker.poolMaxTasks : 0,
        max_child_rss_kb: worker.poolMaxChildRssMb * 1024,
        db_reuse: worker.poolDbReuse,
      },
    },
    logger: options.logger,
    pingIntervalMs: timing.pingIntervalMs ?? 3_000,
    pingTimeoutMs: timing.pingTimeoutMs ?? 15_000,
    startTimeoutMs: timing.startTimeoutMs ?? 120_000,
    restartBackoffMs: timing.restartBackoffMs ?? 500,
    maxFailures: timing.maxFailures ?? 3,
    // Persistent mode counts tasks per child, in the pool process.
    maxTasks: worker.poolMode === "persistent" ? 0 : worker.poolMaxTasks,
    maxAgeMs: worker.poolMaxAgeMs,
    staleCheckIntervalMs: worker.poolStaleCheckIntervalMs,
    killGraceMs,
  });

  /** The pool's answer, or null when the task should run as its own process instead. */
  async function viaPool(request: ExecutionRequest, startedAt: number): Promise<ExecutionResult | null> {
    const payload = await preparePayload(worker.payloadMode, request.payload, request.resultId, tmpDir);
    if ("error" in payload) return notStarted("start_failed", payload.error, startedAt);
    try {
      const outcome = await supervisor.execute({
        argv: ["--result-id", request.resultId, "--attempt", String(request.attempt), ...payload.args],
        payload: payload.stdin,
        timeoutMs: request.timeoutMs,
        signal: request.signal,
      });
      switch (outcome.kind) {
        case "spawn":
          return null;
        case "done": {
          const run = processRunFrom(outcome.event, outcome.stopReason, worker.maxStdoutBytes, worker.maxStderrBytes);
          return resultFromRun(run, request, { killGraceMs, pipeDrainMs }, startedAt);
        }
        case "lost":
          return lostResult(outcome, startedAt);
        case "not_started":
          // The task never ran: a timeout spent waiting for a pool is an infrastructure failure
          // (infra_error, retried), not the task's own timeout.
          return notStarted(outcome.stopReason === "timeout" ? "start_failed" : "aborted", outcome.message, startedAt);
      }
    } finally {
      await payload.cleanup();
    }
  }

  return {
    async run(request: ExecutionRequest): Promise<ExecutionResult> {
      const startedAt = performance.now();
      try {
        const tooLarge = payloadSizeProblem(request.payload, worker.maxPayloadBytes);
        if (tooLarge !== null) return notStarted("payload_too_large", tooLarge, startedAt);
        if (request.signal.aborted) return notStarted("aborted", "aborted before the process started", startedAt);
        if (!supervisor.disabled) {
          const result = await viaPool(request, startedAt);
          if (result) return result;
        }
        return await spawn.run(request);
      } catch (error) {
        // Only a bug gets here; the contract is that run() never throws.
        return notStarted("start_failed", `executor error: ${error instanceof Error ? error.message : String(error)}`, startedAt);
      }
    },
    start: () => supervisor.start(),
    stop: () => supervisor.stop(),
    reload: (reason: string) => supervisor.replace(reason),
    get poolPid() {
      return supervisor.currentPid;
    },
    get fellBack() {
      return supervisor.disabled;
    },
    get queueAhead() {
      return worker.poolMode === "persistent" && !supervisor.disabled ? PERSISTENT_QUEUE_AHEAD : 0;
    },
  };
}
