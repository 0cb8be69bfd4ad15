// taskClaimBatch / taskNextRunAfter against real PostgreSQL, on both schema flavours: the columns a
// claim writes, due times, pauses, ordering (priority, aging, FIFO, result_id), batch size,
// exhausted rows and fairness across queues. Keys and rate limits: claim-limits.test.ts.

import { afterAll, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import postgres from "postgres";
import { closeDb, createDb } from "../../src/db/client.ts";
import { parseDsn } from "../../src/db/dsn.ts";
import { CLAIM_SESSION_SETTINGS, ClaimSession, PartialClaimError, type ClaimRoute, taskClaimBatch, taskNextRunAfter } from "../../src/queue/claim.ts";
import { claimKeyLocks, picksWithLocksHeld, taskClaimKeyed, taskClaimKeysTryLock } from "../../src/queue/claim-keyed.ts";
import { taskClaimPick } from "../../src/queue/claim-pick.ts";
import { taskCompleteSuccessMany } from "../../src/queue/complete.ts";
import { buildDsn, type TestDatabase } from "../helpers/db.ts";
import { startTcpProxy } from "../helpers/tcp-proxy.ts";
import { claimParams, claimSession, FLAVOURS, insertRows, openDatabase, resetTables, setPaused } from "./claim-fixtures.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

describe.each(FLAVOURS)("claim (%s schema)", (flavour) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openDatabase(flavour);
  });
  afterAll(() => db?.drop());
  beforeEach(() => resetTables(db.sql));

  describe("with a claim route (a session carrying the claim settings)", () => {
    let session: ReturnType<typeof claimSession>;
    beforeAll(() => {
      session = claimSession(db.dsn);
    });
    afterAll(() => closeDb(session, 1));

    test("the first claim is a transaction; with no keyed rows picked, one statement; a one-statement pick that meets keyed rows still claims them in the same call", async () => {
      const route = new ClaimSession(session, () => session, 30_000);
      expect(route.keyed).toBe(true);
      await insertRows(db.sql, [{}, {}]);
      expect(await taskClaimBatch(db.sql, claimParams(), route)).toHaveLength(2);
      expect(route.keyed).toBe(false); // the pick found none
      const ids = await insertRows(db.sql, [{}, { lockKey: "k1" }, { concurrencyKey: "c1", concurrencyLimit: 1 }, {}]);
      const claimed = await taskClaimBatch(db.sql, claimParams(), route);
      expect(claimed.map((task) => task.resultId).sort()).toEqual([...ids].sort());
      expect(route.keyed).toBe(true);
      const rows = await db.sql<{ status: string; attempts: number }[]>`select status, attempts from task_runs where result_id = any(${ids}::bigint[])`;
      expect(rows.every((row) => row.status === "RUNNING" && row.attempts === 1)).toBe(true);
      // Limits still hold on that path: a second row of c1 stays READY while the first runs.
      const [secondC1] = await insertRows(db.sql, [{ concurrencyKey: "c1", concurrencyLimit: 1 }, {}]);
      expect(await taskClaimBatch(db.sql, claimParams(), route)).toHaveLength(1);
      const [waiting] = await db.sql<{ status: string }[]>`select status from task_runs where result_id = ${secondC1!}::bigint`;
      expect(waiting?.status).toBe("READY");
      expect(route.keyed).toBe(false); // the pick's pre-filter skipped the full c1 group: nothing keyed was picked
    });

    test("round trips (through a proxy delaying replies 100 ms): a routed claim takes one, a transaction three", async () => {
      const target = parseDsn(db.dsn, process.env);
      const delay = 100;
      const proxy = await startTcpProxy({ host: target.host, port: target.port }, { replyDelayMs: delay });
      const slowDsn = buildDsn({ ...target, host: "127.0.0.1", port: proxy.port });
      const sql = createDb({ dsn: slowDsn, env: {}, poolSize: 1, connectTimeoutMs: 10_000, prepare: true });
      const slowSession = claimSession(slowDsn);
      try {
        await insertRows(db.sql, [{}, {}, {}, {}]);
        await Promise.all([sql`select 1`, slowSession`select 1`]); // connected
        const timed = async (route?: ClaimRoute) => {
          const started = performance.now();
          const claimed = await taskClaimBatch(sql, claimParams({ limit: 1 }), route);
          expect(claimed).toHaveLength(1);
          return performance.now() - started;
        };
        await timed(); // statements prepared on this connection
        const transaction = await timed();
        const route = { session: slowSession, keyed: false };
        await timed(route); // prepared on the session
        const routed = await timed(route);
        expect(transaction).toBeGreaterThanOrEqual(3 * delay - 10);
        expect(routed).toBeLessThan(1.6 * delay);
      } finally {
        await Promise.all([closeDb(sql, 1), closeDb(slowSession, 1)]);
        await proxy.close();
      }
    });

    test("a routed claim is the pick alone on the session (postgres.js debug hook), and the session has the claim settings", async () => {
      const sent: string[] = [];
      const traced = postgres(db.dsn, {
        max: 1,
        onnotice: () => {},
        connection: { ...CLAIM_SESSION_SETTINGS },
        debug: (_connection, query) => void sent.push(query.trim().slice(0, 24).toLowerCase()),
      });
      try {
        await insertRows(db.sql, [{}]);
        expect(await taskClaimBatch(db.sql, claimParams(), { session: traced, keyed: false })).toHaveLength(1);
        const statements = sent.filter((text) => !text.startsWith("select b.oid")); // postgres.js's type lookup at connect
        expect(statements.map((text) => (text.startsWith("with recursive") ? "pick" : text))).toEqual(["pick"]);
        const [settings] = await traced<{ jit: string; plan: string; lock: string }[]>`
          select current_setting('jit') as jit, current_setting('plan_cache_mode') as plan, current_setting('lock_timeout') as lock`;
        expect(settings).toEqual({ jit: "off", plan: "force_generic_plan", lock: "5s" });
      } finally {
        await traced.end({ timeout: 1 });
      }
    });

    test("a failed routed pick changes nothing and the route stays usable", async () => {
      const route = { session, keyed: false };
      await insertRows(db.sql, [{}]);
      const error = await taskClaimBatch(db.sql, claimParams({ leaseSeconds: Number.NaN }), route).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(Error);
      const [row] = await db.sql<{ status: string; attempts: number }[]>`select status, attempts from task_runs`;
      expect(row).toEqual({ status: "READY", attempts: 0 });
      expect(await taskClaimBatch(db.sql, claimParams(), route)).toHaveLength(1);
    });

    test("a claim session whose connection goes silent is replaced as a whole: the next claim runs on a new pool at once, the old one is closed", async () => {
      // The session's connections go through a proxy that then drops everything (a stopped
      // server, a dead path). Its statements are bounded: 0.2 s + the client's 5 s grace.
      const target = parseDsn(db.dsn, process.env);
      const proxy = await startTcpProxy({ host: target.host, port: target.port });
      const first = createDb({ dsn: buildDsn({ ...target, host: "127.0.0.1", port: proxy.port }), env: {}, poolSize: 2, connectTimeoutMs: 10_000, prepare: true, queryTimeoutMs: 200, sessionSettings: CLAIM_SESSION_SETTINGS });
      const route = new ClaimSession(first, () => claimSession(db.dsn), 30_000, 1);
      route.keyed = false;
      try {
        await Promise.all([first`select pg_sleep(0.05)`, first`select pg_sleep(0.05)`]); // both connections open
        proxy.freeze();
        await insertRows(db.sql, [{}]);
        const failed = await taskClaimBatch(db.sql, claimParams(), route).catch((err: unknown) => err);
        expect((failed as { code?: string }).code).toBe("QUERY_TIMEOUT");
        expect(route.replaced).toBe(1);
        // Not the pool's other connection, as silent as the first: a new pool, answered at once.
        const started = performance.now();
        expect(await taskClaimBatch(db.sql, claimParams(), route)).toHaveLength(1);
        expect(performance.now() - started).toBeLessThan(2_000);
        expect(await first`select 1`.catch((err: { code?: string }) => err.code)).toBe("CONNECTION_ENDED");
      } finally {
        await route.close(1);
        await proxy.close();
      }
    });

    test("a pick the server starts after its deadline claims nothing; before it, claims", async () => {
      await insertRows(db.sql, [{}]);
      const past = (await db.sql<{ t: string }[]>`select (now() - interval '1 second')::text as t`)[0]!.t;
      const late = await taskClaimPick(session, claimParams(), past);
      expect(late.claimed).toEqual([]);
      expect((await db.sql<{ status: string }[]>`select status from task_runs`)[0]?.status).toBe("READY");
      const route = new ClaimSession(session, () => session, 30_000);
      const deadline = Date.parse(await route.deadline());
      const serverNow = Date.parse((await db.sql<{ t: string }[]>`select clock_timestamp()::text as t`)[0]!.t);
      expect(Math.abs(deadline - 30_000 - serverNow)).toBeLessThan(1_000); // the server's clock plus the bound
      expect((await taskClaimPick(session, claimParams(), await route.deadline())).claimed).toHaveLength(1);
    });

    test("a one-statement claim sent to a backend that stops, its client gone before the backend resumes: the statement then runs late and claims nothing", async () => {
      // The worker gives the claim up (here: its pool closes, as at exit) while the statement
      // waits in the stopped backend's socket; on SIGCONT the backend reads and runs it.
      const app = `reproq-late-claim-${flavour}`;
      const late = createDb({ dsn: db.dsn, env: {}, poolSize: 1, connectTimeoutMs: 10_000, prepare: true, applicationName: app, sessionSettings: CLAIM_SESSION_SETTINGS });
      const route = new ClaimSession(late, () => claimSession(db.dsn), 1_000, 1);
      route.keyed = false;
      let stopped: number | null = null;
      try {
        // Connected, the server's clock read, the pick prepared on the connection (a statement
        // not prepared yet waits for its description and would never be sent whole).
        expect(await taskClaimBatch(db.sql, claimParams(), route)).toEqual([]);
        const [backend] = await db.sql<{ pid: number }[]>`select pid from pg_stat_activity where application_name = ${app}`;
        process.kill(backend!.pid, "SIGSTOP");
        stopped = backend!.pid;
        const [id] = await insertRows(db.sql, [{}]);
        const claim = taskClaimBatch(db.sql, claimParams(), route).catch((err: unknown) => err);
        await Bun.sleep(1_500); // past the claim's deadline (1 s)
        await late.end({ timeout: 0 }); // the client goes away (Terminate, then FIN)
        expect(await claim).toBeInstanceOf(Error);
        process.kill(stopped, "SIGCONT");
        stopped = null;
        await Bun.sleep(500);
        const [row] = await db.sql<{ status: string; attempts: number }[]>`select status, attempts from task_runs where result_id = ${id!}::bigint`;
        expect(row).toEqual({ status: "READY", attempts: 0 });
      } finally {
        if (stopped !== null) process.kill(stopped, "SIGCONT");
        await route.close(1);
      }
    });

    test("keyed stage fails after the pick claimed unkeyed rows: PartialClaimError carries those rows; the keyed row stays READY", async () => {
      const broken = createDb({ dsn: db.dsn, env: {}, poolSize: 1, connectTimeoutMs: 10_000, prepare: true });
      await broken.end({ timeout: 0 }); // every statement on it fails
      const [plain, keyed] = await insertRows(db.sql, [{}, { lockKey: "k1" }]);
      const error = await taskClaimBatch(broken, claimParams(), { session, keyed: false }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(PartialClaimError);
      expect((error as PartialClaimError).claimed.map((task) => task.resultId)).toEqual([plain!]);
      const rows = await db.sql<{ result_id: string; status: string }[]>`select result_id::text, status from task_runs order by result_id`;
      expect(rows.map((row) => [row.result_id, row.status])).toEqual([[plain!, "RUNNING"], [keyed!, "READY"]]);
    });
  });

  test("a claim writes every claim column and returns the row", async () => {
    const [id] = await insertRows(db.sql, [{ taskPath: "app.tasks.send", priority: 3, maxAttempts: 5 }]);
    const claimed = await taskClaimBatch(db.sql, claimParams({ workerId: "w-1", leaseSeconds: 120 }));
    expect(claimed).toHaveLength(1);
    const task = claimed[0]!;
    const [row] = await db.sql<Record<string, unknown>[]>`
      SELECT status, attempts, leased_by, worker_ids, spec_json::text AS spec_text, rtrim(spec_hash) AS hash,
             abs(EXTRACT(EPOCH FROM leased_until - (NOW() + interval '120 seconds'))) AS lease_skew,
             started_at IS NOT NULL AND started_at = last_attempted_at AS started,
             updated_at > NOW() - interval '10 seconds' AS touched
      FROM task_runs WHERE result_id = ${id!}`;
    expect(row).toMatchObject({ status: "RUNNING", attempts: 1, leased_by: "w-1", worker_ids: ["w-1"], started: true, touched: true });
    expect(Number(row!.lease_skew)).toBeLessThan(5);
    expect(task).toMatchObject({
      resultId: id, queueName: "default", priority: 3, taskPath: "app.tasks.send", attempts: 1,
      maxAttempts: 5, timeoutSeconds: 900, lockKey: null, concurrencyKey: null, concurrencyLimit: 0,
      workflowId: null, parentId: null, specText: row!.spec_text, specHash: row!.hash,
    });
    expect(await taskClaimBatch(db.sql, claimParams())).toEqual([]);
  });

  test("a second claim keeps started_at, counts the attempt and appends the worker", async () => {
    const [id] = await insertRows(db.sql, [{}]);
    await taskClaimBatch(db.sql, claimParams({ workerId: "w-1" }));
    await db.sql`UPDATE task_runs SET status = 'READY', started_at = started_at - interval '1 hour' WHERE result_id = ${id!}`;
    const [again] = await taskClaimBatch(db.sql, claimParams({ workerId: "w-2" }));
    expect(again!.attempts).toBe(2);
    const [row] = await db.sql<{ worker_ids: string[]; kept: boolean }[]>`
      SELECT worker_ids, started_at < last_attempted_at - interval '59 minutes' AS kept FROM task_runs WHERE result_id = ${id!}`;
    expect(row).toEqual({ worker_ids: ["w-1", "w-2"], kept: true });
  });

  test("spec_hash comes back trimmed", async () => {
    await insertRows(db.sql, [{ specHash: "abc123" }]);
    const [task] = await taskClaimBatch(db.sql, claimParams());
    expect(task!.specHash).toBe("abc123");
  });

  test("run_after in the future is not claimed; past and NULL are", async () => {
    const [future, past, none] = await insertRows(db.sql, [{ runAfterSeconds: 3600 }, { runAfterSeconds: -5 }, {}]);
    const claimed = await taskClaimBatch(db.sql, claimParams());
    expect(claimed.map((t) => t.resultId).sort()).toEqual([past!, none!].sort());
    const [row] = await db.sql<{ status: string }[]>`SELECT status FROM task_runs WHERE result_id = ${future!}`;
    expect(row!.status).toBe("READY");
  });

  test("a paused queue is untouched until resumed; other queues still run", async () => {
    const [paused, other] = await insertRows(db.sql, [{ queue: "mail" }, { queue: "default" }]);
    await setPaused(db.sql, "mail", true);
    const first = await taskClaimBatch(db.sql, claimParams({ queues: ["mail", "default"] }));
    expect(first.map((t) => t.resultId)).toEqual([other!]);
    expect(await taskClaimBatch(db.sql, claimParams({ queues: ["mail"] }))).toEqual([]);
    await setPaused(db.sql, "mail", false);
    const resumed = await taskClaimBatch(db.sql, claimParams({ queues: ["mail"] }));
    expect(resumed.map((t) => t.resultId)).toEqual([paused!]);
  });

  test("higher priority first; aging off: priority 10 new beats priority 0 waiting 120 s", async () => {
    const [fresh, old] = await insertRows(db.sql, [{ priority: 10 }, { priority: 0, ageSeconds: 120 }]);
    const order = await claimOneByOne(db, { priorityAgingFactor: 0 });
    expect(order).toEqual([fresh!, old!]);
  });

  test("aging on (factor 10): the row waiting 120 s (0 + 12) beats priority 10", async () => {
    const [fresh, old] = await insertRows(db.sql, [{ priority: 10 }, { priority: 0, ageSeconds: 120 }]);
    const order = await claimOneByOne(db, { priorityAgingFactor: 10 });
    expect(order).toEqual([old!, fresh!]);
    // And in one batch the returned order is the same ranking.
    await resetTables(db.sql);
    const [f2, o2] = await insertRows(db.sql, [{ priority: 10 }, { priority: 0, ageSeconds: 120 }]);
    const batch = await taskClaimBatch(db.sql, claimParams({ priorityAgingFactor: 10 }));
    expect(batch.map((t) => t.resultId)).toEqual([o2!, f2!]);
  });

  test("aging respects the level order when the age is not enough", async () => {
    const ids = await insertRows(db.sql, [{ priority: 0, ageSeconds: 50 }, { priority: 10 }, { priority: 5, ageSeconds: 20 }]);
    // effective: 0 + 5 = 5, 10, 5 + 2 = 7
    const batch = await taskClaimBatch(db.sql, claimParams({ priorityAgingFactor: 10 }));
    expect(batch.map((t) => t.resultId)).toEqual([ids[1]!, ids[2]!, ids[0]!]);
  });

  test("FIFO within a priority, then result_id on equal enqueued_at", async () => {
    const at = new Date(Date.now() - 60_000);
    const ids = await insertRows(db.sql, [
      { ageSeconds: 10 }, { ageSeconds: 30 }, { enqueuedAt: at }, { enqueuedAt: at }, { ageSeconds: 20 },
    ]);
    const batch = await taskClaimBatch(db.sql, claimParams({ priorityAgingFactor: 60 }));
    expect(batch.map((t) => t.resultId)).toEqual([ids[2]!, ids[3]!, ids[1]!, ids[4]!, ids[0]!]);
  });

  test("a batch takes at most `limit` rows, best first", async () => {
    const ids = await insertRows(db.sql, Array.from({ length: 10 }, (_, i) => ({ ageSeconds: 100 - i })));
    const sizes: number[] = [];
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const batch = await taskClaimBatch(db.sql, claimParams({ limit: 4 }));
      sizes.push(batch.length);
      seen.push(...batch.map((t) => t.resultId));
    }
    expect(sizes).toEqual([4, 4, 2, 0]);
    expect(seen).toEqual(ids);
  });

  test("a READY row whose attempts reached max_attempts is still claimed once more", async () => {
    const [id] = await insertRows(db.sql, [{ attempts: 3, maxAttempts: 3 }]);
    const [task] = await taskClaimBatch(db.sql, claimParams());
    expect(task).toMatchObject({ resultId: id, attempts: 4, maxAttempts: 3 });
  });

  test("fairness: a busy queue does not starve a small one, even at higher priority", async () => {
    await insertRows(db.sql, Array.from({ length: 1000 }, (_, i) => ({ queue: "bulk", priority: 5, ageSeconds: 1000 - i })));
    const small = await insertRows(db.sql, Array.from({ length: 5 }, () => ({ queue: "mail", priority: 0 })));
    const batch = await taskClaimBatch(db.sql, claimParams({ queues: ["bulk", "mail"], limit: 10, priorityAgingFactor: 60 }));
    expect(batch).toHaveLength(10);
    expect(batch.filter((t) => t.queueName === "mail").map((t) => t.resultId).sort()).toEqual([...small].sort());
    // With one queue only, the busy queue gets the whole batch.
    const bulkOnly = await taskClaimBatch(db.sql, claimParams({ queues: ["bulk"], limit: 10 }));
    expect(bulkOnly).toHaveLength(10);
  });

  test("only the worker's queues are claimed; empty queue list or limit 0 claim nothing", async () => {
    await insertRows(db.sql, [{ queue: "other" }]);
    expect(await taskClaimBatch(db.sql, claimParams({ queues: ["default"] }))).toEqual([]);
    expect(await taskClaimBatch(db.sql, claimParams({ queues: [] }))).toEqual([]);
    expect(await taskClaimBatch(db.sql, claimParams({ queues: ["other"], limit: 0 }))).toEqual([]);
    expect(await taskClaimBatch(db.sql, claimParams({ queues: ["other", "other"] }))).toHaveLength(1);
  });

  test("taskNextRunAfter: earliest future run_after of the worker's unpaused queues, else null", async () => {
    expect(await taskNextRunAfter(db.sql, { queues: ["default"] })).toBeNull();
    await insertRows(db.sql, [
      { runAfterSeconds: 120 }, { runAfterSeconds: 30 }, { runAfterSeconds: -10 }, {},
      { queue: "other", runAfterSeconds: 5 }, { queue: "paused", runAfterSeconds: 1 },
    ]);
    await setPaused(db.sql, "paused", true);
    const next = await taskNextRunAfter(db.sql, { queues: ["default", "paused"] });
    const [expected] = await db.sql<{ at: Date }[]>`
      SELECT run_after AS at FROM task_runs WHERE queue_name = 'default' AND run_after > NOW() ORDER BY run_after LIMIT 1`;
    expect(next?.getTime()).toBe(expected!.at.getTime());
    expect(Math.abs(next!.getTime() - Date.now() - 30_000)).toBeLessThan(10_000);
    expect((await taskNextRunAfter(db.sql, { queues: ["other", "default"] }))!.getTime()).toBeLessThan(next!.getTime());
    expect(await taskNextRunAfter(db.sql, { queues: [] })).toBeNull();
  });

  // A claim transaction's NOW() is when it began; a row it picks in a later statement may have
  // been released (a chain child) after that. started_at must still come after the parent's
  // finished_at: the claim stamps its rows with the time it ran, not when its transaction began.
  test.each([["unkeyed", null], ["keyed", "k-child"]] as const)(
    "a chain child claimed by a transaction that began before its parent finished starts after the parent (%s)",
    async (_label, lockKey) => {
      const [parent, child] = await insertRows(db.sql, [{}, { lockKey }]);
      await db.sql`UPDATE task_runs SET status = 'WAITING', wait_count = 1, parent_id = ${parent!}::bigint WHERE result_id = ${child!}`;
      const [running] = await taskClaimBatch(db.sql, claimParams({ workerId: "w-parent" }));
      expect(running?.resultId).toBe(parent!);
      await db.sql.begin(async (tx) => {
        await tx`SELECT 1`; // the transaction (and its NOW()) begins here
        await Bun.sleep(40);
        const done = await taskCompleteSuccessMany(db.sql, [{ resultId: parent!, workerId: "w-parent", attempt: 1, returnJson: null, logsUri: null }]);
        expect(done.written).toEqual([parent!]);
        const pick = await taskClaimPick(tx, claimParams({ workerId: "w-child" }));
        if (lockKey === null) expect(pick.claimed.map((c) => c.task.resultId)).toEqual([child!]);
        else {
          expect(pick.deferred.map((d) => d.resultId)).toEqual([child!]);
          const held = await taskClaimKeysTryLock(tx, { locks: pick.deferred.flatMap(claimKeyLocks) });
          const keyed = await taskClaimKeyed(tx, { ...claimParams({ workerId: "w-child" }), picks: picksWithLocksHeld(pick.deferred, held) });
          expect(keyed.map((c) => c.task.resultId)).toEqual([child!]);
        }
      });
      const [row] = await db.sql<{ after: boolean; same: boolean; lease: number }[]>`
        SELECT c.started_at >= p.finished_at AS after, c.started_at = c.last_attempted_at AS same,
               EXTRACT(EPOCH FROM c.leased_until - c.started_at)::float8 AS lease
        FROM task_runs c, task_runs p WHERE c.result_id = ${child!} AND p.result_id = ${parent!}`;
      expect(row).toEqual({ after: true, same: true, lease: claimParams().leaseSeconds });
    },
  );

  test("taskNextRunAfter sinceMs: a row due within that window is returned (a claim just missed it); rows due before are not", async () => {
    await insertRows(db.sql, [{ runAfterSeconds: -0.2 }, { runAfterSeconds: -30 }]);
    expect(await taskNextRunAfter(db.sql, { queues: ["default"] })).toBeNull();
    const [recent] = await db.sql<{ at: Date }[]>`SELECT run_after AS at FROM task_runs WHERE run_after > NOW() - interval '10 seconds'`;
    expect((await taskNextRunAfter(db.sql, { queues: ["default"], sinceMs: 5_000 }))?.getTime()).toBe(recent!.at.getTime());
    expect(await taskNextRunAfter(db.sql, { queues: ["default"], sinceMs: 50 })).toBeNull();
  });
});

/** Claims with limit 1 until nothing is left; returns the result_ids in claim order. */
async function claimOneByOne(db: TestDatabase, overrides: { priorityAgingFactor: number }): Promise<string[]> {
  const order: string[] = [];
  for (;;) {
    const batch = await taskClaimBatch(db.sql, claimParams({ limit: 1, ...overrides }));
    if (batch.length === 0) return order;
    order.push(batch[0]!.resultId);
  }
}
