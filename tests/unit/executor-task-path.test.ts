import { describe, expect, test } from "bun:test";
import { childEnvironment, isTaskPathAllowed, resolveTaskPath } from "../../src/executor/index.ts";

describe("isTaskPathAllowed (go-worker-contract §5.6 vectors)", () => {
  const allowed = ["myapp.tasks.", "shared."];

  test("allows paths under a listed prefix", () => {
    expect(isTaskPathAllowed("myapp.tasks.send_email", allowed)).toBe(true);
    expect(isTaskPathAllowed("shared.cleanup", allowed)).toBe(true);
  });

  test("rejects other modules and look-alike prefixes", () => {
    expect(isTaskPathAllowed("other.malicious_task", allowed)).toBe(false);
    expect(isTaskPathAllowed("myapp.tasks_bypass", allowed)).toBe(false);
  });

  test('"*" allows anything', () => {
    expect(isTaskPathAllowed("anything.at.all", ["*"])).toBe(true);
    expect(isTaskPathAllowed("x", ["nope.", "*"])).toBe(true);
  });

  test("an empty list means the defaults myapp.tasks. and tasks.", () => {
    expect(isTaskPathAllowed("myapp.tasks.a", [])).toBe(true);
    expect(isTaskPathAllowed("tasks.a", [])).toBe(true);
    expect(isTaskPathAllowed("other.a", [])).toBe(false);
    expect(isTaskPathAllowed("mytasks.a", [])).toBe(false);
  });

  test("prefix match is plain and case-sensitive (no dot semantics)", () => {
    expect(isTaskPathAllowed("myapp.tasks_x", ["myapp.tasks"])).toBe(true);
    expect(isTaskPathAllowed("MyApp.tasks.a", ["myapp.tasks."])).toBe(false);
  });

  test("empty entries never mean allow-all", () => {
    expect(isTaskPathAllowed("evil.task", [""])).toBe(false);
    expect(isTaskPathAllowed("tasks.ok", [""])).toBe(true);
  });
});

describe("resolveTaskPath", () => {
  test("the column wins when non-empty", () => {
    expect(resolveTaskPath("tasks.col", '{"task_path": "tasks.spec"}')).toEqual({ taskPath: "tasks.col" });
  });

  test("falls back to spec_json.task_path when the column is null or empty", () => {
    expect(resolveTaskPath(null, '{"task_path": "tasks.spec"}')).toEqual({ taskPath: "tasks.spec" });
    expect(resolveTaskPath("", '{"v": 1, "task_path": "tasks.spec"}')).toEqual({ taskPath: "tasks.spec" });
  });

  test("errors", () => {
    expect(resolveTaskPath(null, "")).toEqual({ error: "spec_json is empty" });
    expect(resolveTaskPath(null, "  ")).toEqual({ error: "spec_json is empty" });
    const invalid = resolveTaskPath(null, "{nope");
    expect("error" in invalid && invalid.error.startsWith("spec_json is not valid JSON: ")).toBe(true);
    expect(resolveTaskPath(null, "[1]")).toEqual({ error: "spec_json is not an object" });
    expect(resolveTaskPath(null, "null")).toEqual({ error: "spec_json is not an object" });
    expect(resolveTaskPath(null, '"tasks.x"')).toEqual({ error: "spec_json is not an object" });
    expect(resolveTaskPath(null, "{}")).toEqual({ error: "spec_json missing task_path" });
    expect(resolveTaskPath(null, '{"task_path": ""}')).toEqual({ error: "spec_json missing task_path" });
    expect(resolveTaskPath(null, '{"task_path": null}')).toEqual({ error: "spec_json missing task_path" });
    expect(resolveTaskPath(null, '{"task_path": 5}')).toEqual({ error: "spec_json missing task_path (task_path is a number, not a string)" });
  });
});

describe("childEnvironment", () => {
  test("inherits everything except the deny list (exact names)", () => {
    const env = { PATH: "/bin", METRICS_AUTH_TOKEN: "secret", metrics_auth_token: "lower", DATABASE_URL: "postgres://" };
    expect(childEnvironment(env, ["METRICS_AUTH_TOKEN"])).toEqual({ PATH: "/bin", metrics_auth_token: "lower", DATABASE_URL: "postgres://" });
    expect(childEnvironment(env, [])).toEqual(env);
  });

  test("does not modify its input", () => {
    const env = Object.freeze({ A: "1", B: "2" });
    expect(childEnvironment(env, ["A"])).toEqual({ B: "2" });
    expect(env).toEqual({ A: "1", B: "2" });
  });
});
