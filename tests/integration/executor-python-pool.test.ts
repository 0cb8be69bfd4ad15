// The python-pool executor against spawn-per-task (the python kind), both running the fake
// Django-like project in tests/helpers/executors/fakedjango: same envelopes, exit codes, output
// and database side effects; isolation between tasks; timeouts and cancels that kill whole
// groups; pool crashes, hangs, code changes and reloads.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { POOL_MODES } from "../../src/config/types.ts";
import type { WorkerConfig } from "../../src/config/index.ts";
import { createExecutor, type ExecutionResult, type Executor, type ExecutorOptions, type PoolExecutor } from "../../src/executor/index.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { ClaimedTask } from "../../src/queue/types.ts";
import { classify } from "../../src/worker/classify.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { EXECUTORS_DIR, PYTHON, eventually, grandchildPid, isAlive, payloadFor, request, testEnv, workerConfig } from "../helpers/executors/index.ts";
import { memoryLogger, type LogLine } from "../helpers/memory-logger.ts";
import { pgrep } from "../helpers/processes.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const MODULE = "fakedjango.executor";
const FAST = { killGraceMs: 1000, pipeDrainMs: 1000 };
const executors: Executor[] = [];
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase({ label: "python_pool" });
  await db.sql`create table fake_side_effects (marker text not null, result_id text)`;
});

afterAll(async () => {
  await Promise.all(executors.map((executor) => executor.stop?.()));
  await db?.drop();
});

// Real Django 3.2 (Debian's python3-django) with psycopg2, on the project in
// tests/helpers/executors/djangoproj. Its setup never touches the database (DEMOAPP_SETUP_QUERY=0,
// and its model names its table), like a project whose models all do: then only the pool can
// import the backend before forking, or every task imports it on its first query.
const DJANGO_PYTHON = "/usr/bin/python3";
const djangoMissing = Bun.spawnSync([DJANGO_PYTHON, "-c", "import django, psycopg2"], { stdout: "ignore", stderr: "ignore" }).exitCode !== 0;
if (djangoMissing) console.warn(`skipping the real-Django python-pool tests: ${DJANGO_PYTHON} cannot import django and psycopg2`);

// Every test runs in both pool modes.
for (const mode of POOL_MODES) describe(`pool_mode ${mode}`, () => {
  function make(kind: "python" | "python-pool", worker: Partial<WorkerConfig> = {}, options: Partial<ExecutorOptions> = {}): Executor {
    const executor = createExecutor({
      worker: workerConfig({ executor: kind, executorModule: MODULE, poolStaleCheckIntervalMs: 0, poolMode: mode, ...worker }),
      env: testEnv(),
      ...FAST,
      ...options,
    });
    executors.push(executor);
    return executor;
  }

  function pool(worker: Partial<WorkerConfig> = {}, options: Partial<ExecutorOptions> = {}): PoolExecutor {
    return make("python-pool", worker, options) as PoolExecutor;
  }

  /** What must match between spawn and pool (pids and timings excluded). */
  function comparable(result: ExecutionResult) {
    const maskPids = (text: string) => text.replace(/pid \d+/g, "pid N").replace(/reproq-payload-[\w-]+\.json/g, "reproq-payload-X.json");
    return {
      outcome: result.outcome,
      message: result.message,
      exitCode: result.exitCode,
      signal: result.signal,
      envelope: result.envelope && { ...result.envelope, returnJson: result.envelope.returnJson && maskPids(result.envelope.returnJson) },
      envelopeProblem: result.envelopeProblem,
      stdout: maskPids(result.stdout),
      stderr: maskPids(result.stderr),
      stdoutTruncated: result.stdoutTruncated,
      stderrTruncated: result.stderrTruncated,
    };
  }

  function returned(result: ExecutionResult): Record<string, unknown> {
    return JSON.parse(result.envelope?.returnJson ?? "null") as Record<string, unknown>;
  }

  async function waitForPid(pattern: string, timeoutMs = 10_000): Promise<number> {
    let found: number[] = [];
    await eventually(() => (found = pgrep(pattern)).length > 0, timeoutMs);
    if (found.length === 0) throw new Error(`no process matches ${pattern}`);
    return found[0] ?? 0;
  }

  const claimed: ClaimedTask = {
    resultId: "42", queueName: "default", priority: 0, specText: "{}", specHash: "h", taskPath: "tasks.fake",
    attempts: 1, maxAttempts: 3, timeoutSeconds: 900, waitSeconds: 0,
    lockKey: null, concurrencyKey: null, concurrencyLimit: 0, workflowId: null, parentId: null,
  };

  describe("spawn and pool give identical results", () => {
    const spawn = () => make("python");
    let warm: PoolExecutor;
    let cold: Executor;
    beforeAll(async () => {
      warm = pool();
      cold = spawn();
      await warm.start();
    });

    const cases: [string, string][] = [
      ["success", payloadFor("succeed", { value: 7 })],
      ["task raises", payloadFor("fail", { message: "nope" })],
      ["prints to stdout and stderr before the envelope", payloadFor("noisy")],
      ["output with multi-byte characters and bytes that are not UTF-8", payloadFor("binary")],
      // Persistent children keep module state between tasks (see the persistent tests).
      ...(mode === "fork" ? ([["mutates module globals", payloadFor("mutate")]] as [string, string][]) : []),
      ["sys.exit(3)", payloadFor("exit", { code: 3 })],
      ["os._exit(5)", payloadFor("crash")],
      ["unknown task", payloadFor("missing")],
      ["payload that is not JSON", "{not json"],
      ["process identity (own group, command line, sys.path[0])", payloadFor("identity")],
      ["grandchild", payloadFor("grandchild", { seconds: 0.1 })],
      ["a grandchild holds the output pipes after the task exited", payloadFor("grandchild", { seconds: 45.5, wait: false, hold: true })],
    ];
    for (const [name, payload] of cases) {
      test(name, async () => {
        const [a, b] = await Promise.all([cold.run(request(payload, { resultId: "101", attempt: 2 })), warm.run(request(payload, { resultId: "101", attempt: 2 }))]);
        expect(comparable(b)).toEqual(comparable(a));
        expect(a.pid).not.toBe(b.pid);
        if (name.includes("holds the output pipes")) {
          expect(b.message).toContain("output pipes still open 1s after exit");
          expect(await eventually(() => pgrep("sleep 45.5").length === 0)).toBe(true);
        }
      });
    }

    test("the pool really ran it: a child of the pool process, much faster than a spawn", async () => {
      const running = warm.run(request(payloadFor("sleep", { seconds: 0.5 }), { resultId: "31337" }));
      const pid = await waitForPid(`${MODULE} --result-id 31337`);
      const parent = Number(Bun.spawnSync(["ps", "-o", "ppid=", "-p", String(pid)]).stdout.toString().trim());
      expect(parent).toBe(warm.poolPid ?? -1);
      expect((await running).pid).toBe(pid);
      const quick = await warm.run(request(payloadFor("succeed")));
      expect(quick.outcome).toBe("exited");
      // A spawn pays the fake's 300 ms import (and an interpreter start); a fork from the pool does not.
      const spawned = await cold.run(request(payloadFor("succeed")));
      expect(quick.durationMs).toBeLessThan(spawned.durationMs);
    });

    test("database side effects happen once per run, the same for both", async () => {
      await db.sql`delete from fake_side_effects where result_id = '7'`; // the other mode's run
      const payload = (marker: string) => payloadFor("db_write", { dsn: db.dsn, marker });
      const [a, b] = await Promise.all([cold.run(request(payload("spawn"), { resultId: "7" })), warm.run(request(payload("pool"), { resultId: "7" }))]);
      expect(a.envelope?.ok).toBe(true);
      expect(JSON.stringify(comparable(b)).replaceAll('\\"pool\\"', '\\"spawn\\"')).toEqual(JSON.stringify(comparable(a)));
      const rows = await db.sql<{ marker: string; result_id: string }[]>`select marker, result_id from fake_side_effects order by marker`;
      expect([...rows]).toEqual([{ marker: "pool", result_id: "7" }, { marker: "spawn", result_id: "7" }]);
    });

    test("output over max_stdout_bytes / max_stderr_bytes: same head, tail and marker, envelope found in the kept tail", async () => {
      const worker = { maxStdoutBytes: 1000, maxStderrBytes: 100 };
      const small = pool(worker);
      const payload = payloadFor("flood", { size: 300_000, err_size: 5000 });
      const [a, b] = await Promise.all([make("python", worker).run(request(payload)), small.run(request(payload))]);
      expect(b.stdoutTruncated).toBe(true);
      expect(b.envelope).toMatchObject({ ok: true, returnJson: '{"flooded": 300000}' });
      expect(b.stderrTruncated).toBe(true);
      expect(b.stderr).toStartWith("first stderr line\n");
      expect(b.stderr).toContain("bytes dropped (max_stderr_bytes)] …\n");
      expect(b.stderr).toEndWith("\nlast stderr line\n");
      expect(comparable(b)).toEqual(comparable(a));
    });

    test("output cut inside a multi-byte character, and not UTF-8: the same bytes as spawn", async () => {
      const worker = { maxStdoutBytes: 1001, maxStderrBytes: 5 };
      const payload = payloadFor("binary", { repeat: 400 });
      const [a, b] = await Promise.all([make("python", worker).run(request(payload)), pool(worker).run(request(payload))]);
      expect(b.stdoutTruncated).toBe(true);
      expect(b.stderrTruncated).toBe(true);
      expect(b.envelope).toMatchObject({ ok: true, returnJson: '{"binary": true}' });
      expect(comparable(b)).toEqual(comparable(a));
    });

    for (const payloadMode of ["file", "inline"] as const) {
      test(`payload_mode ${payloadMode}`, async () => {
        const payload = payloadFor("succeed", { value: payloadMode });
        const [a, b] = await Promise.all([make("python", { payloadMode }).run(request(payload)), pool({ payloadMode }).run(request(payload))]);
        expect(b.envelope?.ok).toBe(true);
        expect(comparable(b)).toEqual(comparable(a));
      });
    }
  });

  describe("isolation", () => {
    // Fork mode only: a persistent child keeps module state between its tasks by design
    // (executor-python-pool-persistent.test.ts asserts that documented difference). Not a skip:
    // CI counts a skipped test as a failure.
    if (mode === "fork") test("module-global changes do not leak between tasks, also when run side by side", async () => {
      const executor = pool();
      for (let round = 0; round < 3; round += 1) {
        const results = await Promise.all([1, 2, 3].map((n) => executor.run(request(payloadFor("mutate", { item: `i${n}` })))));
        for (const [index, result] of results.entries()) {
          expect(returned(result)).toEqual({ count: 1, items: [`i${index + 1}`] });
        }
      }
    });

    test("ps and pgrep -f show the executor's command line while a task runs", async () => {
      const executor = pool();
      await executor.start();
      const running = executor.run(request(payloadFor("sleep", { seconds: 1.5 }), { resultId: "90210" }));
      const pid = await waitForPid(`-m ${MODULE} --result-id 90210 --attempt 1 --payload-stdin`);
      const args = Bun.spawnSync(["ps", "-o", "args=", "-p", String(pid)]).stdout.toString().trim();
      const result = await running;
      expect(args).toBe(`${PYTHON} -m ${MODULE} --result-id 90210 --attempt 1 --payload-stdin`);
      expect(result.pid).toBe(pid);
      expect(result.envelope?.ok).toBe(true);
    });
  });

  describe("stopping tasks", () => {
    test("timeout kills the whole group (a SIGTERM-ignoring grandchild too); the pool survives", async () => {
      const executor = pool();
      await executor.start();
      const poolPid = executor.poolPid;
      const started = performance.now();
      const result = await executor.run(request(payloadFor("grandchild", { seconds: 41.5, ignore_term: true }), { timeoutMs: 1000 }));
      expect(result.outcome).toBe("timeout");
      expect(result.signal).toBe("SIGKILL");
      expect(result.message).toBe("timed out after 1s; killed by SIGKILL after SIGTERM grace (1s)");
      expect(performance.now() - started).toBeGreaterThanOrEqual(1900);
      const grandchild = grandchildPid(result.stderr);
      expect(await eventually(() => !isAlive(grandchild))).toBe(true);
      expect(pgrep("sleep 41.5")).toEqual([]);
      expect(executor.poolPid).toBe(poolPid);
      expect((await executor.run(request(payloadFor("succeed")))).envelope?.ok).toBe(true);
    });

    test("a task that writes without pause does not stall the pool: other tasks finish, its timeout fires", async () => {
      const executor = pool({ concurrency: 2 }); // a free child for the other task (persistent mode)
      await executor.start();
      const chatter = executor.run(request(payloadFor("chatter"), { timeoutMs: 3000, resultId: "777" }));
      await waitForPid(`${MODULE} --result-id 777`);
      await Bun.sleep(300);
      const started = performance.now();
      const other = await executor.run(request(payloadFor("succeed")));
      expect(other.envelope?.ok).toBe(true);
      expect(performance.now() - started).toBeLessThan(2500); // served while the chatter still ran
      const result = await chatter;
      expect(result.outcome).toBe("timeout");
      expect(result.stdoutTruncated).toBe(true);
    });

    test("cancel (abort) stops the group at once; same message as spawn", async () => {
      const executor = pool();
      const spawn = make("python");
      await executor.start();
      const cancel = async (target: Executor) => {
        const controller = new AbortController();
        const running = target.run(request(payloadFor("grandchild", { seconds: 42.5 }), { signal: controller.signal }));
        await waitForPid("sleep 42.5");
        controller.abort(new Error("cancel"));
        return running;
      };
      const a = await cancel(spawn);
      await eventually(() => pgrep("sleep 42.5").length === 0);
      const b = await cancel(executor);
      expect(b.outcome).toBe("aborted");
      expect(comparable(b)).toEqual(comparable(a));
      expect(await eventually(() => !isAlive(grandchildPid(b.stderr)))).toBe(true);
      expect((await executor.run(request(payloadFor("succeed")))).envelope?.ok).toBe(true);
    });
  });

  describe("supervision", () => {
    test("pool killed with SIGKILL mid-task: the task is lost (infra_error, retried), no orphans, the pool restarts", async () => {
      const lines: LogLine[] = [];
      const executor = pool({}, { logger: memoryLogger(lines), pool: { restartBackoffMs: 100 } });
      await executor.start();
      const oldPool = executor.poolPid ?? 0;
      const running = executor.run(request(payloadFor("grandchild", { seconds: 43.5 }), { resultId: "4343" }));
      const child = await waitForPid(`${MODULE} --result-id 4343`);
      const grandchild = await waitForPid("sleep 43.5");
      process.kill(oldPool, "SIGKILL");
      const result = await running;
      expect(result.outcome).toBe("start_failed");
      expect(result.message).toContain("exited while the task was running");
      expect(result.pid).toBe(child);
      const decision = classify({
        task: claimed, taskPath: "tasks.fake", workerId: "w", result, abortReason: null, timeoutMs: 30_000,
        retry: { baseSeconds: 1, maxSeconds: 10, jitter: 0 },
      });
      expect(decision).toMatchObject({ type: "failure", error: { kind: "infra_error" }, disposition: { type: "retry" } });
      expect(await eventually(() => !isAlive(child) && !isAlive(grandchild))).toBe(true);
      expect(await eventually(() => executor.poolPid !== null && executor.poolPid !== oldPool)).toBe(true);
      expect((await executor.run(request(payloadFor("succeed")))).envelope?.ok).toBe(true);
      expect(lines.some((line) => line.msg === "Python pool exited unexpectedly")).toBe(true);
    });

    test("a hung pool (no pongs) is killed; a task it never started is resent to the new pool", async () => {
      const executor = pool({}, { pool: { pingIntervalMs: 100, pingTimeoutMs: 800, restartBackoffMs: 100 } });
      await executor.start();
      const hung = executor.poolPid ?? 0;
      process.kill(hung, "SIGSTOP");
      try {
        const result = await executor.run(request(payloadFor("succeed", { value: "resent" })));
        expect(result.outcome).toBe("exited");
        expect(returned(result)).toMatchObject({ value: "resent" });
        expect(executor.poolPid).not.toBe(hung);
        expect(await eventually(() => !isAlive(hung))).toBe(true);
      } finally {
        try {
          process.kill(hung, "SIGKILL");
        } catch {
          // gone, as expected
        }
      }
    });

    test("a task cancelled before the pool started it is never resent to the next pool", async () => {
      const executor = pool({}, { pool: { pingIntervalMs: 100, pingTimeoutMs: 800, restartBackoffMs: 100 } });
      await executor.start();
      const hung = executor.poolPid ?? 0;
      process.kill(hung, "SIGSTOP"); // the run request sits unread: the task never starts
      try {
        const cancel = new AbortController();
        const running = executor.run(request(payloadFor("db_write", { dsn: db.dsn, marker: "cancelled-before-start" }), { signal: cancel.signal }));
        await Bun.sleep(100);
        cancel.abort(new Error("cancel"));
        const result = await running;
        expect(result.outcome).toBe("aborted");
        // The hung pool is replaced; the cancelled task must not have run in the new one.
        expect(await eventually(() => executor.poolPid !== null && executor.poolPid !== hung)).toBe(true);
        await Bun.sleep(500);
        const rows = await db.sql`select 1 from fake_side_effects where marker = 'cancelled-before-start'`;
        expect(rows.length).toBe(0);
      } finally {
        try {
          process.kill(hung, "SIGKILL");
        } catch {
          // gone, as expected
        }
      }
    });

    test("a timeout spent waiting for a pool is an infrastructure failure (start_failed), not the task's timeout", async () => {
      const executor = pool({}, { pool: { pingIntervalMs: 100, pingTimeoutMs: 5_000, restartBackoffMs: 100 } });
      await executor.start();
      const hung = executor.poolPid ?? 0;
      process.kill(hung, "SIGSTOP");
      try {
        const result = await executor.run(request(payloadFor("succeed"), { timeoutMs: 300 }));
        expect(result.outcome).toBe("start_failed");
        expect(result.pid).toBeNull();
      } finally {
        try {
          process.kill(hung, "SIGKILL");
        } catch {
          // gone, as expected
        }
      }
    });

    test("repeated start failures fall back to spawn-per-task, logged once; results are spawn's", async () => {
      const lines: LogLine[] = [];
      const worker = { executorModule: "fakedjango.no_such_module" };
      const executor = pool(worker, { logger: memoryLogger(lines), pool: { restartBackoffMs: 20 } });
      await executor.start();
      const [a, b] = await Promise.all([make("python", worker).run(request(payloadFor("succeed"))), executor.run(request(payloadFor("succeed")))]);
      expect(executor.fellBack).toBe(true);
      expect(b.exitCode).toBe(1);
      expect(comparable(b)).toEqual(comparable(a));
      await executor.run(request(payloadFor("succeed")));
      expect(lines.filter((line) => line.msg.startsWith("Python pool disabled")).length).toBe(1);
    });

    test("a background thread in the pool process: refuses to fork, falls back with a warning", async () => {
      const lines: LogLine[] = [];
      const executor = pool({ poolPreloadModules: ["fakedjango.threaded"] }, { logger: memoryLogger(lines) });
      await executor.start();
      expect(executor.fellBack).toBe(true);
      const warning = lines.find((line) => line.msg.startsWith("Python pool disabled"));
      expect(String(warning?.attrs.reason)).toContain("memory-logger");
      expect((await executor.run(request(payloadFor("succeed")))).envelope?.ok).toBe(true);
    });
  });

  describe("code changes", () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "reproq-pool-code-"));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    function codePool(module: string, worker: Partial<WorkerConfig> = {}, logger?: Logger): PoolExecutor {
      const executor = createExecutor({
        worker: workerConfig({ executor: "python-pool", executorModule: MODULE, poolPreloadModules: [module], poolStaleCheckIntervalMs: 0, poolMode: mode, ...worker }),
        env: testEnv({ PYTHONPATH: `${EXECUTORS_DIR}:${dir}` }),
        ...FAST,
        logger,
      }) as PoolExecutor;
      executors.push(executor);
      return executor;
    }
    const valueOf = async (executor: Executor, module: string) => returned(await executor.run(request(payloadFor("module_value", { module })))).value;

    test("editing a preloaded module replaces the pool; the next task runs the new code", async () => {
      writeFileSync(join(dir, "poolcode_a.py"), "VALUE = 1\n");
      const lines: LogLine[] = [];
      const executor = codePool("poolcode_a", { poolStaleCheckIntervalMs: 200 }, memoryLogger(lines));
      await executor.start();
      const first = executor.poolPid;
      expect(await valueOf(executor, "poolcode_a")).toBe(1);
      writeFileSync(join(dir, "poolcode_a.py"), "VALUE = 2  # edited\n");
      expect(await eventually(() => executor.poolPid !== null && executor.poolPid !== first, 10_000)).toBe(true);
      expect(await valueOf(executor, "poolcode_a")).toBe(2);
      const replaced = lines.find((line) => line.msg === "Python pool replaced");
      expect(String(replaced?.attrs.reason)).toContain("poolcode_a.py");
      expect(await eventually(() => !isAlive(first ?? 0))).toBe(true);
    });

    test("without a stale check the pool keeps the code it imported (why replacement matters)", async () => {
      writeFileSync(join(dir, "poolcode_b.py"), "VALUE = 1\n");
      const executor = codePool("poolcode_b");
      await executor.start();
      writeFileSync(join(dir, "poolcode_b.py"), "VALUE = 2  # edited\n");
      expect(await valueOf(executor, "poolcode_b")).toBe(1);
    });

    test("reload() (SIGHUP) replaces the pool; a task running in the old one finishes there", async () => {
      writeFileSync(join(dir, "poolcode_c.py"), "VALUE = 1\n");
      const executor = codePool("poolcode_c");
      await executor.start();
      const old = executor.poolPid ?? 0;
      const running = executor.run(request(payloadFor("sleep", { seconds: 1 })));
      await Bun.sleep(200);
      writeFileSync(join(dir, "poolcode_c.py"), "VALUE = 3  # edited\n");
      executor.reload("SIGHUP");
      expect(await eventually(() => executor.poolPid !== null && executor.poolPid !== old)).toBe(true);
      expect(await valueOf(executor, "poolcode_c")).toBe(3);
      const finished = await running;
      expect(finished.outcome).toBe("exited");
      expect(finished.envelope?.ok).toBe(true);
      expect(await eventually(() => !isAlive(old))).toBe(true);
    });

    // Fork mode only: persistent mode counts pool_max_tasks per child
    // (executor-python-pool-persistent.test.ts, "pool_max_tasks: a child is replaced …").
    if (mode === "fork") test("pool_max_tasks: a fresh pool after that many tasks", async () => {
      writeFileSync(join(dir, "poolcode_d.py"), "VALUE = 1\n");
      const executor = codePool("poolcode_d", { poolMaxTasks: 2 });
      await executor.start();
      const first = executor.poolPid;
      await valueOf(executor, "poolcode_d");
      await valueOf(executor, "poolcode_d");
      expect(await eventually(() => executor.poolPid !== null && executor.poolPid !== first)).toBe(true);
    });
  });

  describe("lifecycle", () => {
    test("stop() ends the pool and every child; nothing python is left", async () => {
      const executor = pool();
      await executor.start();
      const poolPid = executor.poolPid ?? 0;
      const controller = new AbortController();
      const running = executor.run(request(payloadFor("grandchild", { seconds: 44.5 }), { signal: controller.signal, resultId: "4444" }));
      const child = await waitForPid(`${MODULE} --result-id 4444`);
      controller.abort(new Error("shutdown"));
      await running;
      await executor.stop();
      expect(isAlive(poolPid)).toBe(false);
      expect(await eventually(() => !isAlive(child) && pgrep("sleep 44.5").length === 0)).toBe(true);
      expect(pgrep(`reproq-python-pool.*${MODULE}`).filter((pid) => pid === poolPid)).toEqual([]);
      // A stopped executor does not start pools again.
      const after = await executor.run(request(payloadFor("succeed")));
      expect(after.outcome).toBe("aborted");
    });
  });

  describe.skipIf(djangoMissing)("real Django: what the pool imports before forking", () => {
    const DRIVER_MODULES = ["psycopg2", "psycopg2.extensions", "django.db.backends.postgresql.base", "django.db.models.sql.compiler"];

    function djangoPool(lines: LogLine[], extraEnv: Record<string, string> = {}): PoolExecutor {
      const executor = createExecutor({
        worker: workerConfig({ executor: "python-pool", pythonBin: DJANGO_PYTHON, executorModule: "djangoproj.reproq_executor", poolPreloadModules: ["demoapp.tasks"], poolStaleCheckIntervalMs: 0, poolMode: mode, concurrency: 2 }),
        env: testEnv({ PYTHONPATH: join(EXECUTORS_DIR, "djangoproj"), DJANGO_SETTINGS_MODULE: "djangoproj.settings", DATABASE_URL: db.dsn, DEMOAPP_SETUP_QUERY: "0", ...extraEnv }),
        logger: memoryLogger(lines),
        ...FAST,
      }) as PoolExecutor;
      executors.push(executor);
      return executor;
    }

    const task = (taskPath: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}) => request(JSON.stringify({ task_path: taskPath, args, kwargs }), { taskPath });

    /** The TCP sockets a process holds open (a database connection to DATABASE_URL is one; the
     * pool's stdio are socket pairs, not TCP). */
    function tcpSockets(pid: number): string[] {
      const tcp = new Set<string>();
      for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
        if (!existsSync(table)) continue;
        for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
          const inode = line.trim().split(/\s+/)[9];
          if (inode) tcp.add(inode);
        }
      }
      return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
        try {
          const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
          return inode !== undefined && tcp.has(inode) ? [inode] : [];
        } catch {
          return []; // closed meanwhile
        }
      });
    }

    test("every configured database's backend and driver are imported in the pool, without a connection", async () => {
      const lines: LogLine[] = [];
      const executor = djangoPool(lines);
      await executor.start();
      const poolPid = executor.poolPid ?? 0;
      expect(poolPid).toBeGreaterThan(0);
      expect(tcpSockets(poolPid)).toEqual([]);

      // A forked task finds them imported when it starts (it inherited them).
      const preloaded = await executor.run(task("demoapp.tasks.imported_before_start", DRIVER_MODULES));
      expect(preloaded.envelope?.ok).toBe(true);
      expect(returned(preloaded)).toEqual(Object.fromEntries(DRIVER_MODULES.map((name) => [name, true])));
      expect(lines.find((line) => line.msg === "Python pool ready")?.attrs).toMatchObject({ django: true, databases: ["default"] });

      // Each task still opens a connection of its own; the pool still holds none.
      const [a, b] = await Promise.all([1, 2].map(() => executor.run(task("demoapp.tasks.which_db_connection", [], { hold: 0.5 }))));
      const backendPids = [a, b].map((result) => JSON.parse(result?.envelope?.returnJson ?? "0") as number);
      for (const pid of backendPids) expect(pid).toBeGreaterThan(0);
      expect(new Set(backendPids).size).toBe(2);
      expect(tcpSockets(poolPid)).toEqual([]);
    });

    test("a backend that fails to import is logged; the pool serves tasks and the task using it gets the real error", async () => {
      const lines: LogLine[] = [];
      const executor = djangoPool(lines, { DEMOAPP_EXTRA_DATABASE_ENGINE: "demoapp.no_such_backend" });
      await executor.start();
      expect(executor.fellBack).toBe(false);
      const warning = lines.find((line) => line.msg.startsWith("Python pool could not import a database backend"));
      expect(warning?.level).toBe("warn");
      expect(warning?.attrs).toMatchObject({ alias: "extra", engine: "demoapp.no_such_backend" });
      expect(String(warning?.attrs.error)).toContain("no_such_backend");
      expect(lines.find((line) => line.msg === "Python pool ready")?.attrs).toMatchObject({ databases: ["default"] });

      const preloaded = await executor.run(task("demoapp.tasks.imported_before_start", ["psycopg2"]));
      expect(returned(preloaded)).toEqual({ psycopg2: true });
      const broken = await executor.run(task("demoapp.tasks.which_db_connection", [], { alias: "extra" }));
      expect(broken.envelope).toMatchObject({ ok: false, exceptionClass: "ImproperlyConfigured" });
      expect(broken.envelope?.message).toContain("no_such_backend");
      const fine = await executor.run(task("demoapp.tasks.which_db_connection"));
      expect(JSON.parse(fine.envelope?.returnJson ?? "0")).toBeGreaterThan(0);
    });
  });
});
