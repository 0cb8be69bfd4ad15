// What the runtime reports for each decision: which event (type, level, metadata) and which
// counters, and that nothing is reported for a write that did not commit.
import { describe, expect, test } from "bun:test";
import { EventBroker } from "../../src/observability/events.ts";
import { exposition, Metrics } from "../../src/observability/metrics.ts";
import type { ClaimedTask } from "../../src/queue/types.ts";
import type { Decision } from "../../src/worker/classify.ts";
import { Telemetry } from "../../src/worker/telemetry.ts";

const task: ClaimedTask = {
  resultId: "42", queueName: "emails", priority: 0, specText: "{}", specHash: "h", taskPath: "tasks.send",
  attempts: 1, maxAttempts: 3, timeoutSeconds: 900, lockKey: null,
  concurrencyKey: null, concurrencyLimit: 0, workflowId: null, parentId: null, waitSeconds: 3,
};

function setup() {
  const metrics = new Metrics({ processMetrics: false });
  const events = new EventBroker();
  const telemetry = new Telemetry({ metrics, events, workerId: "w1", role: "worker", poolSize: 2 });
  const counter = async (name: string, labels: Record<string, string>) => {
    const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
    const values = (metric?.values ?? []) as { labels: Record<string, string | number>; value: number }[];
    return values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
  };
  return { metrics, events, telemetry, counter, published: () => events.since(null, {}) };
}

const failure = (kind: string, disposition: "retry" | "terminal" | "requeue", extra: Record<string, unknown> = {}): Decision => ({
  type: "failure",
  error: { kind, message: `${kind} happened`, ...extra },
  disposition: disposition === "retry" ? { type: "retry", retryDelaySeconds: 10 } : { type: disposition },
  lastError: "",
});

describe("Telemetry", () => {
  test("task_started carries the Go metadata", () => {
    const { telemetry, published } = setup();
    telemetry.started(task, "tasks.send");
    expect(published()).toMatchObject([{
      level: "info", type: "task_started", msg: "task started", queue: "emails", taskId: "42", workerId: "w1",
      metadata: { task_path: "tasks.send", attempt: "1", max_attempts: "3", role: "worker" },
    }]);
  });

  test("a written success counts once and publishes task_success", async () => {
    const { telemetry, published, counter } = setup();
    telemetry.recorded(task, "tasks.send", { type: "success", returnJson: null }, "written");
    expect(published().map((e) => e.type)).toEqual(["task_success"]);
    expect(await counter("reproq_tasks_processed_total", { status: "success", queue: "emails" })).toBe(1);
    expect(await counter("reproq_tasks_completed_total", { status: "success", queue: "emails" })).toBe(1);
  });

  test("nothing is counted or published for a write that did not commit", async () => {
    const { telemetry, published, counter } = setup();
    for (const write of ["fenced", "abandoned", "rejected", "skipped"] as const) {
      telemetry.recorded(task, "tasks.send", { type: "success", returnJson: null }, write);
      telemetry.recorded(task, "tasks.send", failure("app_error", "terminal"), write);
    }
    expect(published()).toEqual([]);
    expect(await counter("reproq_tasks_processed_total", { status: "success", queue: "emails" })).toBe(0);
    expect(await counter("reproq_tasks_processed_total", { status: "failure", queue: "emails" })).toBe(0);
  });

  test.each([
    ["app_error", "retry", "task_retry", "warn", { exception_class: "ValueError", error_message: "app_error happened" }],
    ["app_error", "terminal", "task_failed", "error", { exception_class: "ValueError", error_message: "app_error happened" }],
    ["timeout", "retry", "task_retry", "warn", { reason: "timeout" }],
    ["cancelled", "terminal", "task_cancelled", "warn", { reason: "cancel_requested" }],
    ["infra_error", "retry", "task_infra_error", "error", { reason: "infra_error" }],
    ["invalid_spec", "terminal", "task_invalid", "error", { reason: "invalid_spec" }],
    ["security_violation", "terminal", "task_rejected", "warn", { reason: "security_violation" }],
    ["shutdown", "requeue", "task_requeued", "warn", { reason: "shutdown" }],
  ] as const)("%s (%s) → %s", async (kind, disposition, type, level, metadata) => {
    const { telemetry, published, counter } = setup();
    telemetry.recorded(task, "tasks.send", failure(kind, disposition, { exception_class: "ValueError" }), "written");
    const [event] = published();
    expect(event).toMatchObject({ type, level, metadata: { task_path: "tasks.send", ...metadata } });
    if (disposition === "retry") expect(Date.parse(event?.metadata?.next_run ?? "")).toBeGreaterThan(Date.now());
    // Infra errors count as failures too (the Go worker skipped them); a requeue is no outcome.
    expect(await counter("reproq_tasks_processed_total", { status: "failure", queue: "emails" })).toBe(kind === "shutdown" ? 0 : 1);
  });

  test("claims: counted per task queue, wait observed, duration labelled with the queue list", async () => {
    const { telemetry, metrics, counter } = setup();
    telemetry.claimed(["default", "emails"], 0.004, [task, task]);
    telemetry.claimed(["default", "emails"], 0.002, []);
    expect(await counter("reproq_tasks_claimed_total", { queue: "emails" })).toBe(2);
    const text = await metrics.registry.metrics();
    expect(text).toContain('reproq_claim_duration_seconds_count{queue="default,emails"} 2');
    expect(text).toContain('reproq_queue_wait_duration_seconds_bucket{le="4",queue="emails"} 2');
    expect(text).toContain('reproq_queue_wait_duration_seconds_bucket{le="2",queue="emails"} 0');
  });

  test("pool gauges: operations beyond the pool size count as waits", async () => {
    const { telemetry, metrics } = setup();
    const gates: (() => void)[] = [];
    const held = Array.from({ length: 3 }, () => telemetry.db.run("heartbeat", () => new Promise<void>((resolve) => gates.push(resolve))));
    let text = await metrics.registry.metrics();
    expect(text).toContain("reproq_db_pool_connections_in_use 2");
    expect(text).toContain("reproq_db_pool_wait_count_total 1");
    for (const open of gates) open();
    await Promise.all(held);
    text = await metrics.registry.metrics();
    expect(text).toContain("reproq_db_pool_connections_in_use 0");
    expect(text).toContain("reproq_db_pool_wait_count_total 1");
    expect(text).toContain('reproq_db_operation_duration_seconds_count{operation="heartbeat"} 3');
  });
});

describe("exposition", () => {
  test("NaN is written as the text format spells it (prom-client writes `Nan`, which strict parsers reject)", async () => {
    const metrics = new Metrics();
    metrics.cpuUsagePercent.set(Number.NaN);
    expect(await metrics.registry.metrics()).toContain("reproq_worker_cpu_usage_percent Nan\n"); // what the library writes
    const text = await exposition(metrics.registry);
    expect(text).toContain("reproq_worker_cpu_usage_percent NaN\n");
    expect(text).not.toMatch(/ Nan$/m);
  });
});
