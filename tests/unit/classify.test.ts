// The outcome table of SPEC §4.3, row by row, and the retry backoff.
import { describe, expect, test } from "bun:test";
import type { ExecutionResult } from "../../src/executor/index.ts";
import type { ClaimedTask } from "../../src/queue/types.ts";
import { PollBackoff, retryDelaySeconds } from "../../src/worker/backoff.ts";
import { classify, rejection, type AbortReason, type ClassifyInput } from "../../src/worker/classify.ts";
import { effectiveTimeoutMs } from "../../src/worker/pipeline.ts";

const task: ClaimedTask = {
  resultId: "42", queueName: "default", priority: 0, specText: "{}", specHash: "h", taskPath: "tasks.x",
  attempts: 1, maxAttempts: 3, timeoutSeconds: 900, waitSeconds: 0,
  lockKey: null, concurrencyKey: null, concurrencyLimit: 0, workflowId: null, parentId: null,
};

function result(partial: Partial<ExecutionResult>): ExecutionResult {
  return {
    outcome: "exited", message: "", exitCode: 0, signal: null, envelope: null, envelopeProblem: null,
    stdout: "", stderr: "", stdoutTruncated: false, stderrTruncated: false, durationMs: 5, pid: 1, ...partial,
  };
}

function run(partial: Partial<ExecutionResult>, options: { abortReason?: AbortReason | null; attempts?: number } = {}) {
  const input: ClassifyInput = {
    task: { ...task, attempts: options.attempts ?? 1 },
    taskPath: "tasks.x",
    workerId: "w1",
    result: result(partial),
    abortReason: options.abortReason ?? null,
    timeoutMs: 30_000,
    retry: { baseSeconds: 30, maxSeconds: 3600, jitter: 0 },
    random: () => 0.5,
  };
  return classify(input);
}

const ok = (returnJson: string | null) => ({ ok: true, returnJson, exceptionClass: "", message: "", traceback: "" });
const fail = { ok: false, returnJson: null, exceptionClass: "ValueError", message: "boom", traceback: "Traceback…" };

describe("classify", () => {
  test("ok:true → success with the raw return (absent return stays SQL NULL)", () => {
    expect(run({ envelope: ok('{"a":1}') })).toEqual({ type: "success", returnJson: '{"a":1}' });
    expect(run({ envelope: ok(null) })).toEqual({ type: "success", returnJson: null });
  });

  test("ok:false → app_error, retried with backoff while attempts remain, then terminal", () => {
    const first = run({ envelope: fail, exitCode: 1 });
    expect(first).toMatchObject({
      type: "failure",
      error: { kind: "app_error", exception_class: "ValueError", message: "boom", traceback: "Traceback…", attempt: 1, worker_id: "w1", exit_code: 1 },
      disposition: { type: "retry", retryDelaySeconds: 30 },
      lastError: "ValueError: boom",
    });
    expect(run({ envelope: fail, exitCode: 1 }, { attempts: 2 })).toMatchObject({ disposition: { type: "retry", retryDelaySeconds: 60 } });
    expect(run({ envelope: fail, exitCode: 1 }, { attempts: 3 })).toMatchObject({ disposition: { type: "terminal" } });
    // A row Django's admin put back to READY with attempts already at max runs once more, then fails.
    expect(run({ envelope: fail, exitCode: 1 }, { attempts: 4 })).toMatchObject({ disposition: { type: "terminal" } });
  });

  test("no envelope → app_error explaining what stdout held and the exit code", () => {
    const decision = run({ envelopeProblem: 'no result envelope on stdout (5 bytes, last line: "hello")', exitCode: 2 });
    expect(decision).toMatchObject({ type: "failure", error: { kind: "app_error", exit_code: 2 }, disposition: { type: "retry" } });
    expect(decision.type === "failure" && decision.error.message).toBe('no result envelope on stdout (5 bytes, last line: "hello") (exit code 2)');
    const killed = run({ envelopeProblem: "empty stdout", exitCode: null, signal: "SIGKILL" });
    expect(killed.type === "failure" && killed.error.message).toBe("empty stdout (killed by SIGKILL)");
  });

  test("timeout and infra errors retry while attempts remain and never forever", () => {
    expect(run({ outcome: "timeout", message: "timed out after 30s", exitCode: null })).toMatchObject({
      error: { kind: "timeout", message: "timed out after 30s", timeout_seconds: 30 },
      disposition: { type: "retry" },
    });
    for (const outcome of ["start_failed", "payload_too_large"] as const) {
      expect(run({ outcome, message: "payload size 15 exceeds limit 10" })).toMatchObject({ error: { kind: "infra_error" }, disposition: { type: "retry" } });
      expect(run({ outcome, message: "x" }, { attempts: 3 })).toMatchObject({ error: { kind: "infra_error" }, disposition: { type: "terminal" } });
    }
  });

  test("cancel → terminal cancelled, even with attempts left", () => {
    expect(run({ outcome: "aborted", exitCode: null }, { abortReason: "cancel" })).toMatchObject({
      error: { kind: "cancelled", message: "Task cancelled by request", task_path: "tasks.x", worker_id: "w1" },
      disposition: { type: "terminal" },
      lastError: "Task cancelled by request",
    });
  });

  test("shutdown → requeued with the attempt given back", () => {
    expect(run({ outcome: "aborted", exitCode: null }, { abortReason: "shutdown" })).toMatchObject({
      error: { kind: "shutdown" },
      disposition: { type: "requeue" },
    });
  });

  test("worker lost (registry heartbeat not renewed) → worker_lost, attempt counted, READY at once; terminal when out of attempts", () => {
    expect(run({ outcome: "aborted", exitCode: null }, { abortReason: "worker_lost" })).toMatchObject({
      type: "failure",
      error: { kind: "worker_lost", attempt: 1, worker_id: "w1" },
      disposition: { type: "retry", retryDelaySeconds: 0 },
    });
    const last = run({ outcome: "aborted", exitCode: null }, { abortReason: "worker_lost", attempts: 3 });
    expect(last).toMatchObject({ type: "failure", error: { kind: "worker_lost" }, disposition: { type: "terminal" } });
    if (last.type === "failure") expect(last.lastError).toStartWith("worker_lost: the worker could not renew its registry heartbeat");
    // A task that finished on its own before the stop keeps its real outcome.
    expect(run({ envelope: ok("1") }, { abortReason: "worker_lost" })).toEqual({ type: "success", returnJson: "1" });
    // One whose body had returned and printed its success, killed while its process was exiting:
    // the row is still this worker's (the stop comes before its deadline), so the success counts
    // rather than running the task again.
    expect(run({ outcome: "aborted", exitCode: null, signal: "SIGKILL", envelope: ok("2") }, { abortReason: "worker_lost" })).toEqual({ type: "success", returnJson: "2" });
    // A failure envelope is not taken: the stop may have cut the task short.
    expect(run({ outcome: "aborted", exitCode: null, signal: "SIGKILL", envelope: fail }, { abortReason: "worker_lost" })).toMatchObject({ type: "failure", error: { kind: "worker_lost" } });
  });

  test("lease lost → nothing is written, whatever the process printed", () => {
    expect(run({ outcome: "aborted" }, { abortReason: "lease_lost" }).type).toBe("none");
    expect(run({ envelope: ok("1") }, { abortReason: "lease_lost" }).type).toBe("none");
  });

  test("a cancel that arrives after the process already finished keeps the real outcome", () => {
    expect(run({ envelope: ok("1") }, { abortReason: "cancel" })).toEqual({ type: "success", returnJson: "1" });
  });

  test("rejections are terminal and never retried", () => {
    expect(rejection("security_violation", "security violation: unauthorized task module path: evil.x", "evil.x")).toMatchObject({
      error: { kind: "security_violation", task_path: "evil.x" },
      disposition: { type: "terminal" },
      lastError: "security violation: unauthorized task module path: evil.x",
    });
    expect(rejection("invalid_spec", "spec_json missing task_path", null)).toMatchObject({ error: { kind: "invalid_spec" }, disposition: { type: "terminal" } });
  });
});

describe("backoff", () => {
  test("retry delay: min(base · 2^(attempt−1), max) ± jitter", () => {
    const policy = { baseSeconds: 30, maxSeconds: 3600, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 200].map((a) => retryDelaySeconds(a, policy))).toEqual([30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
    const jittered = { ...policy, jitter: 0.1 };
    expect(retryDelaySeconds(1, jittered, () => 0)).toBeCloseTo(27);
    expect(retryDelaySeconds(1, jittered, () => 1)).toBeCloseTo(33);
    expect(retryDelaySeconds(9, jittered, () => 1)).toBe(3600); // never above max
  });

  test("poll backoff doubles from min to max and resets", () => {
    const backoff = new PollBackoff(100, 1000);
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([100, 200, 400, 800, 1000, 1000]);
    backoff.reset();
    expect(backoff.next()).toBe(100);
  });
});

test("the task's own timeout applies, capped by exec_timeout (the Go worker ignored it)", () => {
  expect(effectiveTimeoutMs({ ...task, timeoutSeconds: 900 }, 3_600_000)).toBe(900_000);
  expect(effectiveTimeoutMs({ ...task, timeoutSeconds: 7200 }, 3_600_000)).toBe(3_600_000);
  expect(effectiveTimeoutMs({ ...task, timeoutSeconds: 0 }, 3_600_000)).toBe(3_600_000);
});
