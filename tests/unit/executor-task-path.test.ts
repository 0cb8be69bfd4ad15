import { describe, expect, test } from "bun:test";
import { childEnvironment, isTaskPathAllowed, resolveTaskPath, settingsModuleRefusal } from "../../src/executor/index.ts";

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

  test("an entry without a trailing dot matches at a module boundary only", () => {
    expect(isTaskPathAllowed("myapp.tasks.x", ["myapp.tasks"])).toBe(true);
    expect(isTaskPathAllowed("myapp.tasks.sub.y", ["myapp.tasks"])).toBe(true);
    expect(isTaskPathAllowed("myapp.tasks", ["myapp.tasks"])).toBe(true); // the entry names the task itself
    expect(isTaskPathAllowed("myapp.tasks_evil.x", ["myapp.tasks"])).toBe(false);
    expect(isTaskPathAllowed("myapp.tasksx", ["myapp.tasks"])).toBe(false);
    expect(isTaskPathAllowed("myapp.tasks.send_email", ["myapp.tasks.send_email"])).toBe(true);
    expect(isTaskPathAllowed("myapp.tasks.send_email_all", ["myapp.tasks.send_email"])).toBe(false);
  });

  test("an entry ending with a dot is a plain prefix; matching is case-sensitive", () => {
    expect(isTaskPathAllowed("myapp.tasks.x", ["myapp.tasks."])).toBe(true);
    expect(isTaskPathAllowed("myapp.tasks", ["myapp.tasks."])).toBe(false);
    expect(isTaskPathAllowed("MyApp.tasks.a", ["myapp.tasks."])).toBe(false);
  });

  test("empty entries never mean allow-all", () => {
    expect(isTaskPathAllowed("evil.task", [""])).toBe(false);
    expect(isTaskPathAllowed("tasks.ok", [""])).toBe(true);
  });
});

describe("resolveTaskPath", () => {
  test("column and spec agree, or only one of them names the task", () => {
    expect(resolveTaskPath("tasks.same", '{"task_path": "tasks.same"}')).toEqual({ taskPath: "tasks.same", spec: { task_path: "tasks.same" } });
    expect(resolveTaskPath("tasks.col", '{"v": 1}')).toEqual({ taskPath: "tasks.col", spec: { v: 1 } });
    expect(resolveTaskPath("tasks.col", '{"task_path": null}')).toEqual({ taskPath: "tasks.col", spec: { task_path: null } });
    expect(resolveTaskPath(null, '{"task_path": "tasks.spec"}')).toEqual({ taskPath: "tasks.spec", spec: { task_path: "tasks.spec" } });
    expect(resolveTaskPath("", '{"v": 1, "task_path": "tasks.spec"}')).toEqual({ taskPath: "tasks.spec", spec: { v: 1, task_path: "tasks.spec" } });
  });

  test("a column that disagrees with spec_json.task_path (the path the executor runs) is a security violation", () => {
    expect(resolveTaskPath("myapp.tasks.noop", '{"task_path": "evil.tasks.pwn"}')).toEqual({
      kind: "security_violation",
      error: 'security violation: task_path column "myapp.tasks.noop" does not match spec_json.task_path "evil.tasks.pwn" (the path the executor would run)',
      columnTaskPath: "myapp.tasks.noop",
      specTaskPath: "evil.tasks.pwn",
    });
  });

  test("a task_path in the spec that is not a string is an invalid spec, whatever the column holds", () => {
    // The migration's trigger copies spec_json->>'task_path' into the column, so the column says "123".
    expect(resolveTaskPath("123", '{"task_path": 123}')).toEqual({ kind: "invalid_spec", error: "spec_json.task_path is a number, not a string" });
    expect(resolveTaskPath(null, '{"task_path": 5}')).toEqual({ kind: "invalid_spec", error: "spec_json.task_path is a number, not a string" });
    expect(resolveTaskPath("tasks.x", '{"task_path": ["tasks.x"]}')).toEqual({ kind: "invalid_spec", error: "spec_json.task_path is an array, not a string" });
  });

  test("a spec that does not parse is an invalid spec even when the column is set", () => {
    expect(resolveTaskPath("tasks.x", "[1]")).toEqual({ kind: "invalid_spec", error: "spec_json is not an object" });
    const invalid = resolveTaskPath("tasks.x", "{nope");
    expect("error" in invalid && invalid.kind === "invalid_spec" && invalid.error.startsWith("spec_json is not valid JSON: ")).toBe(true);
  });

  test("errors", () => {
    const invalidSpec = (error: string) => ({ kind: "invalid_spec" as const, error });
    expect(resolveTaskPath(null, "")).toEqual(invalidSpec("spec_json is empty"));
    expect(resolveTaskPath(null, "  ")).toEqual(invalidSpec("spec_json is empty"));
    const invalid = resolveTaskPath(null, "{nope");
    expect("error" in invalid && invalid.error.startsWith("spec_json is not valid JSON: ")).toBe(true);
    expect(resolveTaskPath(null, "[1]")).toEqual(invalidSpec("spec_json is not an object"));
    expect(resolveTaskPath(null, "null")).toEqual(invalidSpec("spec_json is not an object"));
    expect(resolveTaskPath(null, '"tasks.x"')).toEqual(invalidSpec("spec_json is not an object"));
    expect(resolveTaskPath(null, "{}")).toEqual(invalidSpec("spec_json missing task_path"));
    expect(resolveTaskPath(null, '{"task_path": ""}')).toEqual(invalidSpec("spec_json missing task_path"));
    expect(resolveTaskPath(null, '{"task_path": null}')).toEqual(invalidSpec("spec_json missing task_path"));
  });
});

describe("settingsModuleRefusal", () => {
  const refusal = (django: unknown, own: string | null = "proj.settings", allowed: string[] = ["tasks."]) =>
    settingsModuleRefusal(django === undefined ? {} : { django }, own, allowed);

  test("nothing to refuse: no django key, no settings_module, an empty one (ignored by the executor), or the worker's own", () => {
    expect(refusal(undefined)).toBeNull();
    expect(refusal(null)).toBeNull();
    expect(refusal({})).toBeNull();
    expect(refusal({ settings_module: null })).toBeNull();
    expect(refusal({ settings_module: "" })).toBeNull();
    expect(refusal({ settings_module: "proj.settings" })).toBeNull();
  });

  test("another module is a security violation naming both and what to do; none in the executor's environment says so", () => {
    expect(refusal({ settings_module: "evil.settings" })).toEqual({
      kind: "security_violation",
      settingsModule: "evil.settings",
      error:
        'security violation: spec_json.django.settings_module "evil.settings" differs from the worker\'s DJANGO_SETTINGS_MODULE "proj.settings" ' +
        "(the executor would import it as Django settings, and allowed_task_modules does not check settings modules; " +
        "the Django backend never writes this key: remove it from the row, or run the worker with DJANGO_SETTINGS_MODULE=evil.settings)",
    });
    expect(refusal({ settings_module: "proj.settings" }, null)?.error).toStartWith(
      'security violation: spec_json.django.settings_module "proj.settings" is set but the executor\'s environment has no DJANGO_SETTINGS_MODULE (unset, or removed by executor_env_deny) (',
    );
    // Case and whitespace are not forgiven: the executor would import exactly this name.
    expect(refusal({ settings_module: "Proj.settings" })?.kind).toBe("security_violation");
    expect(refusal({ settings_module: "proj.settings " })?.kind).toBe("security_violation");
  });

  test('"*" turns the security check off; wrong types stay invalid_spec', () => {
    expect(refusal({ settings_module: "evil.settings" }, "proj.settings", ["*"])).toBeNull();
    expect(refusal({ settings_module: "evil.settings" }, null, ["tasks.", "*"])).toBeNull();
    expect(refusal({ settings_module: 42 }, "proj.settings", ["*"])).toEqual({ kind: "invalid_spec", error: "spec_json.django.settings_module is a number, not a string" });
    expect(refusal({ settings_module: false })).toEqual({ kind: "invalid_spec", error: "spec_json.django.settings_module is a boolean, not a string" });
    expect(refusal({ settings_module: ["a"] })).toEqual({ kind: "invalid_spec", error: "spec_json.django.settings_module is an array, not a string" });
    expect(refusal("proj.settings")).toEqual({ kind: "invalid_spec", error: "spec_json.django is a string, not an object" });
    expect(refusal([])).toEqual({ kind: "invalid_spec", error: "spec_json.django is an array, not an object" });
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
