// python-pool with pool_mode persistent: what long-lived children guarantee beyond the shared
// python-pool suite (executor-python-pool.test.ts runs that in both modes). A child runs many
// tasks; the next task must not see what the previous one changed in the process (environment,
// directory, signal handlers, timers, a broken database connection), a child that dies or is
// stopped takes only its own task, and children are replaced after pool_max_tasks tasks, above
// pool_max_child_rss_mb, or when a task left a thread behind. Real Python processes throughout.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PoolMode, WorkerConfig } from "../../src/config/index.ts";
import { createExecutor, type ExecutionResult, type ExecutorOptions, type PoolExecutor } from "../../src/executor/index.ts";
import { pythonSpeedHint } from "../../src/executor/python-pool/speed-hint.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { EXECUTORS_DIR, eventually, isAlive, payloadFor, request, testEnv, workerConfig } from "../helpers/executors/index.ts";
import { memoryLogger, type LogLine } from "../helpers/memory-logger.ts";
import { pgrep } from "../helpers/processes.ts";

setDefaultTimeout(120_000);

const MODULE = "fakedjango.executor";
const FAST = { killGraceMs: 1000, pipeDrainMs: 1000 };
const executors: PoolExecutor[] = [];

afterAll(async () => {
  await Promise.all(executors.map((executor) => executor.stop()));
});

function persistent(worker: Partial<WorkerConfig> = {}, options: Partial<ExecutorOptions> = {}): PoolExecutor {
  const executor = createExecutor({
    worker: workerConfig({ executor: "python-pool", poolMode: "persistent", executorModule: MODULE, poolStaleCheckIntervalMs: 0, ...worker }),
    env: testEnv(),
    ...FAST,
    ...options,
  }) as PoolExecutor;
  executors.push(executor);
  return executor;
}

function returned(result: ExecutionResult): Record<string, unknown> {
  return JSON.parse(result.envelope?.returnJson ?? "null") as Record<string, unknown>;
}

/** Resident set size (KiB) and open descriptors of a process. */
function footprint(pid: number): { rssKb: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { rssKb, fds: readdirSync(`/proc/${pid}/fd`).length };
}

const noop = () => request(payloadFor("succeed", { value: 1 }));

describe("one child runs many tasks", () => {
  test("10,000 no-op tasks through one child: the same process, RSS bounded, descriptors constant (child and pool)", async () => {
    const executor = persistent();
    await executor.start();
    const poolPid = executor.poolPid ?? 0;
    const first = await executor.run(noop());
    const child = first.pid ?? 0;
    for (let i = 0; i < 300; i += 1) await executor.run(noop()); // warm: first-use allocations settle
    const before = footprint(child);
    const poolBefore = footprint(poolPid);
    const pids = new Set<number | null>();
    let failures = 0;
    for (let i = 0; i < 10_000; i += 1) {
      const result = await executor.run(noop());
      pids.add(result.pid);
      if (result.outcome !== "exited" || result.envelope?.ok !== true) failures += 1;
    }
    const after = footprint(child);
    const poolAfter = footprint(poolPid);
    expect(failures).toBe(0);
    expect([...pids]).toEqual([child]);
    expect(after.fds).toBe(before.fds);
    expect(poolAfter.fds).toBe(poolBefore.fds);
    expect(after.rssKb - before.rssKb).toBeLessThan(4 * 1024);
    expect(poolAfter.rssKb - poolBefore.rssKb).toBeLessThan(4 * 1024);
  }, 900_000); // ~2 ms a task on an idle machine; a shared, loaded one can be 10× slower

  test("sys.exit(0) and sys.exit(3) end the task with that code; the same child serves the next task", async () => {
    const executor = persistent();
    const zero = await executor.run(request(payloadFor("exit", { code: 0 })));
    const three = await executor.run(request(payloadFor("exit", { code: 3 })));
    const next = await executor.run(noop());
    expect([zero.outcome, zero.exitCode, zero.signal]).toEqual(["exited", 0, null]);
    expect([three.outcome, three.exitCode, three.signal]).toEqual(["exited", 3, null]);
    expect(next.envelope?.ok).toBe(true);
    expect(new Set([zero.pid, three.pid, next.pid]).size).toBe(1);
  });

  test("the next task sees the original os.environ, cwd, sys.path, signal handlers and no pending alarm", async () => {
    const executor = persistent({}, { env: testEnv({ REPROQ_PROBE_MARK: "original" }) });
    const changer = await executor.run(request(payloadFor("probe", { set_env: "changed", chdir: "/tmp", handler: true, alarm: true })));
    const next = await executor.run(request(payloadFor("probe")));
    expect(next.pid).toBe(changer.pid);
    const expected = { mark: "original", sigterm_default: true, sigint_default: true, alarm: 0 };
    expect(returned(changer)).toMatchObject(expected);
    expect(returned(next)).toMatchObject(expected);
    expect(returned(next).cwd).toBe(returned(changer).cwd);
    expect(returned(next).path0).toBe(returned(changer).path0);
    expect(returned(next).cwd).not.toBe("/tmp");
  });

  test("stdout/stderr objects are kept between tasks while intact, rebuilt after a task changes them; output stays with its own task", async () => {
    const executor = persistent();
    const a = await executor.run(request(payloadFor("streams", { stderr_text: "unterminated stderr of a" })));
    const b = await executor.run(request(payloadFor("streams", { action: "reconfigure" })));
    const c = await executor.run(request(payloadFor("streams", { action: "detach_stderr" })));
    const d = await executor.run(request(payloadFor("streams")));
    const e = await executor.run(request(payloadFor("streams")));
    expect(new Set([a.pid, b.pid, c.pid, d.pid, e.pid]).size).toBe(1);
    for (const result of [a, b, c, d, e]) expect(result.envelope?.ok).toBe(true);
    const [ra, rb, rc, rd, re] = [a, b, c, d, e].map(returned);
    // Kept while intact: a's objects serve b; stdin is new for every task.
    expect([rb?.stdout, rb?.stderr]).toEqual([ra?.stdout, ra?.stderr]);
    expect(rb?.stdin).not.toBe(ra?.stdin);
    // b reconfigured stdout: c gets new, unconfigured streams.
    expect(rc?.stdout).not.toBe(rb?.stdout);
    expect(rc?.line_buffering).toBe(false);
    // c replaced sys.stderr: d gets new ones again; e keeps d's.
    expect(rd?.stderr).not.toBe(rc?.stderr);
    expect([re?.stdout, re?.stderr]).toEqual([rd?.stdout, rd?.stderr]);
    for (const seen of [ra, rb, rc, rd, re]) expect(seen?.dunder_stdout).toBe(true);
    // Text left unflushed belongs to the task that wrote it.
    expect(a.stderr).toContain("unterminated stderr of a");
    for (const result of [b, c, d, e]) expect(result.stderr).not.toContain("unterminated");
  });

  test("gettext lookups (argparse's, every task) are memoized per locale setting and answer as the real lookup", async () => {
    const localedir = mkdtempSync(join(tmpdir(), "reproq-locale-"));
    mkdirSync(join(localedir, "fr", "LC_MESSAGES"), { recursive: true });
    const catalog = join(localedir, "fr", "LC_MESSAGES", "reproqtest.mo");
    writeFileSync(catalog, "");
    try {
      const executor = persistent();
      const results = [];
      for (const language of ["fr", "de", "fr", "de:fr", "de"]) {
        results.push(await executor.run(request(payloadFor("gettext", { localedir, language }))));
      }
      expect(new Set(results.map((result) => result.pid)).size).toBe(1);
      expect(results.map((result) => returned(result).found)).toEqual([catalog, null, catalog, catalog, null]);
      expect(results.map((result) => returned(result).all)).toEqual([[catalog], [], [catalog], [catalog], []]);
      expect(results.every((result) => returned(result).memoized === true)).toBe(true);
    } finally {
      rmSync(localedir, { recursive: true, force: true });
    }
  });

  test("module state is kept between tasks of one child (unlike fork mode): the documented difference", async () => {
    const executor = persistent();
    const a = await executor.run(request(payloadFor("mutate", { item: "a" })));
    const b = await executor.run(request(payloadFor("mutate", { item: "b" })));
    expect(b.pid).toBe(a.pid);
    expect(returned(a)).toEqual({ count: 1, items: ["a"] });
    expect(returned(b)).toEqual({ count: 2, items: ["a", "b"] });
  });
});

describe("a task sent while every child is busy (the worker's queue-ahead)", () => {
  test("waits in the pool, starts on the first child that answers (no extra child), its timeout counted from its start", async () => {
    const executor = persistent({ concurrency: 1 });
    await executor.start();
    expect(executor.queueAhead).toBe(1);
    const started = performance.now();
    const [first, second] = await Promise.all([
      executor.run(request(payloadFor("sleep", { seconds: 0.5 }))),
      // 0.6 s of its own under a 0.9 s timeout: it would time out if the 0.5 s wait counted.
      executor.run(request(payloadFor("sleep", { seconds: 0.6 }), { timeoutMs: 900 })),
    ]);
    expect([first.outcome, first.envelope?.ok, second.outcome, second.envelope?.ok]).toEqual(["exited", true, "exited", true]);
    expect(second.pid).toBe(first.pid);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_100); // one after the other
  });

  test("a wait longer than its timeout: it never runs, reported as an infrastructure failure (retried), not the task's timeout", async () => {
    const executor = persistent({ concurrency: 1 });
    await executor.start();
    const [ahead, waited] = await Promise.all([
      executor.run(request(payloadFor("sleep", { seconds: 1 }))),
      executor.run(request(payloadFor("succeed"), { timeoutMs: 300 })),
    ]);
    expect([ahead.outcome, ahead.envelope?.ok]).toEqual(["exited", true]);
    expect([waited.outcome, waited.pid, waited.envelope]).toEqual(["start_failed", null, null]);
    expect(waited.message).toContain("waiting for a free python-pool child");
  });

  test("cancelled while waiting: it never runs; the task ahead and the child carry on", async () => {
    const executor = persistent({ concurrency: 1 });
    await executor.start();
    const cancel = new AbortController();
    const running = executor.run(request(payloadFor("sleep", { seconds: 1 })));
    await Bun.sleep(100);
    const cancelled = executor.run(request(payloadFor("succeed"), { signal: cancel.signal }));
    await Bun.sleep(100);
    cancel.abort();
    const [ahead, stopped] = await Promise.all([running, cancelled]);
    expect([stopped.outcome, stopped.pid, stopped.envelope]).toEqual(["aborted", null, null]);
    expect(stopped.message).toContain("waiting for a free python-pool child");
    expect([ahead.outcome, ahead.envelope?.ok]).toEqual(["exited", true]);
    const next = await executor.run(noop());
    expect([next.envelope?.ok, next.pid]).toEqual([true, ahead.pid]);
  });

  test("waiting tasks run in order on replacement children when each child serves one task (pool_max_tasks 1)", async () => {
    const executor = persistent({ concurrency: 1, poolMaxTasks: 1 });
    await executor.start();
    const results = await Promise.all([1, 2, 3].map((value) => executor.run(request(payloadFor("succeed", { value })))));
    expect(results.map((result) => [result.outcome, returned(result).value])).toEqual([["exited", 1], ["exited", 2], ["exited", 3]]);
    expect(new Set(results.map((result) => result.pid)).size).toBe(3);
  });

  test("fork mode queues nothing ahead", () => {
    const fork = createExecutor({ worker: workerConfig({ executor: "python-pool", poolMode: "fork", executorModule: MODULE }), env: testEnv(), ...FAST });
    expect(fork.queueAhead ?? 0).toBe(0);
  });
});

describe("children are replaced", () => {
  test("pool_max_tasks: a child is replaced after that many tasks; the pool stays", async () => {
    const executor = persistent({ poolMaxTasks: 3 });
    await executor.start();
    const poolPid = executor.poolPid;
    const pids: (number | null)[] = [];
    for (let i = 0; i < 7; i += 1) pids.push((await executor.run(noop())).pid);
    expect(pids[0]).toBe(pids[2]);
    expect(pids[3]).not.toBe(pids[2]);
    expect(pids[3]).toBe(pids[5]);
    expect(pids[6]).not.toBe(pids[5]);
    expect(executor.poolPid).toBe(poolPid);
    expect(await eventually(() => !isAlive(pids[0] ?? 0))).toBe(true);
  });

  test("pool_max_child_rss_mb: a child above it after a task is replaced; the task itself succeeds", async () => {
    const executor = persistent({ poolMaxChildRssMb: 60 });
    const small = await executor.run(noop());
    const again = await executor.run(noop());
    expect(again.pid).toBe(small.pid);
    const big = await executor.run(request(payloadFor("hog", { mb: 80 })));
    expect(big.envelope?.ok).toBe(true);
    expect(big.pid).toBe(small.pid);
    const next = await executor.run(noop());
    expect(next.envelope?.ok).toBe(true);
    expect(next.pid).not.toBe(big.pid);
    expect(await eventually(() => !isAlive(big.pid ?? 0))).toBe(true);
  });

  test("a task that leaves a thread behind: its result stands, the child is replaced", async () => {
    const executor = persistent();
    const threaded = await executor.run(request(payloadFor("thread")));
    expect(threaded.envelope?.ok).toBe(true);
    expect(threaded.exitCode).toBe(0);
    const next = await executor.run(noop());
    expect(next.envelope?.ok).toBe(true);
    expect(next.pid).not.toBe(threaded.pid);
    expect(await eventually(() => !isAlive(threaded.pid ?? 0))).toBe(true);
  });

  test("a task that closes every descriptor above stderr (its child's included): its result stands, a new child serves the next", async () => {
    const executor = persistent();
    const closing = await executor.run(request(payloadFor("closefds")));
    expect([closing.outcome, closing.exitCode, closing.envelope?.ok]).toEqual(["exited", 0, true]);
    const next = await executor.run(noop());
    expect(next.envelope?.ok).toBe(true);
    expect(next.pid).not.toBe(closing.pid);
  });

  test("a child killed mid-task takes only its own task (reported as fork mode reports a killed process); a replacement serves the next", async () => {
    const executor = persistent({ concurrency: 2 });
    const fork = createExecutor({
      worker: workerConfig({ executor: "python-pool", poolMode: "fork", executorModule: MODULE, poolStaleCheckIntervalMs: 0 }),
      env: testEnv(),
      ...FAST,
    }) as PoolExecutor;
    executors.push(fork);
    await Promise.all([executor.start(), fork.start()]);
    const killedIn = async (target: PoolExecutor, resultId: string) => {
      const running = target.run(request(payloadFor("sleep", { seconds: 5 }), { resultId }));
      let found: number[] = [];
      await eventually(() => (found = pgrep(`${MODULE} --result-id ${resultId}`)).length > 0);
      process.kill(found[0] ?? 0, "SIGKILL");
      return running;
    };
    const other = executor.run(request(payloadFor("sleep", { seconds: 1.5 }), { resultId: "5151" }));
    const [killed, forked] = await Promise.all([killedIn(executor, "5150"), killedIn(fork, "5152")]);
    const strip = (result: ExecutionResult) => ({ outcome: result.outcome, exitCode: result.exitCode, signal: result.signal, envelope: result.envelope, message: result.message.replace(/\d+/g, "N") });
    expect(strip(killed)).toEqual(strip(forked));
    expect(killed.signal).toBe("SIGKILL");
    const survivor = await other;
    expect(survivor.envelope?.ok).toBe(true);
    expect(survivor.pid).not.toBe(killed.pid);
    const next = await Promise.all([executor.run(noop()), executor.run(noop())]);
    for (const result of next) expect(result.envelope?.ok).toBe(true);
    expect(next.map((result) => result.pid)).not.toContain(killed.pid);
  });

  test("timeout and cancel stop the child running that task; the other child and the pool carry on", async () => {
    const executor = persistent({ concurrency: 2 });
    await executor.start();
    const poolPid = executor.poolPid;
    const warm = await Promise.all([executor.run(noop()), executor.run(noop())]);
    const children = new Set(warm.map((result) => result.pid));
    const timedOut = await executor.run(request(payloadFor("sleep", { seconds: 30 }), { timeoutMs: 500 }));
    expect(timedOut.outcome).toBe("timeout");
    expect(children.has(timedOut.pid)).toBe(true);
    const controller = new AbortController();
    const cancelled = executor.run(request(payloadFor("sleep", { seconds: 30 }), { signal: controller.signal }));
    await Bun.sleep(300);
    controller.abort(new Error("cancel"));
    const aborted = await cancelled;
    expect(aborted.outcome).toBe("aborted");
    expect(await eventually(() => !isAlive(timedOut.pid ?? 0) && !isAlive(aborted.pid ?? 0))).toBe(true);
    const after = await executor.run(noop());
    expect(after.envelope?.ok).toBe(true);
    expect([timedOut.pid, aborted.pid]).not.toContain(after.pid);
    expect(executor.poolPid).toBe(poolPid);
  });

  test("stop() (the worker's SIGTERM path) ends the pool and its idle children", async () => {
    const lines: LogLine[] = [];
    const executor = persistent({ concurrency: 3 }, { logger: memoryLogger(lines) });
    await executor.start();
    const poolPid = executor.poolPid ?? 0;
    await executor.run(noop());
    let children: number[] = [];
    await eventually(() => (children = pgrep(`-m ${MODULE} \\(reproq python-pool child, idle\\)`).filter((pid) => parentOf(pid) === poolPid)).length === 3);
    expect(children.length).toBe(3);
    expect(lines.find((line) => line.msg === "Python pool ready")?.attrs).toMatchObject({ mode: "persistent" });
    await executor.stop();
    expect(isAlive(poolPid)).toBe(false);
    expect(await eventually(() => children.every((pid) => !isAlive(pid)))).toBe(true);
  });
});

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return 0;
  }
}

// Real Django 3.2 (Debian's python3-django) with psycopg2, on tests/helpers/executors/djangoproj.
const DJANGO_PYTHON = "/usr/bin/python3";
const djangoMissing = Bun.spawnSync([DJANGO_PYTHON, "-c", "import django, psycopg2"], { stdout: "ignore", stderr: "ignore" }).exitCode !== 0;

/** A python-pool on the djangoproj project against `dsn`; `env` adds the project's DEMOAPP_* switches. */
function djangoProjectPool(dsn: string, options: { poolMode?: PoolMode; poolDbReuse?: boolean; env?: Record<string, string> } = {}): PoolExecutor {
  const executor = createExecutor({
    worker: workerConfig({
      executor: "python-pool", poolMode: options.poolMode ?? "persistent", pythonBin: DJANGO_PYTHON, executorModule: "djangoproj.reproq_executor",
      poolPreloadModules: ["demoapp.tasks"], poolStaleCheckIntervalMs: 0, poolDbReuse: options.poolDbReuse ?? true,
    }),
    env: testEnv({ PYTHONPATH: join(EXECUTORS_DIR, "djangoproj"), DJANGO_SETTINGS_MODULE: "djangoproj.settings", DATABASE_URL: dsn, DEMOAPP_SETUP_QUERY: "0", ...options.env }),
    ...FAST,
  }) as PoolExecutor;
  executors.push(executor);
  return executor;
}

describe.skipIf(djangoMissing)("real Django: database connections between tasks", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ label: "python_pool_persistent" });
  });
  afterAll(async () => {
    await db?.drop();
  });

  const djangoPool = (connMaxAge: string, poolDbReuse = true) => djangoProjectPool(db.dsn, { poolDbReuse, env: { DEMOAPP_CONN_MAX_AGE: connMaxAge } });
  const task = (taskPath: string, args: unknown[] = []) => request(JSON.stringify({ task_path: taskPath, args, kwargs: {} }), { taskPath });
  const backendPid = (result: ExecutionResult) => JSON.parse(result.envelope?.returnJson ?? "0") as number;

  test("CONN_MAX_AGE 0 (Django's default) with pool_db_reuse (the default): the child keeps its healthy connection", async () => {
    const executor = djangoPool("0");
    const a = await executor.run(task("demoapp.tasks.which_db_connection"));
    const b = await executor.run(task("demoapp.tasks.which_db_connection"));
    expect(b.pid).toBe(a.pid);
    expect(backendPid(a)).toBeGreaterThan(0);
    expect(backendPid(b)).toBe(backendPid(a));
    const breaking = await executor.run(task("demoapp.tasks.break_connection"));
    expect(breaking.envelope?.ok).toBe(true);
    const afterBreak = await executor.run(task("demoapp.tasks.which_db_connection"));
    expect(afterBreak.envelope?.ok).toBe(true);
    expect(backendPid(afterBreak)).not.toBe(backendPid(breaking));
  });

  test("CONN_MAX_AGE 0 with pool_db_reuse false: each task gets a fresh connection, as Django closes it after a request", async () => {
    const executor = djangoPool("0", false);
    const a = await executor.run(task("demoapp.tasks.which_db_connection"));
    const b = await executor.run(task("demoapp.tasks.which_db_connection"));
    expect(b.pid).toBe(a.pid);
    expect(backendPid(a)).toBeGreaterThan(0);
    expect(backendPid(b)).not.toBe(backendPid(a));
  });

  test("CONN_MAX_AGE set: the connection is kept; a task that closes it, or breaks it, does not hurt the next task", async () => {
    const executor = djangoPool("none");
    const a = await executor.run(task("demoapp.tasks.which_db_connection"));
    const b = await executor.run(task("demoapp.tasks.which_db_connection"));
    expect(b.pid).toBe(a.pid);
    expect(backendPid(b)).toBe(backendPid(a));
    const closing = await executor.run(task("demoapp.tasks.close_connection"));
    expect(closing.envelope?.ok).toBe(true);
    const afterClose = await executor.run(task("demoapp.tasks.which_db_connection"));
    expect(afterClose.envelope?.ok).toBe(true);
    expect(backendPid(afterClose)).not.toBe(backendPid(a));
    const breaking = await executor.run(task("demoapp.tasks.break_connection"));
    expect(breaking.envelope?.ok).toBe(true);
    const afterBreak = await executor.run(task("demoapp.tasks.which_db_connection"));
    expect(afterBreak.envelope?.ok).toBe(true);
    expect(afterBreak.pid).toBe(a.pid);
    expect(backendPid(afterBreak)).not.toBe(backendPid(breaking));
  });
});

describe.skipIf(djangoMissing)("real Django: django.setup() once per child", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ label: "python_pool_setup_once" });
  });
  afterAll(async () => {
    await db?.drop();
  });

  const countingPool = (poolMode: PoolMode) => djangoProjectPool(db.dsn, { poolMode, env: { DEMOAPP_COUNT_LOGGING: "1" } });
  const configured = async (executor: PoolExecutor) => {
    const result = await executor.run(request(JSON.stringify({ task_path: "demoapp.tasks.logging_configured", args: [], kwargs: {} }), { taskPath: "demoapp.tasks.logging_configured" }));
    expect(result.envelope?.ok).toBe(true);
    return { pid: result.pid, count: JSON.parse(result.envelope?.returnJson ?? "null") as number };
  };

  test("persistent: the executor's django.setup() applies LOGGING on a child's first task only (the pool's setup, then once in the child)", async () => {
    const executor = countingPool("persistent");
    const runs = [await configured(executor), await configured(executor), await configured(executor)];
    expect(new Set(runs.map((run) => run.pid)).size).toBe(1);
    expect(runs.map((run) => run.count)).toEqual([2, 2, 2]);
  });

  test("fork: every task process applies it once more after the pool's setup, as before", async () => {
    const executor = countingPool("fork");
    const runs = [await configured(executor), await configured(executor)];
    expect(runs[0]?.pid).not.toBe(runs[1]?.pid);
    expect(runs.map((run) => run.count)).toEqual([2, 2]);
  });
});

describe("which mode is on", () => {
  test("the start-up log and doctor hint names the faster setting (and why it is not the default) unless persistent is on", () => {
    for (const setting of [{ executor: "python", poolMode: "fork" }, { executor: "python-pool", poolMode: "fork" }] as const) {
      const hint = pythonSpeedHint(setting) ?? "";
      expect(hint).toContain("--pool-mode persistent");
      expect(hint).toContain("not the default because");
    }
    expect(pythonSpeedHint({ executor: "python-pool", poolMode: "persistent" })).toBeNull();
    expect(pythonSpeedHint({ executor: "bun", poolMode: "fork" })).toBeNull();
  });
});
