// Short-task batches (worker/short-batch.ts, queue/short-batch.ts) against real PostgreSQL: the
// lock-mode pick leaves its rows READY and locked; the batch write records each attempt in one
// update; through the runtime, a short task's row goes READY → SUCCESSFUL in one write, a task
// outliving the bound shows RUNNING (leased) and is completed like any claimed row, shutdown leaves
// a batch's unstarted rows READY untouched, and a batch whose connection dies is taken back on
// another connection (finished rows recorded, running ones claimed) unless another claim got there first.
import { afterAll, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeDb } from "../../src/db/client.ts";
import { createLogger, silentLogger } from "../../src/observability/logger.ts";
import { ClaimSession, taskClaimBatch } from "../../src/queue/claim.ts";
import { taskClaimPick } from "../../src/queue/claim-pick.ts";
import { taskBatchCommitted, taskFinishLocked } from "../../src/queue/short-batch.ts";
import { Worker } from "../../src/worker/runtime.ts";
import type { WorkerConfig } from "../../src/config/index.ts";
import type { Executor } from "../../src/executor/index.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { workerConfig } from "../helpers/executors/index.ts";
import { ScriptedExecutor } from "../helpers/scripted-executor.ts";
import { enqueue, waitFor } from "../helpers/worker.ts";
import { claimParams, claimSession, insertRows, resetTables } from "./claim-fixtures.ts";

setDefaultTimeout(90_000); // also when run as plain `bun test` (its default is 5 s)
const testLogger = process.env.DEBUG_TEST ? await createLogger({ level: "debug", format: "json" }) : silentLogger;

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ flavour: "reproq", label: "short_batch" });
  // Every status change of task_runs, in order: how many writes each row took.
  await db.sql.unsafe(`
    create table status_log (id bigserial primary key, result_id bigint, old_status text, new_status text);
    create function log_status() returns trigger language plpgsql as $$
    begin
      if old.status is distinct from new.status then
        insert into status_log (result_id, old_status, new_status) values (old.result_id, old.status, new.status);
      end if;
      return new;
    end $$;
    create trigger log_status after update on task_runs for each row execute function log_status();`);
});
afterAll(() => db?.drop());
beforeEach(async () => {
  await resetTables(db.sql);
  await db.sql`truncate status_log`;
});

/** One row run to the end: the route's first claim is a transaction; batches start once a pick found no keyed rows. */
async function warmUp(): Promise<void> {
  const [warm] = await enqueue(db.sql, [{ kwargs: {} }]);
  await waitFor(async () => (await db.sql`select 1 from task_runs where result_id = ${warm!}::bigint and status = 'SUCCESSFUL'`).length > 0, { what: "the warm-up row" });
}

async function transitions(ids: readonly string[]): Promise<Record<string, string[]>> {
  const rows = await db.sql<{ result_id: string; step: string }[]>`
    select result_id::text, old_status || '>' || new_status as step from status_log
    where result_id = any(${ids}::bigint[]) order by id`;
  const out: Record<string, string[]> = Object.fromEntries(ids.map((id) => [id, []]));
  for (const row of rows) out[row.result_id]!.push(row.step);
  return out;
}

describe("SQL", () => {
  test("a lock-mode pick leaves its rows READY and locked (other claims skip them), reports the claim's attempt, defers keyed rows", async () => {
    const [a, b, keyed] = await insertRows(db.sql, [{}, {}, { lockKey: "k" }]);
    await db.sql.begin(async (tx) => {
      const pick = await taskClaimPick(tx, claimParams(), null, "lock");
      expect(pick.claimed.map((c) => c.task.resultId)).toEqual([a!, b!]);
      expect(pick.claimed.map((c) => c.task.attempts)).toEqual([1, 1]);
      expect(pick.deferred.map((d) => d.resultId)).toEqual([keyed!]);
      expect(pick.claimAt).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+/);
      const [state] = await db.sql<{ ready: number }[]>`select count(*)::int as ready from task_runs where status = 'READY' and attempts = 0`;
      expect(state?.ready).toBe(3);
      // Another worker's claim, meanwhile, skips all three (locked).
      expect(await taskClaimBatch(db.sql, claimParams({ workerId: "other" }))).toEqual([]);
      throw new Error("roll back");
    }).catch((error: Error) => expect(error.message).toBe("roll back"));
    expect((await taskClaimBatch(db.sql, claimParams({ workerId: "other" }))).map((t) => t.resultId).sort()).toEqual([a!, b!, keyed!].sort());
  });

  test("the batch write records each attempt in one update: success, retry, terminal failure, claim of a row still running; a requeue leaves its row untouched", async () => {
    const ids = await insertRows(db.sql, [{}, {}, {}, {}, {}]);
    const [ok, retry, terminal, running, requeued] = ids as [string, string, string, string, string];
    const [child] = await insertRows(db.sql, [{}]);
    await db.sql`update task_runs set status = 'WAITING', wait_count = 1, parent_id = ${ok}::bigint where result_id = ${child!}`;
    await db.sql`truncate status_log`;
    const error = { kind: "app_error", message: "boom", attempt: 1 };
    let claimAt = "";
    await db.sql.begin(async (tx) => {
      const pick = await taskClaimPick(tx, claimParams({ workerId: "w-short" }), null, "lock");
      claimAt = pick.claimAt!;
      const base = { workerId: "w-short", attempt: 1, logsUri: null };
      const written = await taskFinishLocked(tx, {
        workerId: "w-short", leaseSeconds: 60, claimAt,
        outcomes: [
          { kind: "success", completion: { ...base, resultId: ok, returnJson: '{"n": 1}', startDelaySeconds: 0.25 } },
          { kind: "failure", completion: { ...base, resultId: retry, error, disposition: { type: "retry", retryDelaySeconds: 30 }, lastError: "" } },
          { kind: "failure", completion: { ...base, resultId: terminal, error, disposition: { type: "terminal" }, lastError: "app_error: boom" } },
          { kind: "failure", completion: { ...base, resultId: requeued, error, disposition: { type: "requeue" }, lastError: "" } },
        ],
        promote: [{ resultId: running, attempt: 1 }],
      });
      expect(Object.fromEntries(written.map((r) => [r.resultId, r.kind]))).toEqual({ [ok]: "success", [retry]: "retry", [terminal]: "terminal", [running]: "running" });
    });
    const rows = await db.sql<Record<string, unknown>[]>`
      select result_id::text as id, status, attempts, worker_ids, leased_by, return_json,
             extract(epoch from started_at - ${claimAt}::timestamptz)::float8 as start_offset,
             started_at = last_attempted_at as same_start, finished_at is not null as finished, failed_at is not null as failed,
             last_error, jsonb_array_length(errors_json) as errors, errors_json -> 0 ->> 'at' is not null as error_at,
             run_after > now() + interval '20 seconds' as later,
             extract(epoch from leased_until - now())::float8 as lease_left
      from task_runs where result_id = any(${ids}::bigint[]) order by result_id`;
    const by = Object.fromEntries(rows.map((r) => [r.id, r]));
    expect(by[ok]).toMatchObject({ status: "SUCCESSFUL", attempts: 1, worker_ids: ["w-short"], leased_by: null, return_json: { n: 1 }, start_offset: 0.25, same_start: true, finished: true, failed: false, errors: 0 });
    expect(by[retry]).toMatchObject({ status: "READY", attempts: 1, worker_ids: ["w-short"], finished: false, errors: 1, error_at: true, later: true, leased_by: null });
    expect(by[terminal]).toMatchObject({ status: "FAILED", attempts: 1, finished: true, failed: true, last_error: "app_error: boom", errors: 1 });
    expect(by[running]).toMatchObject({ status: "RUNNING", attempts: 1, worker_ids: ["w-short"], leased_by: "w-short", start_offset: 0, finished: false });
    expect(Number(by[running]!.lease_left)).toBeGreaterThan(50);
    expect(by[requeued]).toMatchObject({ status: "READY", attempts: 0, worker_ids: [], leased_by: null, errors: 0 });
    expect((await db.sql<{ status: string }[]>`select status from task_runs where result_id = ${child!}`)[0]?.status).toBe("READY");
    // One write each: READY straight to its outcome.
    expect(await transitions([ok, retry, terminal, running, requeued])).toEqual({
      [ok]: ["READY>SUCCESSFUL"], [retry]: [], [terminal]: ["READY>FAILED"], [running]: ["READY>RUNNING"], [requeued]: [],
    });
  });

  test("taskBatchCommitted: after a commit whose answer was lost, the rows that batch wrote are told apart from rows still READY or taken by another worker", async () => {
    const [done, claimed, untouched, other] = await insertRows(db.sql, [{}, {}, {}, {}]) as [string, string, string, string];
    await db.sql.begin(async (tx) => {
      const pick = await taskClaimPick(tx, claimParams({ workerId: "w-lost", limit: 3 }), null, "lock");
      expect(pick.claimed.map((c) => c.task.resultId)).toEqual([done, claimed, untouched]);
      await taskFinishLocked(tx, {
        workerId: "w-lost", leaseSeconds: 60, claimAt: pick.claimAt!, promote: [{ resultId: claimed, attempt: 1 }],
        outcomes: [{ kind: "success", completion: { resultId: done, workerId: "w-lost", attempt: 1, returnJson: null, logsUri: null } }],
      });
    });
    await taskClaimBatch(db.sql, claimParams({ workerId: "w-other", limit: 5 })); // takes `untouched` and `other`
    const rows = [done, claimed, untouched, other].map((resultId) => ({ resultId, attempt: 1 }));
    expect((await taskBatchCommitted(db.sql, { workerId: "w-lost", rows })).sort()).toEqual([done, claimed].sort());
  });

  test("the write is fenced on the attempt: a row whose attempts moved is not written", async () => {
    const [id] = await insertRows(db.sql, [{}]);
    await db.sql.begin(async (tx) => {
      const pick = await taskClaimPick(tx, claimParams(), null, "lock");
      await tx`update task_runs set attempts = 5 where result_id = ${id!}`;
      const written = await taskFinishLocked(tx, {
        workerId: "w", leaseSeconds: 60, claimAt: pick.claimAt!, promote: [],
        outcomes: [{ kind: "success", completion: { resultId: id!, workerId: "w", attempt: 1, returnJson: null, logsUri: null } }],
      });
      expect(written).toEqual([]);
    });
    expect((await db.sql<{ status: string }[]>`select status from task_runs where result_id = ${id!}`)[0]?.status).toBe("READY");
  });
});

describe("through the runtime", () => {
  let session: ReturnType<typeof claimSession>;
  beforeAll(() => {
    session = claimSession(db.dsn);
  });
  afterAll(() => closeDb(session, 1));

  function start(executor: Executor, overrides: Partial<WorkerConfig>) {
    const worker = workerConfig({ allowedTaskModules: ["tasks."], pollMinBackoffMs: 20, pollMaxBackoffMs: 200, shortTaskBoundMs: 100, ...overrides });
    const runtime = new Worker({
      sql: db.sql, worker, executor, logger: testLogger,
      identity: { workerId: worker.workerId, hostname: "test", concurrency: worker.concurrency, queues: worker.queues, version: "test" },
      claimSession: new ClaimSession(session, () => session, 30_000),
    });
    // The route starts keyed (its first claim is a transaction); short batches start once a pick found no keyed rows.
    return { runtime, done: runtime.run() };
  }

  test("short tasks go READY → SUCCESSFUL in one write; a task outliving the bound shows RUNNING (leased) within it, then completes", async () => {
    const executor = new ScriptedExecutor();
    const { runtime, done } = start(executor, { concurrency: 8, claimBatchSize: 20 });
    try {
      await warmUp();
      const ids = await enqueue(db.sql, [{ kwargs: { block: true } }, ...Array.from({ length: 6 }, () => ({ kwargs: {} }))]);
      const [slow, ...quick] = ids as [string, ...string[]];
      const seen = performance.now();
      const running = await waitFor(async () => {
        const [row] = await db.sql<{ status: string; leased_by: string | null; started: boolean }[]>`
          select status, leased_by, started_at is not null and started_at <= now() as started from task_runs where result_id = ${slow}::bigint`;
        return row?.status === "RUNNING" ? row : null;
      }, { intervalMs: 10, what: "the slow row RUNNING" });
      expect(running).toEqual({ status: "RUNNING", leased_by: "test-worker", started: true });
      expect(performance.now() - seen).toBeLessThan(5_000); // 100 ms bound; generous for a loaded machine
      await waitFor(async () => (await db.sql`select 1 from task_runs where result_id = any(${quick}::bigint[]) and status = 'SUCCESSFUL'`).length === quick.length, { what: "the quick rows" });
      executor.release(slow);
      await waitFor(async () => (await db.sql`select 1 from task_runs where result_id = ${slow}::bigint and status = 'SUCCESSFUL'`).length > 0, { what: "the slow row" });
      const log = await transitions(ids);
      for (const id of quick) expect(log[id]).toEqual(["READY>SUCCESSFUL"]);
      expect(log[slow]).toEqual(["READY>RUNNING", "RUNNING>SUCCESSFUL"]);
      const rows = await db.sql<{ attempts: number; worker_ids: string[]; ordered: boolean }[]>`
        select attempts, worker_ids, started_at <= finished_at and enqueued_at <= started_at as ordered from task_runs where result_id = any(${ids}::bigint[])`;
      expect(rows.every((r) => r.attempts === 1 && r.worker_ids.length === 1 && r.ordered)).toBe(true);
    } finally {
      runtime.requestShutdown();
      await done;
    }
  });

  test("shutdown while a batch's rows wait in the local buffer: they stay READY, untouched", async () => {
    const executor = new ScriptedExecutor();
    // A long bound (tests only) keeps the batch open for the whole test.
    const { runtime, done } = start(executor, { concurrency: 1, claimBatchSize: 10, shortTaskBoundMs: 60_000, shutdownTimeoutMs: 300 });
    await warmUp();
    const ids = await enqueue(db.sql, [{ kwargs: { block: true } }, {}, {}, {}]);
    await waitFor(async () => executor.started.includes(ids[0]!), { what: "the blocking row to start" });
    runtime.requestShutdown();
    await done;
    expect(executor.started.filter((id) => ids.includes(id))).toEqual([ids[0]!]);
    const rows = await db.sql<{ status: string; attempts: number; worker_ids: string[]; started: boolean; errors: number }[]>`
      select status, attempts, worker_ids, started_at is not null as started, jsonb_array_length(errors_json) as errors
      from task_runs where result_id = any(${ids}::bigint[])`;
    // The blocking one was stopped at shutdown (its attempt given back), the others never started.
    expect([...rows]).toEqual(ids.map(() => ({ status: "READY", attempts: 0, worker_ids: [], started: false, errors: 0 })));
    expect(Object.values(await transitions(ids)).flat()).toEqual([]);
  });

  test("a batch whose connection dies: the worker takes its rows back on another connection (the finished one recorded, the running one claimed), nothing runs twice", async () => {
    const executor = new ScriptedExecutor();
    const { runtime, done } = start(executor, { concurrency: 4, claimBatchSize: 10, shortTaskBoundMs: 60_000 });
    try {
      await warmUp();
      const [blocked, quick] = await enqueue(db.sql, [{ kwargs: { block: true } }, {}]) as [string, string];
      await waitFor(async () => executor.started.includes(blocked) && executor.started.includes(quick), { what: "both rows to start" });
      // The batch waits for the blocked row: its transaction is idle, holding the row locks.
      const [backend] = await db.sql<{ pid: number }[]>`
        select l.pid from pg_locks l join pg_stat_activity a on a.pid = l.pid
        where l.locktype = 'transactionid' and a.state = 'idle in transaction' and a.datname = current_database() limit 1`;
      expect(backend).toBeDefined();
      await db.sql`select pg_terminate_backend(${backend!.pid})`;
      // Taken back: the quick row SUCCESSFUL (its run counted once), the blocked one RUNNING, leased, still running.
      const states = await waitFor(async () => {
        const rows = await db.sql<{ id: string; status: string; attempts: number; leased_by: string | null }[]>`
          select result_id::text as id, status, attempts, leased_by from task_runs where result_id = any(${[blocked, quick]}::bigint[]) order by result_id`;
        return rows[0]?.status === "RUNNING" && rows[1]?.status === "SUCCESSFUL" ? rows : null;
      }, { what: "the rows taken back" });
      expect([...states]).toEqual([
        { id: blocked, status: "RUNNING", attempts: 1, leased_by: "test-worker" },
        { id: quick, status: "SUCCESSFUL", attempts: 1, leased_by: null },
      ]);
      executor.release(blocked);
      await waitFor(async () => (await db.sql`select 1 from task_runs where result_id = ${blocked}::bigint and status = 'SUCCESSFUL'`).length > 0, { what: "the blocked row to finish" });
      expect(executor.started.filter((id) => id === blocked || id === quick).sort()).toEqual([blocked, quick].sort());
      expect(Object.values(await transitions([blocked, quick]))).toEqual([["READY>RUNNING", "RUNNING>SUCCESSFUL"], ["READY>SUCCESSFUL"]]);
    } finally {
      runtime.requestShutdown();
      await done;
    }
  });

  test("a result the database refuses does not sink the batch: every row is claimed instead and the completer isolates the bad one", async () => {
    await db.sql.unsafe(`
      create or replace function refuse_poison() returns trigger language plpgsql as $$
      begin
        if new.return_json = '"poison"'::jsonb then raise exception 'poison refused'; end if;
        return new;
      end $$;
      create trigger refuse_poison before update on task_runs for each row execute function refuse_poison();`);
    const executor = new ScriptedExecutor();
    const { runtime, done } = start(executor, { concurrency: 4, claimBatchSize: 10 });
    try {
      await warmUp();
      const [good, poison] = await enqueue(db.sql, [{ kwargs: { returns: "fine" } }, { kwargs: { returns: "poison" } }]) as [string, string];
      await waitFor(async () => (await db.sql`select 1 from task_runs where result_id = any(${[good, poison]}::bigint[]) and status in ('SUCCESSFUL', 'FAILED')`).length === 2, { what: "both rows finished" });
      const rows = await db.sql<{ id: string; status: string; attempts: number; return_json: unknown; kind: string | null }[]>`
        select result_id::text as id, status, attempts, return_json, errors_json -> 0 ->> 'kind' as kind
        from task_runs where result_id = any(${[good, poison]}::bigint[]) order by result_id`;
      expect([...rows]).toEqual([
        { id: good, status: "SUCCESSFUL", attempts: 1, return_json: "fine", kind: null },
        { id: poison, status: "FAILED", attempts: 1, return_json: null, kind: "infra_error" },
      ]);
      // Each ran once; both were claimed by the fallback, then written by the completer.
      expect(executor.started.filter((id) => id === good || id === poison).sort()).toEqual([good, poison].sort());
      expect(Object.values(await transitions([good, poison]))).toEqual([["READY>RUNNING", "RUNNING>SUCCESSFUL"], ["READY>RUNNING", "RUNNING>FAILED"]]);
    } finally {
      runtime.requestShutdown();
      await done;
      await db.sql.unsafe("drop trigger refuse_poison on task_runs");
    }
  });

  test("a lost batch's rows another claim took meanwhile stay with it: the run here is stopped and its outcome dropped", async () => {
    const executor = new ScriptedExecutor();
    const { runtime, done } = start(executor, { concurrency: 4, claimBatchSize: 10, shortTaskBoundMs: 60_000 });
    try {
      await warmUp();
      const [blocked] = await enqueue(db.sql, [{ kwargs: { block: true } }]) as [string];
      await waitFor(async () => executor.started.includes(blocked), { what: "the row to start" });
      const [backend] = await db.sql<{ pid: number }[]>`
        select l.pid from pg_locks l join pg_stat_activity a on a.pid = l.pid
        where l.locktype = 'transactionid' and a.state = 'idle in transaction' and a.datname = current_database() limit 1`;
      // Another worker's claim gets to the row first: it waits for the row's lock, which the
      // batch's transaction gives up when its backend is terminated.
      const other = await db.sql.reserve();
      try {
        await other`begin`;
        const locking = other`select result_id from task_runs where result_id = ${blocked}::bigint for update`.execute();
        await waitFor(async () => (await db.sql`select 1 from pg_locks where not granted and locktype = 'transactionid'`).length > 0, { intervalMs: 10, what: "the other claim to wait for the row" });
        await db.sql`select pg_terminate_backend(${backend!.pid})`;
        expect((await locking).length).toBe(1);
        await other`update task_runs set status = 'RUNNING', attempts = attempts + 1, leased_by = 'other-worker', leased_until = now() + interval '5 minutes'
                    where result_id = ${blocked}::bigint`;
        await other`commit`;
      } finally {
        other.release();
      }
      await waitFor(async () => executor.aborted.includes(blocked), { what: "the run here to be stopped" });
      const [row] = await db.sql<{ status: string; leased_by: string; attempts: number }[]>`select status, leased_by, attempts from task_runs where result_id = ${blocked}::bigint`;
      expect(row).toEqual({ status: "RUNNING", leased_by: "other-worker", attempts: 1 });
    } finally {
      runtime.requestShutdown();
      await done;
    }
  });
});
