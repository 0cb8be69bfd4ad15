// One claimed row, start to finish, as named steps: resolve → validate → run → classify → record.
import type { WorkerConfig } from "../config/index.ts";
import { allowListRejection, isTaskPathAllowed, resolveTaskPath, writeTaskLog, type ExecutionResult, type Executor } from "../executor/index.ts";
import type { Logger } from "../observability/logger.ts";
import { taskRedactor, type Redact } from "../observability/redact.ts";
import type { ClaimedTask } from "../queue/types.ts";
import { classify, rejection, type AbortReason, type Decision } from "./classify.ts";
import type { Completer, WriteResult } from "./completer.ts";
import type { OutageTracker } from "./outage.ts";
import type { Telemetry } from "./telemetry.ts";

/** A task this worker is running; `stop` ends its executor early for the given reason. */
export class RunningTask {
  readonly controller = new AbortController();
  abortReason: AbortReason | null = null;
  /** The executor has returned; only the result write is left (a heartbeat miss is no loss). */
  finished = false;

  constructor(readonly task: ClaimedTask) {}

  stop(reason: AbortReason): void {
    if (this.abortReason !== null) return;
    this.abortReason = reason;
    this.controller.abort(new Error(reason));
  }
}

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

export async function runTask(deps: PipelineDeps, running: RunningTask): Promise<TaskReport> {
  const { task } = running;
  // Log lines and events carry no argument value of this task (errors_json keeps the verbatim message).
  const redact = taskRedactor(task.specText);
  const log = deps.logger.child({ result_id: task.resultId, spec_hash: task.specHash }, redact);

  // resolve (a column that disagrees with the spec is refused here: the executor runs the spec's)
  const resolved = resolveTaskPath(task.taskPath, task.specText);
  if ("error" in resolved) {
    if (resolved.kind === "invalid_spec") {
      log.error("Invalid task spec", { error: resolved.error });
      return record(deps, running, null, rejection("invalid_spec", resolved.error, null), null, log, redact);
    }
    const columnPath = resolved.columnTaskPath ?? null;
    log.warn("Task rejected by validator", { task_path: columnPath, spec_task_path: resolved.specTaskPath, error: resolved.error });
    return record(deps, running, columnPath, rejection("security_violation", resolved.error, columnPath), null, log, redact);
  }
  const taskPath = resolved.taskPath;

  // validate
  if (!isTaskPathAllowed(taskPath, deps.worker.allowedTaskModules)) {
    const message = allowListRejection(taskPath, deps.worker.allowedTaskModules);
    log.warn("Task rejected by validator", { task_path: taskPath, error: message });
    return record(deps, running, taskPath, rejection("security_violation", message, taskPath), null, log, redact);
  }

  // run
  const timeoutMs = effectiveTimeoutMs(task, deps.worker.execTimeoutMs);
  log.info("Executing task", { task_path: taskPath, attempt: task.attempts, queue: task.queueName });
  deps.telemetry.started(task, taskPath);
  const result = await deps.executor.run({
    resultId: task.resultId,
    attempt: task.attempts,
    taskPath,
    payload: task.specText,
    spec: resolved.spec,
    timeoutMs,
    signal: running.controller.signal,
  });
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
  return record(deps, running, taskPath, decision, logsUri, log.child({ task_path: taskPath, duration_ms: Math.round(result.durationMs) }), redact);
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
  let write: WriteResult | "skipped" = "skipped";
  if (decision.type === "success") {
    write = await deps.completer.success({
      resultId: task.resultId, workerId, attempt: task.attempts, returnJson: decision.returnJson, logsUri, workflowId: task.workflowId,
    });
    if (write === "written") log.info("Task successful");
    if (write === "rejected") {
      // The result itself cannot be stored (it would be rejected again on every retry): fail the
      // row rather than leave it RUNNING to be reclaimed and run again.
      const error = { kind: "infra_error", message: "the task succeeded but its result could not be stored", attempt: task.attempts, worker_id: workerId };
      const failed = { type: "failure", error, disposition: { type: "terminal" }, lastError: `infra_error: ${error.message}` } as const;
      write = await deps.completer.failure({ resultId: task.resultId, workerId, attempt: task.attempts, error, disposition: failed.disposition, lastError: failed.lastError, logsUri });
      decision = failed;
    }
  } else if (decision.type === "failure") {
    write = await deps.completer.failure({
      resultId: task.resultId,
      workerId,
      attempt: task.attempts,
      error: decision.error,
      disposition: decision.disposition,
      lastError: decision.lastError,
      logsUri,
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
