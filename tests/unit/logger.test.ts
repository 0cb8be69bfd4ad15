import { describe, expect, test } from "bun:test";
import { createLogger, isSecretKey, REDACTED, redact } from "../../src/observability/logger.ts";

describe("redaction", () => {
  test("payload and secret keys are redacted; spec_hash and task_path are not", () => {
    for (const key of ["payload_json", "Spec_JSON", "authorization", "api_token", "password", "kwargs", "traceback", "METRICS_AUTH_TOKEN"]) {
      expect(isSecretKey(key)).toBe(true);
    }
    for (const key of ["spec_hash", "task_path", "result_id", "queue", ""]) expect(isSecretKey(key)).toBe(false);
  });

  test("redaction recurses into nested objects and keeps the keys", () => {
    expect(redact({ task: { payload_json: "{…}", task_path: "tasks.x" }, list: [{ token: "t" }] })).toEqual({
      task: { payload_json: REDACTED, task_path: "tasks.x" },
      list: [{ token: REDACTED }],
    });
  });
});

describe("JSON lines", () => {
  test("time, level, msg first; scoped then call-site attributes; errors as messages; secrets redacted", async () => {
    const lines: string[] = [];
    const logger = await createLogger({ format: "json", level: "info", base: { worker_id: "w1" }, write: (line) => lines.push(line) });
    logger.child({ result_id: "42", spec_hash: "abc" }).warn("Task failed", { msg: "boom", error: new Error("db down"), spec_json: { args: [1] } });
    logger.debug("hidden below the level");
    expect(lines).toHaveLength(1);
    const record = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(Object.keys(record).slice(0, 3)).toEqual(["time", "level", "msg"]);
    expect(record).toMatchObject({ level: "WARN", msg: "Task failed", worker_id: "w1", result_id: "42", spec_hash: "abc", msg_attr: "boom", error: "db down", spec_json: REDACTED });
    expect(Date.parse(record.time as string)).not.toBeNaN();
  });
});
