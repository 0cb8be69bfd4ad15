// One claimed row, start to finish, as named steps: resolve → validate → run → classify → record.
import type { WorkerConfig } from "../config/index.ts";
import { allowListRejection, isTaskPathAllowed, KillAtOnce, resolveTaskPath, settingsModuleRefusal, writeTaskLog, type ExecutionResult, type Executor } from "../executor/index.ts";
import type { Logger } from "../observability/logger.ts";
import { taskRedactor, type Redact } from "../observability/redact.ts";
import type { ClaimedTask } from "../queue/types.ts";
import { classify, rejection, type AbortReason, type Decision } from "./classify.ts";
import type { Completer, WriteResult } from "./completer.ts";
import type { OutageTracker } from "./outage.ts";
import type { Telemetry } from "./telemetry.ts";

/**
 * A row this worker holds (RUNNING, leased to it): waiting in the local buffer, running, or with
 * its result being written. `stop` ends its executor early (or, not started yet, means it never
 * starts) for the given reason.
 */
export class RunningTask {
  readonly controller = new AbortController();
  abortReason: AbortReason | null = null;
  /** The executor has been called (a row still in the local buffer has not). */
  started = false;
  /** The executor has returned; only the result write is left (a heartbeat miss is no loss). */
  finished = false;
  /** performance.now() when claimed. */
  readonly claimedAt = performance.now();
  /** Milliseconds between the claim and the executor's call (time in the local buffer). */
  startDelayMs = 0;
  /**
   * The short-task batch whose open transaction holds this row (READY, locked, not leased), and
   * which takes its outcome; null for a claimed row (RUNNING, leased: heartbeat, cancel, completer).
   */
  batch: ResultSink | null = null;

  constructor(readonly task: ClaimedTask) {}

  stop(reason: AbortReason): void {
    if (this.abortReason !== null) return;
    this.abortReason = reason;
    // worker_lost: other workers may rescue the row any moment now; nothing of it may outlive that.
    this.controller.abort(reason === "worker_lost" ? new KillAtOnce(reason) : new Error(reason));
  }
}

/** Where a run's outcome is written: the completer, or the short-task batch holding the row. */
export type ResultSink = Pick<Completer, "success" | "failure">;

export interface PipelineDeps {
  worker: WorkerConfig;
  executor: Executor;
  completer: Completer;
  logger: Logger;
  telemetry: Telemetry;
  /** Failed task log writes (logs_dir), logged once per stretch. */
  taskLogs: OutageTracker;
}

export interface TaskReport {
  resultId: string;
  decision: Decision;
  write: WriteResult | "skipped";
}

/** min(task timeout, exec_timeout); a task without a positive timeout gets exec_timeout. */
export function effectiveTimeoutMs(task: ClaimedTask, execTimeoutMs: number): number {
  return task.timeoutSeconds > 0 ? Math.min(task.timeoutSeconds * 1000, execTimeoutMs) : execTimeoutMs;
}

/**
 * Runs one claimed row through the steps. `executed` is called once the handler has returned and
 * its outcome is decided, before the result is written: the runtime frees the slot there (the row
 * stays held — heartbeat, cancel — until the write commits, which the returned promise awaits).
 */
export async function runTask(deps: PipelineDeps, running: RunningTask, executed: () => void = () => {}): Promise<TaskReport> {
  const { task } = running;
  // Log lines and events carry no argument value of this task (errors_json keeps the verbatim message).
  const redact = taskRedactor(task.specText);
  const log = deps.logger.child({ result_id: task.resultId, spec_hash: task.specHash }, redact);

  // resolve and validate: a refused row never starts a process
  const admitted = admit(deps, task);
  if ("kind" in admitted) {
    if (admitted.kind === "invalid_spec") log.error("Invalid task spec", { ...admitted.attrs, error: admitted.error });
    else log.warn("Task rejected by validator", { ...admitted.attrs, error: admitted.error });
    executed();
    return record(deps, running, admitted.taskPath, rejection(admitted.kind, admitted.error, admitted.taskPath), null, log, redact);
  }
  const { taskPath, spec } = admitted;

  // run
  const timeoutMs = effectiveTimeoutMs(task, deps.worker.execTimeoutMs);
  running.started = true;
  running.startDelayMs = performance.now() - running.claimedAt;
  let result: ExecutionResult;
  if (running.abortReason !== null) {
    // Stopped while waiting in the local buffer (cancel, lost lease): it never starts.
    result = neverStarted(running.abortReason);
  } else {
    log.info("Executing task", { task_path: taskPath, attempt: task.attempts, queue: task.queueName });
    deps.telemetry.started(task, taskPath);
    result = await deps.executor.run({
      resultId: task.resultId,
      attempt: task.attempts,
      taskPath,
      payload: task.specText,
      spec,
      timeoutMs,
      signal: running.controller.signal,
    });
  }
  running.finished = true;
  deps.telemetry.executed(task, result.durationMs);
  const logsUri = await persistLogs(deps, task, result);

  // classify
  const decision = classify({
    task,
    taskPath,
    workerId: deps.worker.workerId,
    result,
    abortReason: running.abortReason,
    timeoutMs,
    retry: { baseSeconds: deps.worker.retryBaseSeconds, maxSeconds: deps.worker.retryMaxSeconds, jitter: deps.worker.retryJitter },
  });
  executed();
  return record(deps, running, taskPath, decision, logsUri, log.child({ task_path: taskPath, duration_ms: Math.round(result.durationMs) }), redact);
}

/** What the executor would have reported for a run stopped before it began. */
function neverStarted(reason: AbortReason): ExecutionResult {
  return {
    outcome: "aborted", message: `stopped before it started (${reason})`, exitCode: null, signal: null, envelope: null, envelopeProblem: null,
    stdout: "", stderr: "", stdoutTruncated: false, stderrTruncated: false, durationMs: 0, pid: null,
  };
}

interface Refusal {
  kind: "invalid_spec" | "security_violation";
  error: string;
  /** For the failure entry: the path the row names, when it has one. */
  taskPath: string | null;
  /** For the log line. */
  attrs: Record<string, unknown>;
}

/**
 * The task path to run, or why not: resolve (a column that disagrees with the spec is refused: the
 * executor runs the spec's), then validate (the allow-list; for the kinds that run
 * reproq_django.executor, the spec's django.settings_module, which that executor would import).
 */
function admit(deps: PipelineDeps, task: ClaimedTask): { taskPath: string; spec: Readonly<Record<string, unknown>> } | Refusal {
  const resolved = resolveTaskPath(task.taskPath, task.specText);
  if ("error" in resolved) {
    if (resolved.kind === "invalid_spec") return { kind: "invalid_spec", error: resolved.error, taskPath: null, attrs: {} };
    const columnPath = resolved.columnTaskPath ?? null;
    return { kind: "security_violation", error: resolved.error, taskPath: columnPath, attrs: { task_path: columnPath, spec_task_path: resolved.specTaskPath } };
  }
  const { taskPath, spec } = resolved;
  const allowed = deps.worker.allowedTaskModules;
  if (!isTaskPathAllowed(taskPath, allowed)) {
    return { kind: "security_violation", error: allowListRejection(taskPath, allowed), taskPath, attrs: { task_path: taskPath } };
  }
  const django = deps.executor.django;
  const settings = django ? settingsModuleRefusal(spec, django.settingsModule, allowed) : null;
  if (settings !== null) {
    // invalid_spec has no module to name: leave the key out rather than log "settings_module=undefined".
    const attrs = settings.settingsModule === undefined ? { task_path: taskPath } : { task_path: taskPath, settings_module: settings.settingsModule };
    return { kind: settings.kind, error: settings.error, taskPath, attrs };
  }
  return { taskPath, spec };
}

/** Writes the attempt's log file when logs_dir is set; a failure is reported (once per stretch), never fatal. */
async function persistLogs(deps: PipelineDeps, task: ClaimedTask, result: ExecutionResult): Promise<string | null> {
  if (!deps.worker.logsDir || (!result.stdout && !result.stderr)) return null;
  let problem = "";
  const uri = await writeTaskLog(deps.worker.logsDir, task.resultId, task.attempts, result.stdout, result.stderr, (message) => {
    problem = message;
  });
  if (uri === null) deps.taskLogs.failed(problem);
  else deps.taskLogs.succeeded();
  return uri;
}

async function record(
  deps: PipelineDeps,
  running: RunningTask,
  taskPath: string | null,
  decision: Decision,
  logsUri: string | null,
  log: Logger,
  redact: Redact,
): Promise<TaskReport> {
  const report = await write(deps, running, decision, logsUri, log);
  deps.telemetry.recorded(running.task, taskPath, report.decision, report.write, redact);
  return report;
}

async function write(deps: PipelineDeps, running: RunningTask, decided: Decision, logsUri: string | null, log: Logger): Promise<TaskReport> {
  const { task } = running;
  let decision = decided;
  const workerId = deps.worker.workerId;
  const startDelaySeconds = running.startDelayMs / 1000;
  let write: WriteResult | "skipped" = "skipped";
  if (decision.type === "success") {
    write = await (running.batch ?? deps.completer).success({
      resultId: task.resultId, workerId, attempt: task.attempts, returnJson: decision.returnJson, logsUri, workflowId: task.workflowId, startDelaySeconds,
    });
    if (write === "written") log.info("Task successful");
    if (write === "rejected") {
      // The result itself cannot be stored (it would be rejected again on every retry): fail the
      // row rather than leave it RUNNING to be reclaimed and run again.
      const error = { kind: "infra_error", message: "the task succeeded but its result could not be stored", attempt: task.attempts, worker_id: workerId };
      const failed = { type: "failure", error, disposition: { type: "terminal" }, lastError: `infra_error: ${error.message}` } as const;
      write = await (running.batch ?? deps.completer).failure({ resultId: task.resultId, workerId, attempt: task.attempts, error, disposition: failed.disposition, lastError: failed.lastError, logsUri, startDelaySeconds });
      decision = failed;
    }
  } else if (decision.type === "failure") {
    write = await (running.batch ?? deps.completer).failure({
      resultId: task.resultId,
      workerId,
      attempt: task.attempts,
      error: decision.error,
      disposition: decision.disposition,
      lastError: decision.lastError,
      logsUri,
      startDelaySeconds,
    });
    if (write === "written") logFailure(log, decision);
  } else {
    log.warn("Task result not recorded", { reason: decision.reason });
  }
  if (write === "fenced") log.warn("Task result not recorded: the row is no longer leased by this worker");
  return { resultId: task.resultId, decision, write };
}

function logFailure(log: Logger, decision: Extract<Decision, { type: "failure" }>): void {
  const { error, disposition } = decision;
  // Rejections (invalid_spec, security_violation) have no exception class: leave the key out
  // rather than print "exception_class=undefined".
  const attrs = { kind: error.kind, error_message: error.message, ...(error.exception_class ? { exception_class: error.exception_class } : {}) };
  if (error.kind === "cancelled") log.warn("Task cancelled by request");
  else if (disposition.type === "retry") log.warn("Task failed; retrying", { ...attrs, retry_in_seconds: Math.round(disposition.retryDelaySeconds) });
  else if (disposition.type === "requeue") log.warn("Task requeued at shutdown", attrs);
  else log.error("Task failed", attrs);
}
