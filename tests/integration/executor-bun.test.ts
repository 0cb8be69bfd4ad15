// The bun and bun-inprocess executor kinds through createExecutor: the same task fixtures must
// behave the same under both (result, thrown errors, timeouts, cancel, bad modules, escapes).
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExecutor, type ExecutionRequest, type ExecutionResult } from "../../src/executor/index.ts";
import { testEnv, workerConfig } from "../helpers/executors/index.ts";
import { makeTasksDir } from "../helpers/ts-tasks/fixture.ts";
import { expectQuick } from "../helpers/timing.ts";

setDefaultTimeout(60_000);

const fixture = makeTasksDir();
afterAll(() => fixture.remove());

const KILL_GRACE_MS = 1_000;

function run(kind: "bun" | "bun-inprocess", taskPath: string, options: { kwargs?: Record<string, unknown>; args?: unknown[]; timeoutMs?: number; signal?: AbortSignal; tasksDir?: string } = {}): Promise<ExecutionResult> {
  const executor = createExecutor({
    worker: workerConfig({ executor: kind, tasksDir: options.tasksDir ?? fixture.dir }),
    env: testEnv(),
    killGraceMs: KILL_GRACE_MS,
  });
  const payload = JSON.stringify({ task_path: taskPath, args: options.args ?? [], kwargs: options.kwargs ?? {}, queue_name: "reports" });
  const request: ExecutionRequest = {
    resultId: "41",
    attempt: 2,
    taskPath,
    payload,
    timeoutMs: options.timeoutMs ?? 20_000,
    signal: options.signal ?? new AbortController().signal,
  };
  return executor.run(request);
}

function returned(result: ExecutionResult): unknown {
  return JSON.parse(result.envelope?.returnJson ?? "undefined");
}

describe.each(["bun", "bun-inprocess"] as const)("executor kind %s", (kind) => {
  test("success: the return value and ctx (resultId, attempt, queue, taskPath, signal)", async () => {
    const result = await run(kind, "basic.add", { args: [2, 3], kwargs: { tag: "x" } });
    expect(result.outcome).toBe("exited");
    expect(result.envelope?.ok).toBe(true);
    expect(returned(result)).toEqual({
      sum: 5,
      kwargs: { tag: "x" },
      ctx: { resultId: "41", attempt: 2, queue: "reports", taskPath: "basic.add", aborted: false },
    });
  });

  test("a .js module in a subdirectory (nested.deep.hello → nested/deep.js)", async () => {
    const result = await run(kind, "nested.deep.hello", { args: ["there"] });
    expect(returned(result)).toBe("hello there");
  });

  test("a thrown error: class (a subclass's own name), message and stack", async () => {
    const result = await run(kind, "basic.fail", { kwargs: { message: "over the limit" } });
    expect(result.outcome).toBe("exited");
    expect(result.envelope).toMatchObject({ ok: false, exceptionClass: "QuotaExceeded", message: "over the limit" });
    expect(result.envelope?.traceback).toContain("basic.ts");
  });

  test("a synchronous throw is an app error too", async () => {
    const result = await run(kind, "basic.syncThrow");
    expect(result.envelope).toMatchObject({ ok: false, exceptionClass: "RangeError", message: "thrown synchronously" });
    expect(result.envelope?.traceback).toContain("syncThrow");
  });

  test("timeout: the signal is aborted and the run reported as timeout", async () => {
    const started = performance.now();
    const result = await run(kind, "basic.sleepy", { kwargs: { ms: 30_000 }, timeoutMs: 300 });
    expect(result.outcome).toBe("timeout");
    expect(result.message).toContain("timed out after 300ms");
    expectQuick(performance.now() - started, 1_000, "a 300 ms timeout of a 30 s task");
  });

  test("a task that never settles is stopped after the timeout plus the kill grace", async () => {
    const started = performance.now();
    const result = await run(kind, "basic.forever", { timeoutMs: 300 });
    expect(result.outcome).toBe("timeout");
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(300 + KILL_GRACE_MS - 50);
    expectQuick(elapsed, 300 + KILL_GRACE_MS + 500, "the timeout plus the kill grace");
    expect(result.message).toMatch(kind === "bun" ? /SIGKILL/ : /abandoned/);
  });

  test("cancel (the runtime aborts the request signal): outcome aborted", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("cancel")), 300);
    const result = await run(kind, "basic.sleepy", { kwargs: { ms: 30_000 }, signal: controller.signal });
    expect(result.outcome).toBe("aborted");
    expect(result.message).toContain("cancel");
  });

  test("a module with a syntax error: a clear app error naming the module", async () => {
    const result = await run(kind, "broken_syntax.run");
    expect(result.outcome).toBe("exited");
    expect(result.envelope?.ok).toBe(false);
    expect(result.envelope?.message).toContain("cannot import task module broken_syntax");
  });

  test("a module that throws while importing: its class and message", async () => {
    const result = await run(kind, "broken_throw.run");
    expect(result.envelope).toMatchObject({ ok: false, exceptionClass: "TypeError" });
    expect(result.envelope?.message).toContain("cannot import task module broken_throw");
    expect(result.envelope?.message).toContain("config missing at import time");
  });

  test("a missing module or export: TaskNotFoundError", async () => {
    expect((await run(kind, "nothing.here")).envelope).toMatchObject({ ok: false, exceptionClass: "TaskNotFoundError" });
    const missing = await run(kind, "basic.nope");
    expect(missing.envelope).toMatchObject({ ok: false, exceptionClass: "TaskNotFoundError" });
    expect(missing.envelope?.message).toContain('does not export "nope"');
    expect((await run(kind, "basic.notAFunction")).envelope?.message).toContain("not a function");
  });

  test("paths outside tasks_dir are refused before anything runs: security_violation", async () => {
    for (const taskPath of ["../x", "..x.y", "a/b.c", "basic", ".basic.add", "basic..add"]) {
      const result = await run(kind, taskPath);
      expect(result.outcome).toBe("security_violation");
      expect(result.pid).toBeNull();
    }
    const escape = await run(kind, "escape.run");
    expect(escape.outcome).toBe("security_violation");
    expect(escape.message).toContain("outside tasks_dir");
  });

  test("a tasks_dir whose real path contains ? or # is refused (Bun would import another file)", async () => {
    const root = mkdtempSync(join(tmpdir(), "reproq-ts-query-"));
    try {
      for (const name of ["tasks?x", "tasks#x"]) {
        const dir = join(root, name);
        mkdirSync(dir);
        writeFileSync(join(dir, "mod.ts"), "export function run() { return 'should never run'; }\n");
        const result = await run(kind, "mod.run", { tasksDir: dir });
        expect(result.outcome).toBe("security_violation");
        expect(result.message).toContain('"?" or "#"');
        expect(result.pid).toBeNull();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("a return value that is not JSON-serialisable (BigInt, cycle) is an app error", async () => {
    const big = await run(kind, "basic.bigint");
    expect(big.envelope).toMatchObject({ ok: false, exceptionClass: "TypeError" });
    expect(big.envelope?.message).toContain("not JSON-serialisable");
    expect((await run(kind, "basic.cyclic")).envelope?.message).toContain("not JSON-serialisable");
  });

  test("stray rejections and timer exceptions in task code do not take the worker down", async () => {
    if (kind === "bun") {
      expect(returned(await run(kind, "basic.stray"))).toBe("ok");
      return;
    }
    // In a plain process: bun test's own handlers would catch the stray errors first.
    const child = Bun.spawn([process.execPath, join(import.meta.dir, "..", "helpers", "ts-tasks", "run-inprocess.ts"), fixture.dir, "basic.stray", "basic.add"], {
      stdout: "pipe", stderr: "pipe", env: testEnv(),
    });
    const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    expect(code).toBe(0);
    const lines = stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toEqual([
      { taskPath: "basic.stray", outcome: "exited", ok: true, returnJson: '"ok"' },
      { taskPath: "basic.add", outcome: "exited", ok: true, returnJson: expect.stringContaining('"sum":3') },
    ]);
    expect(stderr).toContain("Unhandled promise rejection in task code (bun-inprocess); ignored");
    expect(stderr).toContain("Uncaught exception in task code (bun-inprocess); ignored");
  });
});

describe("bun kind specifics", () => {
  test("task output is captured and the envelope is still found after it", async () => {
    const result = await run("bun", "basic.noisy");
    expect(result.envelope).toMatchObject({ ok: true, returnJson: '{"noisy":true}' });
    expect(result.stdout).toContain("hello from the task");
    expect(result.pid).toBeGreaterThan(0);
  });
});

describe("bun-inprocess specifics", () => {
  test("an abandoned task that rejects later does not crash the worker", async () => {
    const result = await run("bun-inprocess", "basic.lateReject", { kwargs: { ms: KILL_GRACE_MS + 800 }, timeoutMs: 100 });
    expect(result.outcome).toBe("timeout");
    expect(result.message).toContain("abandoned");
    await Bun.sleep(1_000); // the rejection lands here
    expect(returned(await run("bun-inprocess", "basic.add", { args: [4] }))).toMatchObject({ sum: 4 });
  });

  const SHORT_GRACE_MS = 300;
  const shortGraceExecutor = () =>
    createExecutor({ worker: workerConfig({ executor: "bun-inprocess", tasksDir: fixture.dir }), env: testEnv(), killGraceMs: SHORT_GRACE_MS });
  const neverLoads = (signal: AbortSignal, timeoutMs = 20_000): ExecutionRequest => ({
    resultId: "1", attempt: 1, taskPath: "never_loads.run", payload: "{}", timeoutMs, signal,
  });

  test("a module whose import never finishes: timeout after the kill grace, and again for the next task", async () => {
    const executor = shortGraceExecutor();
    for (let i = 0; i < 2; i++) { // the second run must not hang on a cached pending import
      const started = performance.now();
      const result = await executor.run(neverLoads(new AbortController().signal, 300));
      const elapsed = performance.now() - started;
      expect(result.outcome).toBe("timeout");
      expect(result.message).toContain("timed out after 300ms");
      expect(result.message).toContain("did not finish importing");
      expect(elapsed).toBeGreaterThanOrEqual(300 + SHORT_GRACE_MS - 50);
      expectQuick(elapsed, 300 + SHORT_GRACE_MS + 400, "the timeout plus the kill grace");
    }
  });

  test("a module whose import never finishes: cancel gives aborted", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("cancel")), 300);
    const started = performance.now();
    const result = await shortGraceExecutor().run(neverLoads(controller.signal, 50_000));
    expect(result.outcome).toBe("aborted");
    expect(result.message).toContain("cancel");
    expectQuick(performance.now() - started, 300 + SHORT_GRACE_MS + 400, "a cancel 300 ms in"); // not the 50 s timeout
  });

  test("a module that threw at import is re-evaluated once fixed (no restart needed)", async () => {
    const file = join(fixture.dir, "late_fix_throw.ts");
    writeFileSync(file, 'throw new Error("not configured yet");\nexport function run() { return "too early"; }\n');
    const executor = createExecutor({ worker: workerConfig({ executor: "bun-inprocess", tasksDir: fixture.dir }), env: testEnv() });
    const request = (): ExecutionRequest => ({ resultId: "1", attempt: 1, taskPath: "late_fix_throw.run", payload: "{}", timeoutMs: 5_000, signal: new AbortController().signal });
    const first = await executor.run(request());
    expect(first.outcome).toBe("exited");
    expect(first.envelope).toMatchObject({ ok: false });
    expect(first.envelope?.message).toContain("not configured yet");
    writeFileSync(file, "export function run() { return 'fixed'; }\n");
    const second = await executor.run(request());
    expect(second.envelope).toMatchObject({ ok: true, returnJson: '"fixed"' });
  });

  test("a failed import is retried by the next task (not cached as broken)", async () => {
    const file = join(fixture.dir, "late_fix.ts");
    writeFileSync(file, "export function run( {\n");
    const executor = createExecutor({ worker: workerConfig({ executor: "bun-inprocess", tasksDir: fixture.dir }), env: testEnv() });
    const request = (): ExecutionRequest => ({ resultId: "1", attempt: 1, taskPath: "late_fix.run", payload: "{}", timeoutMs: 5_000, signal: new AbortController().signal });
    expect((await executor.run(request())).envelope?.ok).toBe(false);
    writeFileSync(file, "export function run() { return 'fixed'; }\n");
    const second = await executor.run(request());
    expect(second.envelope).toMatchObject({ ok: true, returnJson: '"fixed"' });
  });
});

describe("reproq exec child", () => {
  test("a task awaiting a promise that never settles does not busy-spin a CPU core", async () => {
    if (process.platform !== "linux") return; // reads /proc
    const main = join(import.meta.dir, "..", "..", "src", "main.ts");
    const child = Bun.spawn([process.execPath, main, "exec", "--tasks-dir", fixture.dir, "--task-path", "basic.forever", "--payload-json", "{}"], {
      stdout: "ignore", stderr: "ignore", env: testEnv(),
    });
    const ticks = (): number => {
      const stat = readFileSync(`/proc/${child.pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15)
    };
    try {
      await Bun.sleep(1_500); // startup (transpiling) is allowed to use CPU
      const before = ticks();
      const started = performance.now();
      await Bun.sleep(1_000);
      const used = (ticks() - before) / 100 / ((performance.now() - started) / 1000); // CLK_TCK is 100 on Linux
      expect(child.exitCode).toBeNull();
      expect(used).toBeLessThan(0.2);
    } finally {
      child.kill("SIGKILL");
      await child.exited;
    }
  });
});
