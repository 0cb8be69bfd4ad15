// What the runtime reports about each task: Prometheus metrics and live events (SPEC §7). Both
// are optional (no HTTP server → nothing is recorded). Outcomes are reported only after their
// row write committed, so a success that was never stored is never counted.
import type { EventBroker, EventLevel } from "../observability/events.ts";
import { DbOperations } from "../observability/db-operations.ts";
import type { Metrics } from "../observability/metrics.ts";
import { redactPatterns, redactRecord, type Redact } from "../observability/redact.ts";
import type { ClaimedTask } from "../queue/types.ts";
import type { Decision } from "./classify.ts";
import type { WriteResult } from "./completer.ts";

export interface TelemetryOptions {
  metrics: Metrics | null;
  events: EventBroker | null;
  workerId: string;
  /** Added to every event's metadata as `role` (e.g. "worker"). */
  role: string;
  /** The database pool size, for the connection gauges. */
  poolSize: number;
}

interface EventShape {
  level: EventLevel;
  type: string;
  msg: string;
  extra?: Record<string, string>;
}

export class Telemetry {
  readonly db: DbOperations;

  constructor(private readonly options: TelemetryOptions) {
    this.db = new DbOperations(options.metrics, options.poolSize);
  }

  get metrics(): Metrics | null {
    return this.options.metrics;
  }

  /** One claim statement: its duration (labelled with the queues it served) and what it returned. */
  claimed(queues: readonly string[], durationSeconds: number, tasks: readonly ClaimedTask[]): void {
    const metrics = this.options.metrics;
    if (!metrics) return;
    metrics.claimDuration.observe({ queue: queues.join(",") }, durationSeconds);
    for (const task of tasks) {
      metrics.tasksClaimed.inc({ queue: task.queueName });
      metrics.queueWait.observe({ queue: task.queueName }, task.waitSeconds);
    }
  }

  /** Slots of this worker running a task. */
  busySlots(count: number): void {
    this.options.metrics?.concurrencyInUse.set(count);
  }

  started(task: ClaimedTask, taskPath: string): void {
    this.publish(task, taskPath, { level: "info", type: "task_started", msg: "task started" });
  }

  executed(task: ClaimedTask, durationMs: number): void {
    this.options.metrics?.execDuration.observe({ queue: task.queueName }, durationMs / 1000);
  }

  /** The final decision for a run and what became of its row write; `redact` scrubs its event (the task's redactor). */
  recorded(task: ClaimedTask, taskPath: string | null, decision: Decision, write: WriteResult | "skipped", redact: Redact = redactPatterns): void {
    if (write !== "written" || decision.type === "none") return;
    if (decision.type === "success") {
      this.count(task, "success");
      this.publish(task, taskPath, { level: "info", type: "task_success", msg: "task completed" });
      return;
    }
    const shape = failureEvent(decision);
    // A run given back at shutdown is not an outcome: it will run again with the same attempt.
    if (decision.disposition.type !== "requeue") this.count(task, "failure");
    this.publish(task, taskPath, shape, redact);
  }

  private count(task: ClaimedTask, status: "success" | "failure"): void {
    const metrics = this.options.metrics;
    if (!metrics) return;
    metrics.tasksProcessed.inc({ status, queue: task.queueName });
    metrics.tasksCompleted.inc({ queue: task.queueName, status });
  }

  /** The one place events are redacted: `msg` is a literal of ours, metadata strings are scrubbed. */
  private publish(task: ClaimedTask, taskPath: string | null, shape: EventShape, redact: Redact = redactPatterns): void {
    const events = this.options.events;
    if (!events) return;
    const metadata: Record<string, string> = shape.extra ? redactRecord(shape.extra, redact) : {};
    if (taskPath) metadata.task_path = taskPath;
    if (task.attempts > 0) metadata.attempt = String(task.attempts);
    if (task.maxAttempts > 0) metadata.max_attempts = String(task.maxAttempts);
    if (this.options.role && metadata.role === undefined) metadata.role = this.options.role;
    events.publish({
      level: shape.level,
      type: shape.type,
      msg: shape.msg,
      queue: task.queueName,
      taskId: task.resultId,
      workerId: this.options.workerId,
      metadata,
    });
  }
}

/** The Go worker's event for each failure kind; kinds it did not have get the closest shape. */
function failureEvent(decision: Extract<Decision, { type: "failure" }>): EventShape {
  const { error, disposition } = decision;
  switch (error.kind) {
    case "invalid_spec":
      return { level: "error", type: "task_invalid", msg: "invalid task spec", extra: { reason: "invalid_spec" } };
    case "security_violation":
      return { level: "warn", type: "task_rejected", msg: "task rejected by validator", extra: { reason: "security_violation" } };
    case "cancelled":
      return { level: "warn", type: "task_cancelled", msg: "task cancelled by request", extra: { reason: "cancel_requested" } };
    case "shutdown":
      return { level: "warn", type: "task_requeued", msg: "task requeued at shutdown", extra: { reason: "shutdown" } };
    case "infra_error":
      return { level: "error", type: "task_infra_error", msg: "execution infrastructure error", extra: { reason: "infra_error", ...retryExtra(decision) } };
  }
  const extra: Record<string, string> = {};
  const exceptionClass = typeof error.exception_class === "string" ? error.exception_class : "";
  extra.exception_class = exceptionClass;
  if (error.message) extra.error_message = error.message;
  if (error.kind !== "app_error") extra.reason = error.kind;
  if (disposition.type === "retry") {
    return { level: "warn", type: "task_retry", msg: "task failed; retrying", extra: { ...extra, ...retryExtra(decision) } };
  }
  return { level: "error", type: "task_failed", msg: "task failed", extra };
}

function retryExtra(decision: Extract<Decision, { type: "failure" }>): Record<string, string> {
  const { disposition } = decision;
  if (disposition.type !== "retry") return {};
  return { next_run: new Date(Date.now() + disposition.retryDelaySeconds * 1000).toISOString() };
}
