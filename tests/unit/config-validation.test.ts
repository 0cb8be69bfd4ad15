// Config validation: exact problem messages, scope isolation and unknown-key warnings. No database.

import { describe, expect, test } from "bun:test";
import type { Config } from "../../src/config/index.ts";
import { ConfigError } from "../../src/errors.ts";
import { load, problemsOf, tempDir } from "../helpers/config.ts";

describe("validation messages", () => {
  const yaml = (body: string) => ({ cwd: tempDir({ "reproq.yaml": body }) });

  test("bad duration from the file (a YAML integer has no unit)", async () => {
    expect(await problemsOf(yaml("worker:\n  exec_timeout: 3600\n"))).toEqual([
      "worker.exec_timeout must be a duration like 250ms, 1m30s or 1h, got 3600 (from reproq.yaml)",
    ]);
  });

  test("bad duration from env", async () => {
    expect(await problemsOf({ env: { METRICS_AUTH_WINDOW: "soon" } })).toEqual([
      'metrics.auth_window must be a duration like 250ms, 1m30s or 1h, got "soon" (from METRICS_AUTH_WINDOW)',
    ]);
  });

  test("concurrency 0 from a flag", async () => {
    expect(await problemsOf({ flags: { concurrency: "0" } })).toEqual([
      "worker.concurrency must be an integer ≥ 1, got 0 (from --concurrency)",
    ]);
  });

  test("concurrency 0 from the file", async () => {
    expect(await problemsOf(yaml("worker:\n  concurrency: 0\n"))).toEqual([
      "worker.concurrency must be an integer ≥ 1, got 0 (from reproq.yaml)",
    ]);
  });

  test("negative lease_seconds", async () => {
    expect(await problemsOf({ env: { REPROQ_LEASE_SECONDS: "-5" } })).toEqual([
      "worker.lease_seconds must be an integer ≥ 1, got -5 (from REPROQ_LEASE_SECONDS)",
    ]);
  });

  test("non-integers are rejected", async () => {
    expect(await problemsOf({ flags: { concurrency: "1.5" } })).toEqual([
      "worker.concurrency must be an integer ≥ 1, got \"1.5\" (from --concurrency)",
    ]);
    expect(await problemsOf({ env: { PRIORITY_AGING_FACTOR: "NaN" } })).toEqual([
      'worker.priority_aging_factor must be a number, got "NaN" (from PRIORITY_AGING_FACTOR)',
    ]);
  });

  test("unknown payload mode", async () => {
    expect(await problemsOf({ env: { REPROQ_PAYLOAD_MODE: "fast" } })).toEqual([
      'worker.payload_mode must be one of stdin, file, inline, got "fast" (from REPROQ_PAYLOAD_MODE)',
    ]);
  });

  test("a YAML scalar where a list is expected", async () => {
    expect(await problemsOf(yaml("worker:\n  queues: default\n"))).toEqual([
      'worker.queues must be a list of strings, got "default" (from reproq.yaml)',
    ]);
  });

  test("a comma string in the file is not split into a list", async () => {
    expect(await problemsOf(yaml('worker:\n  allowed_task_modules: "a.,b."\n'))).toEqual([
      'worker.allowed_task_modules must be a list of strings, got "a.,b." (from reproq.yaml)',
    ]);
  });

  test("poll_max_backoff below poll_min_backoff", async () => {
    expect(await problemsOf(yaml("worker:\n  poll_min_backoff: 2s\n  poll_max_backoff: 500ms\n"))).toEqual([
      "worker.poll_max_backoff must be ≥ worker.poll_min_backoff (2s), got 500ms (from reproq.yaml)",
    ]);
  });

  test("heartbeat must be shorter than the lease; 0 only when the lease outlasts exec_timeout", async () => {
    expect(await problemsOf({ flags: { "lease-seconds": "30", "heartbeat-seconds": "30" } })).toEqual([
      "worker.heartbeat_seconds must be < worker.lease_seconds (30), got 30 (from --heartbeat-seconds)",
    ]);
    expect(await problemsOf({ flags: { "heartbeat-seconds": "0" } })).toEqual([
      "worker.heartbeat_seconds may be 0 (no lease renewal) only when worker.lease_seconds (300) outlasts " +
        "worker.exec_timeout (1h), otherwise a long task loses its lease while still running; got 0 (from --heartbeat-seconds)",
    ]);
    const ok = await load({ flags: { "heartbeat-seconds": "0", "exec-timeout": "5m", "lease-seconds": "301" } });
    expect(ok.worker.heartbeatSeconds).toBe(0);
  });

  test("other cross-field rules", async () => {
    expect(await problemsOf({ flags: { "retry-base-seconds": "60", "retry-max-seconds": "10" } })).toEqual([
      "worker.retry_max_seconds must be ≥ worker.retry_base_seconds (60), got 10 (from --retry-max-seconds)",
    ]);
    expect(await problemsOf({ env: { METRICS_TLS_KEY: "key.pem" } })).toEqual([
      "metrics.tls_cert and metrics.tls_key must be set together, got metrics.tls_key (from METRICS_TLS_KEY) but no metrics.tls_cert",
    ]);
    expect(await problemsOf({ env: { METRICS_TLS_CLIENT_CA: "ca.pem" } })).toEqual([
      "metrics.tls_client_ca needs metrics.tls_cert and metrics.tls_key (mTLS runs over TLS), got only metrics.tls_client_ca (from METRICS_TLS_CLIENT_CA)",
    ]);
    expect(await problemsOf({ flags: { executor: "command" } })).toEqual([
      'worker.executor_command must name the program to run when worker.executor is "command" (from --executor)',
    ]);
  });

  test("every problem is reported, one line each, in one ConfigError", async () => {
    const cwd = tempDir({ "reproq.yaml": "worker:\n  queues: default\n  exec_timeout: 3600\n" });
    let caught: unknown;
    try {
      await load({ cwd, flags: { concurrency: "0" }, env: { REPROQ_PAYLOAD_MODE: "fast" } });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.problems).toEqual([
      'worker.queues must be a list of strings, got "default" (from reproq.yaml)',
      "worker.concurrency must be an integer ≥ 1, got 0 (from --concurrency)",
      'worker.payload_mode must be one of stdin, file, inline, got "fast" (from REPROQ_PAYLOAD_MODE)',
      "worker.exec_timeout must be a duration like 250ms, 1m30s or 1h, got 3600 (from reproq.yaml)",
    ]);
    expect(error.message).toBe(error.problems[0] ?? "");
    expect(error.details).toEqual(error.problems.slice(1));
  });

  test("a section that is not a table", async () => {
    expect(await problemsOf(yaml("metrics: 5\n"))).toEqual(["metrics must be a table of settings, got 5 (from reproq.yaml)"]);
  });
});

describe("scope isolation", () => {
  const cwd = () => tempDir({ "reproq.yaml": "worker:\n  concurrency: 0\nmetrics: nope\n" });

  test("bad worker settings do not fail db-scope or beat-scope commands", async () => {
    const config = await load({ cwd: cwd(), scope: "db" });
    expect(config.worker.concurrency).toBe(10); // falls back to the default
    await load({ cwd: cwd(), scope: "beat" });
  });

  test("but they fail worker and all", async () => {
    const expected = [
      "metrics must be a table of settings, got \"nope\" (from reproq.yaml)",
      "worker.concurrency must be an integer ≥ 1, got 0 (from reproq.yaml)",
    ];
    expect(await problemsOf({ cwd: cwd(), scope: "worker" })).toEqual(expected);
    expect(await problemsOf({ cwd: cwd(), scope: "all" })).toEqual(expected);
  });

  test("bad beat.interval fails beat but not worker", async () => {
    const dir = tempDir({ "reproq.yaml": "beat:\n  interval: 0s\n" });
    expect(await problemsOf({ cwd: dir, scope: "beat" })).toEqual(["beat.interval must be a duration > 0, got 0s (from reproq.yaml)"]);
    await load({ cwd: dir, scope: "worker" });
  });
});

describe("warnings", () => {
  test("unknown keys are warnings, with a suggestion when one is close", async () => {
    const cwd = tempDir({ "reproq.yaml": "worker:\n  concurency: 5\n  frobnicate: 1\nlog_levle: debug\nconcurrency: 3\nextra: {}\n" });
    const config = await load({ cwd });
    expect(config.warnings).toEqual([
      'unknown key "worker.concurency" in reproq.yaml (ignored); did you mean "worker.concurrency"?',
      'unknown key "worker.frobnicate" in reproq.yaml (ignored)',
      'unknown key "log_levle" in reproq.yaml (ignored); did you mean "log_level"?',
      'unknown key "concurrency" in reproq.yaml (ignored); did you mean "worker.concurrency"?',
      'unknown key "extra" in reproq.yaml (ignored)',
    ]);
    expect(config.worker.concurrency).toBe(10);
  });
});
