// The worker pipeline in-process, with an executor that does what the test says (no process):
// a slot is reused while the previous result's write is still blocked; rows in the local buffer
// (claimed, not started) are renewed by the heartbeat, honour a cancel without ever starting, and
// go back to READY (claim undone) at shutdown while a task still runs.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import type { ExecutionRequest, ExecutionResult, Executor } from "../../src/executor/index.ts";
import { ClaimSession } from "../../src/queue/claim.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { Worker } from "../../src/worker/runtime.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { workerConfig } from "../helpers/executors/index.ts";
import { ScriptedExecutor } from "../helpers/scripted-executor.ts";
import { enqueue, statusCounts, waitFor } from "../helpers/worker.ts";
import { claimSession, setRateLimit } from "./claim-fixtures.ts";

setDefaultTimeout(90_000); // also when run as plain `bun test` (its default is 5 s)

const databases: TestDatabase[] = [];
afterAll(() => Promise.all(databases.map((db) => db.drop())));

async function newWorker(label: string, overrides: Parameters<typeof workerConfig>[0]) {
  const db = await createTestDatabase({ flavour: "reproq", label });
  databases.push(db);
  const executor = new ScriptedExecutor();
  return { db, executor, ...startWorker(db, executor, overrides) };
}

function startWorker(db: TestDatabase, executor: Executor, overrides: Parameters<typeof workerConfig>[0]) {
  const worker = workerConfig({ allowedTaskModules: ["tasks."], pollMinBackoffMs: 20, pollMaxBackoffMs: 200, ...overrides });
  const runtime = new Worker({
    sql: db.sql,
    worker,
    executor,
    logger: silentLogger,
    identity: { workerId: worker.workerId, hostname: "test", concurrency: worker.concurrency, queues: worker.queues, version: "test" },
  });
  return { worker, runtime, done: runtime.run() };
}

test("a slot is reused as soon as the handler returns, while that result's write is still waiting on a row lock", async () => {
  const { db, executor, runtime, done } = await newWorker("pipeline_slot", { concurrency: 1 });
  const [first, second] = await enqueue(db.sql, [{ kwargs: { block: true } }, { kwargs: {} }]);
  await waitFor(async () => executor.started.includes(first!), { what: "the first task to start" });
  // Hold the first row's lock: its completion write cannot commit until we let go.
  const blocker = await db.sql.reserve();
  await blocker`begin`;
  await blocker`select 1 from task_runs where result_id = ${first!}::bigint for update`;
  try {
    executor.release(first!);
    await waitFor(async () => executor.started.includes(second!), { timeoutMs: 10_000, what: "the second task to start in the freed slot" });
    expect((await db.sql<{ status: string }[]>`select status from task_runs where result_id = ${first!}::bigint`)[0]?.status).toBe("RUNNING");
  } finally {
    await blocker`commit`;
    blocker.release();
  }
  await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === 2, { what: "both rows written" });
  runtime.requestShutdown();
  await done;
});

test("buffered rows: renewed by the heartbeat, a cancel is honoured without starting, shutdown gives the rest back at once", async () => {
  const { db, executor, runtime, done } = await newWorker("pipeline_buffer", { concurrency: 1, claimBatchSize: 20, heartbeatSeconds: 1, leaseSeconds: 30 });
  // Quick tasks first: the worker learns that its tasks are short and starts to claim ahead.
  await enqueue(db.sql, Array.from({ length: 30 }, () => ({ kwargs: {} })));
  await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === 30, { what: "the quick tasks" });
  // A backlog (a claim that comes back full) is what makes the worker claim ahead.
  const [blocking, ...queued] = await enqueue(db.sql, [{ kwargs: { block: true } }, ...Array.from({ length: 10 }, () => ({ kwargs: {} }))]);
  await waitFor(async () => executor.started.includes(blocking!), { what: "the blocking task to start" });
  const buffered = await waitFor(async () => {
    const rows = await db.sql<{ result_id: string }[]>`
      select result_id from task_runs where status = 'RUNNING' and result_id = any(${queued}::bigint[]) order by result_id`;
    return rows.length > 1 ? rows.map((r) => r.result_id) : false;
  }, { what: "rows claimed into the local buffer" });
  expect(buffered.some((id) => executor.started.includes(id))).toBe(false);

  const leaseOf = async (id: string) => (await db.sql<{ until: Date }[]>`select leased_until as until from task_runs where result_id = ${id}::bigint`)[0]!.until.getTime();
  const leaseBefore = await leaseOf(buffered.at(-1)!);
  await waitFor(async () => (await leaseOf(buffered.at(-1)!)) > leaseBefore, { timeoutMs: 10_000, what: "the heartbeat to renew a buffered row" });

  const cancelled = buffered[0]!;
  await db.sql`update task_runs set cancel_requested = true where result_id = ${cancelled}::bigint`;
  const row = await waitFor(async () => {
    const [r] = await db.sql<{ status: string; kinds: string[] }[]>`
      select status, coalesce((select array_agg(e->>'kind') from jsonb_array_elements(errors_json) e), '{}') as kinds
      from task_runs where result_id = ${cancelled}::bigint`;
    return r && r.status !== "RUNNING" ? r : false;
  }, { timeoutMs: 10_000, what: "the buffered row's cancel to be recorded" });
  expect(row.kinds).toEqual(["cancelled"]);
  expect(executor.started).not.toContain(cancelled);

  runtime.requestShutdown();
  const rest = buffered.slice(1);
  await waitFor(async () => {
    const rows = await db.sql<{ n: number }[]>`
      select count(*)::int as n from task_runs
      where result_id = any(${rest}::bigint[]) and status = 'READY' and attempts = 0 and leased_by is null
        and started_at is null and worker_ids = '[]'::jsonb and errors_json = '[]'::jsonb`;
    return rows[0]?.n === rest.length;
  }, { timeoutMs: 10_000, what: "the buffered rows back to READY while the blocking task still runs" });
  expect((await db.sql<{ status: string }[]>`select status from task_runs where result_id = ${blocking!}::bigint`)[0]?.status).toBe("RUNNING");
  executor.release(blocking!);
  await done;
  expect((await db.sql<{ status: string }[]>`select status from task_runs where result_id = ${blocking!}::bigint`)[0]?.status).toBe("SUCCESSFUL");
  expect(rest.some((id) => executor.started.includes(id))).toBe(false);
});

test("started_at is when the handler started, not when the row was claimed into the local buffer", async () => {
  // One slot, 40 ms tasks: once a claim comes back full the worker buffers rows ahead; each runs
  // only after the previous one returned, so its start can never precede the previous finish.
  class Slow extends ScriptedExecutor {
    override async run(request: ExecutionRequest): Promise<ExecutionResult> {
      await Bun.sleep(40);
      return super.run(request);
    }
  }
  const db = await createTestDatabase({ flavour: "reproq", label: "pipeline_started_at" });
  databases.push(db);
  await enqueue(db.sql, Array.from({ length: 30 }, () => ({ kwargs: {} })));
  const { runtime, done } = startWorker(db, new Slow(), { concurrency: 1, claimBatchSize: 20 });
  await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === 30, { timeoutMs: 30_000, what: "30 SUCCESSFUL rows" });
  runtime.requestShutdown();
  await done;
  const rows = await db.sql<{ started: number; finished: number; last: number }[]>`
    select extract(epoch from started_at)::float8 * 1000 as started, extract(epoch from finished_at)::float8 * 1000 as finished,
           extract(epoch from last_attempted_at)::float8 * 1000 as last
    from task_runs order by started_at`;
  // Rows stamped with their claim's time would share it: one slot and 40 ms handlers put real
  // starts 40 ms apart. started_at is the claim's database time plus the wait measured on the
  // worker, so rows of different claims can be off by the difference of the claims' round trips
  // (tens of ms on a loaded machine): the check is that no two starts coincide (< 5 ms apart).
  // (It compared each start with the previous row's finished_at - 30 ms, which failed on a loaded
  // machine: finished_at is when the result was written, up to ~60 ms after the handler returned.)
  const early = rows.filter((row, i) => i > 0 && row.started < rows[i - 1]!.started + 5).length;
  expect(early, JSON.stringify(rows.slice(0, 6))).toBe(0);
  for (const row of rows) {
    expect(row.last).toBe(row.started);
    expect(row.finished).toBeGreaterThanOrEqual(row.started);
  }
});

test("claims: one at a time while idle; during a backlog a second claim runs while the first is in flight, never more, and every row runs once", async () => {
  const { db, executor, runtime, done } = await newWorker("pipeline_two_claims", { concurrency: 64, claimBatchSize: 50 });
  for (let i = 0; i < 5; i++) {
    const [id] = await enqueue(db.sql, [{ taskPath: "tasks.quick" }]);
    await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === i + 1, { what: `trickled row ${id}` });
  }
  expect(runtime.peakClaimsInFlight).toBe(1);
  await enqueue(db.sql, Array.from({ length: 3_000 }, () => ({ taskPath: "tasks.quick" })));
  await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === 3_005, { timeoutMs: 60_000, what: "the backlog to drain" });
  runtime.requestShutdown();
  await done;
  expect(runtime.peakClaimsInFlight).toBe(2);
  expect(executor.started.length).toBe(3_005);
  expect(new Set(executor.started).size).toBe(3_005);
  expect(await statusCounts(db.sql)).toEqual({ SUCCESSFUL: 3_005 });
  const [attempts] = await db.sql<{ max: number }[]>`select max(attempts)::int as max from task_runs`;
  expect(attempts!.max).toBe(1);
});

test("an executor's queue-ahead: short tasks run concurrency + queueAhead at once; long ones (≥ 100 ms on average) never more than the concurrency", async () => {
  /** Records how many runs overlap; each sleeps `ms` (kwargs.ms). */
  class Overlap extends ScriptedExecutor {
    readonly queueAhead = 1;
    running = 0;
    peak = 0;
    peakAfterLong = 0;
    long = false;
    override async run(request: ExecutionRequest): Promise<ExecutionResult> {
      this.running += 1;
      this.peak = Math.max(this.peak, this.running);
      if (this.long) this.peakAfterLong = Math.max(this.peakAfterLong, this.running);
      await Bun.sleep(Number((request.spec?.kwargs as { ms?: number } | undefined)?.ms ?? 2));
      this.running -= 1;
      return super.run(request);
    }
  }
  const db = await createTestDatabase({ flavour: "reproq", label: "pipeline_queue_ahead" });
  databases.push(db);
  const executor = new Overlap();
  const { runtime, done } = startWorker(db, executor, { concurrency: 2, claimBatchSize: 20 });
  await enqueue(db.sql, Array.from({ length: 200 }, () => ({ kwargs: { ms: 2 } })));
  await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === 200, { timeoutMs: 60_000, what: "200 short tasks" });
  expect(executor.peak).toBe(3);
  // Long tasks: once the average is above the bound, the queue-ahead is off.
  await enqueue(db.sql, Array.from({ length: 6 }, () => ({ kwargs: { ms: 400 } })));
  await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === 206, { timeoutMs: 60_000, what: "the average to pass 100 ms" });
  executor.long = true;
  await enqueue(db.sql, Array.from({ length: 8 }, () => ({ kwargs: { ms: 300 } })));
  await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === 214, { timeoutMs: 60_000, what: "8 more long tasks" });
  runtime.requestShutdown();
  await done;
  expect(executor.peakAfterLong).toBeGreaterThan(0);
  expect(executor.peakAfterLong).toBeLessThanOrEqual(2);
});

test("claim route: unkeyed rows claimed by the one-statement pick run although the keyed stage after it fails (PartialClaimError); the keyed row runs once the lock is gone", async () => {
  const db = await createTestDatabase({ flavour: "reproq", label: "pipeline_route" });
  databases.push(db);
  const route = new ClaimSession(claimSession(db.dsn), () => claimSession(db.dsn), 30_000);
  const executor = new ScriptedExecutor();
  const worker = workerConfig({ allowedTaskModules: ["tasks."], pollMinBackoffMs: 20, pollMaxBackoffMs: 200, concurrency: 8 });
  const runtime = new Worker({
    sql: db.sql,
    claimSession: route,
    worker,
    executor,
    logger: silentLogger,
    identity: { workerId: worker.workerId, hostname: "test", concurrency: worker.concurrency, queues: worker.queues, version: "test" },
  });
  const done = runtime.run();
  try {
    // The first claims teach the worker that its picks find no keyed rows: one statement from then on.
    await enqueue(db.sql, Array.from({ length: 4 }, () => ({ kwargs: {} })));
    await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === 4, { what: "the first tasks" });
    // A rate bucket for one task path, its row locked by someone outside the claim path: the
    // keyed stage waits for it (lock_timeout 5 s) and fails.
    await setRateLimit(db.sql, "task:tasks.rated", { rate: 1000, burst: 1000 });
    const blocker = await db.sql.reserve();
    await blocker`begin`;
    await blocker`select 1 from rate_limits where key = 'task:tasks.rated' for update`;
    let plain: string[];
    let rated: string | undefined;
    try {
      [rated, ...plain] = await enqueue(db.sql, [{ taskPath: "tasks.rated", kwargs: {} }, ...Array.from({ length: 3 }, () => ({ kwargs: {} }))]);
      await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === 7, { timeoutMs: 20_000, what: "the three unkeyed rows, with the keyed stage failing" });
      const [row] = await db.sql<{ status: string; attempts: number }[]>`select status, attempts from task_runs where result_id = ${rated!}::bigint`;
      expect(row).toEqual({ status: "READY", attempts: 0 });
    } finally {
      await blocker`rollback`;
      blocker.release();
    }
    await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === 8, { timeoutMs: 20_000, what: "the keyed row, once the lock is gone" });
    for (const id of [...plain, rated!]) expect(executor.started.filter((started) => started === id)).toHaveLength(1);
  } finally {
    runtime.requestShutdown();
    await done;
    await route.close(1);
  }
});
