// Per-task work the worker does before a TypeScript task runs: the spec is parsed once (the
// pipeline's task-path check hands its parse to the bun-inprocess executor), and the module file
// of a task path is looked up on disk (stat + realpath) at most once per second, not per task —
// while a change on disk (file gone, symlink now escaping tasks_dir) is seen once that second is up.
import { afterAll, describe, expect, spyOn, test } from "bun:test";
import { renameSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { createExecutor, resolveTaskPath } from "../../src/executor/index.ts";
import { taskModuleResolver } from "../../src/executor/ts-module.ts";
import { testEnv, workerConfig } from "../helpers/executors/index.ts";
import { makeTasksDir } from "../helpers/ts-tasks/fixture.ts";

const fixture = makeTasksDir();
afterAll(() => fixture.remove());

describe("spec parsing", () => {
  test("resolveTaskPath + a bun-inprocess run parse spec_json once", async () => {
    const executor = createExecutor({ worker: workerConfig({ executor: "bun-inprocess", tasksDir: fixture.dir }), env: testEnv() });
    const payload = JSON.stringify({ task_path: "basic.add", args: [2, 3], kwargs: { tag: "x" }, queue_name: "reports" });
    const run = async () => {
      const resolved = resolveTaskPath("basic.add", payload);
      if (!("taskPath" in resolved)) throw new Error(resolved.error);
      const request = { resultId: "7", attempt: 1, taskPath: resolved.taskPath, payload, spec: resolved.spec, timeoutMs: 20_000 };
      return executor.run({ ...request, signal: new AbortController().signal });
    };
    await run(); // imports the module
    const parse = spyOn(JSON, "parse");
    try {
      const result = await run();
      expect(result.envelope?.ok).toBe(true);
      expect(JSON.parse(result.envelope!.returnJson!)).toMatchObject({ sum: 5, kwargs: { tag: "x" }, ctx: { queue: "reports" } });
      expect(parse.mock.calls.filter(([text]) => text === payload)).toHaveLength(1);
    } finally {
      parse.mockRestore();
    }
  });
});

describe("taskModuleResolver", () => {
  test("a found module is remembered for the TTL, then looked up again", () => {
    let now = 0;
    const resolve = taskModuleResolver(fixture.dir, { ttlMs: 1_000, now: () => now });
    const first = resolve("nested.deep.hello");
    expect(first).toMatchObject({ ok: true, exportName: "hello", modulePath: "nested.deep" });
    const file = (first as { file: string }).file;
    renameSync(file, `${file}.moved`);
    try {
      now = 999;
      expect(resolve("nested.deep.hello")).toEqual(first); // within the TTL: no disk access
      now = 1_000;
      expect(resolve("nested.deep.hello")).toMatchObject({ ok: false, kind: "not_found" });
    } finally {
      renameSync(`${file}.moved`, file);
    }
    expect(resolve("nested.deep.hello")).toEqual(first); // a miss is not remembered
  });

  test("a module whose symlink now leaves tasks_dir is refused once the TTL is up", () => {
    let now = 0;
    const resolve = taskModuleResolver(fixture.dir, { ttlMs: 1_000, now: () => now });
    const link = join(fixture.dir, "swapped.ts");
    symlinkSync(join(fixture.dir, "basic.ts"), link);
    try {
      expect(resolve("swapped.add")).toMatchObject({ ok: true });
      rmSync(link);
      symlinkSync(fixture.outsideFile, link);
      now = 1_500;
      expect(resolve("swapped.add")).toMatchObject({ ok: false, kind: "security_violation" });
    } finally {
      rmSync(link, { force: true });
    }
  });

  test("refusals stay refusals within the TTL", () => {
    const resolve = taskModuleResolver(fixture.dir, { ttlMs: 60_000 });
    for (let i = 0; i < 2; i++) {
      expect(resolve("escape.run")).toMatchObject({ ok: false, kind: "security_violation" });
      expect(resolve("../etc.passwd")).toMatchObject({ ok: false, kind: "security_violation" });
    }
    expect(resolve("basic.add")).toMatchObject({ ok: true });
  });
});
