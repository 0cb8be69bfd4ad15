// Turns what happened to one run into what to record (SPEC §4.3, the outcome table). Pure: no
// database, no processes, so every row of the table is unit-tested.
import type { ExecutionResult } from "../executor/index.ts";
import { summarizeLastError } from "../queue/index.ts";
import type { ClaimedTask, ErrorEntry, FailureDisposition } from "../queue/types.ts";
import { retryDelaySeconds } from "./backoff.ts";

/**
 * Why the runtime stopped a run early (the executor reports "aborted"). worker_lost: this worker
 * could not renew its registry row and stopped its tasks before others declare it dead.
 */
export type AbortReason = "cancel" | "lease_lost" | "shutdown" | "worker_lost";

export interface RetryPolicy {
  baseSeconds: number;
  maxSeconds: number;
  jitter: number;
}

export type Decision =
  | { type: "success"; returnJson: string | null }
  | { type: "failure"; error: ErrorEntry; disposition: FailureDisposition; lastError: string }
  /** The lease is gone (another worker reclaimed the row): write nothing. */
  | { type: "none"; reason: string };

export interface ClassifyInput {
  task: ClaimedTask;
  taskPath: string;
  workerId: string;
  result: ExecutionResult;
  abortReason: AbortReason | null;
  timeoutMs: number;
  retry: RetryPolicy;
  random?: () => number;
}

function failure(task: ClaimedTask, error: ErrorEntry, retryable: boolean, input: ClassifyInput): Decision {
  const disposition: FailureDisposition =
    retryable && task.attempts < task.maxAttempts
      ? { type: "retry", retryDelaySeconds: retryDelaySeconds(task.attempts, input.retry, input.random) }
      : { type: "terminal" };
  return { type: "failure", error, disposition, lastError: summarizeLastError(error) };
}

/** A failure recorded without running the executor (invalid spec, allow-list). Never retried. */
export function rejection(kind: "invalid_spec" | "security_violation", message: string, taskPath: string | null): Decision {
  const error: ErrorEntry = taskPath === null ? { kind, message } : { kind, message, task_path: taskPath };
  return { type: "failure", error, disposition: { type: "terminal" }, lastError: summarizeLastError(error) };
}

export function classify(input: ClassifyInput): Decision {
  const { task, result, workerId } = input;
  const common = { attempt: task.attempts, worker_id: workerId };

  if (result.outcome === "aborted" || (input.abortReason === "lease_lost" && result.outcome !== "exited")) {
    switch (input.abortReason) {
      case "lease_lost":
        return { type: "none", reason: "lease lost; another worker owns the row" };
      case "cancel":
        return failure(task, { kind: "cancelled", message: "Task cancelled by request", task_path: input.taskPath, worker_id: workerId }, false, input);
      case "shutdown":
        return {
          type: "failure",
          error: { kind: "shutdown", message: "worker shut down before the task finished; it will run again", ...common },
          disposition: { type: "requeue" },
          lastError: "",
        };
      case "worker_lost": {
        // Killed while exiting after its body had returned and printed success: the row is still
        // this worker's (the stop comes before its deadline), so the success counts, not a re-run.
        if (result.envelope?.ok) return { type: "success", returnJson: result.envelope.returnJson };
        // As when another worker rescues the row: attempt counted, READY at once while attempts remain.
        const message = "the worker could not renew its registry heartbeat and stopped the task before other workers could declare it dead";
        const error: ErrorEntry = { kind: "worker_lost", message, ...common };
        const disposition: FailureDisposition = task.attempts < task.maxAttempts ? { type: "retry", retryDelaySeconds: 0 } : { type: "terminal" };
        return { type: "failure", error, disposition, lastError: `worker_lost: ${message}` };
      }
      default:
        return failure(task, { kind: "infra_error", message: `task stopped unexpectedly: ${result.message}`, ...common }, true, input);
    }
  }
  if (input.abortReason === "lease_lost") return { type: "none", reason: "lease lost while the task ran" };

  switch (result.outcome) {
    case "timeout":
      return failure(task, { kind: "timeout", message: result.message || `timed out after ${input.timeoutMs / 1000}s`, timeout_seconds: input.timeoutMs / 1000, ...common }, true, input);
    case "security_violation":
      return rejection("security_violation", result.message, input.taskPath);
    case "payload_too_large":
    case "start_failed":
      return failure(task, { kind: "infra_error", message: result.message, ...common }, true, input);
    case "exited":
      break;
  }

  const envelope = result.envelope;
  if (envelope?.ok) return { type: "success", returnJson: envelope.returnJson };
  if (envelope) {
    return failure(task, {
      kind: "app_error",
      exception_class: envelope.exceptionClass,
      message: envelope.message,
      traceback: envelope.traceback,
      exit_code: result.exitCode,
      ...common,
    }, true, input);
  }
  const exit = result.exitCode === null ? `killed by ${result.signal ?? "a signal"}` : `exit code ${result.exitCode}`;
  return failure(task, {
    kind: "app_error",
    exception_class: "",
    message: `${result.envelopeProblem ?? "no result envelope on stdout"} (${exit})`,
    traceback: "",
    exit_code: result.exitCode,
    ...common,
  }, true, input);
}
