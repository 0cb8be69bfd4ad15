// The statement bound of the worker's pool (db/client.ts queryTimeoutMs, the patched postgres.js
// query watchdog): a statement whose backend stops answering (SIGSTOP of the backend process: a
// hung server or a dead network path look the same to the client) fails with the retryable
// QUERY_TIMEOUT within the bound and the pool carries on with a new connection; a slow statement
// is cancelled by the server (statement_timeout) without losing the connection; an idle or
// listening connection is never cut.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeDb, createDb, QUERY_GRACE_MS, type Sql } from "../../src/db/client.ts";
import { dbErrorCode, isRetryableDbError } from "../../src/db/retryable.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

setDefaultTimeout(60_000);

const BOUND_MS = 500;
const databases: TestDatabase[] = [];
const pools: Sql[] = [];
const stopped = new Set<number>();
afterAll(async () => {
  for (const pid of stopped) resume(pid);
  await Promise.all(pools.map((sql) => closeDb(sql, 1)));
  await Promise.all(databases.map((db) => db.drop()));
});

async function boundedPool(): Promise<Sql> {
  const db = await createTestDatabase({ flavour: "empty", label: "query_watchdog" });
  databases.push(db);
  const sql = createDb({ dsn: db.dsn, env: {}, poolSize: 1, connectTimeoutMs: 5_000, prepare: true, queryTimeoutMs: BOUND_MS });
  pools.push(sql);
  return sql;
}

async function backendPid(sql: Sql): Promise<number> {
  const [row] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
  return row!.pid;
}

/** SIGSTOP of a backend: possible when the server runs on this machine and we may signal it. */
function suspend(pid: number): boolean {
  try {
    process.kill(pid, "SIGSTOP");
    stopped.add(pid);
    return true;
  } catch (error) {
    console.log(`query watchdog: cannot SIGSTOP backend ${pid} (${String(error)}); the server is not local to this test`);
    return false;
  }
}

function resume(pid: number): void {
  try {
    process.kill(pid, "SIGCONT");
  } catch {
    // gone already
  }
  stopped.delete(pid);
}

/** Settles `work` or reports that it had not settled after `limitMs` (it used to wait forever). */
async function settleWithin<T>(work: Promise<T>, limitMs: number): Promise<{ value?: T; error?: unknown; ms: number }> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<"hung">((resolve) => (timer = setTimeout(() => resolve("hung"), limitMs)));
  const outcome = await Promise.race([work.then((value) => ({ value }), (error: unknown) => ({ error })), hung]);
  clearTimeout(timer);
  if (outcome === "hung") throw new Error(`the statement had not settled after ${limitMs} ms`);
  return { ...outcome, ms: performance.now() - started };
}

describe("query watchdog (queryTimeoutMs)", () => {
  test("a statement on a stopped backend fails with retryable QUERY_TIMEOUT within the bound; the pool recovers", async () => {
    const sql = await boundedPool();
    const pid = await backendPid(sql);
    if (!suspend(pid)) return;
    try {
      const outcome = await settleWithin(sql`select 1 as one`, BOUND_MS + QUERY_GRACE_MS + 10_000);
      expect(outcome.error).toBeDefined();
      expect(dbErrorCode(outcome.error)).toBe("QUERY_TIMEOUT");
      expect(isRetryableDbError(outcome.error)).toBe(true);
      expect(outcome.ms).toBeGreaterThanOrEqual(BOUND_MS + QUERY_GRACE_MS - 100);
      console.log(`query watchdog: stopped backend → ${dbErrorCode(outcome.error)} after ${Math.round(outcome.ms)} ms (bound ${BOUND_MS} + ${QUERY_GRACE_MS} ms)`);
    } finally {
      resume(pid);
    }
    // The pool's one connection was destroyed; the next statement gets a new one.
    const next = await settleWithin(backendPid(sql), 10_000);
    expect(next.error).toBeUndefined();
    expect(next.value).not.toBe(pid);
  });

  test("a transaction whose backend stops fails the same way (begin does not wait forever)", async () => {
    const sql = await boundedPool();
    const pid = await backendPid(sql);
    const outcome = settleWithin(
      sql.begin(async (tx) => {
        await tx`select 1`;
        suspend(pid);
        await tx`select 2`;
      }),
      BOUND_MS + QUERY_GRACE_MS + 10_000,
    );
    try {
      const settled = await outcome;
      if (!stopped.has(pid) && settled.error === undefined) return; // not local: nothing was stopped
      expect(isRetryableDbError(settled.error)).toBe(true);
    } finally {
      resume(pid);
    }
    const after = await settleWithin(sql<{ three: number }[]>`select 3 as three`, 10_000);
    expect(after.value?.[0]?.three).toBe(3);
  });

  test("the server cancels a slow statement (statement_timeout, retryable 57014) and the connection stays", async () => {
    const sql = await boundedPool();
    const pid = await backendPid(sql);
    const outcome = await settleWithin(sql`select pg_sleep(3)`, 10_000);
    expect(dbErrorCode(outcome.error)).toBe("57014");
    expect(isRetryableDbError(outcome.error)).toBe(true);
    expect(outcome.ms).toBeLessThan(2_500);
    expect(await backendPid(sql)).toBe(pid);
  });

  test("idle and listening connections outlive the bound", async () => {
    const sql = await boundedPool();
    const pid = await backendPid(sql);
    const heard: string[] = [];
    const listener = await sql.listen("watchdog_test", (payload) => heard.push(payload));
    await Bun.sleep(BOUND_MS + QUERY_GRACE_MS + 1_000);
    expect(await backendPid(sql)).toBe(pid);
    await sql.notify("watchdog_test", "still here");
    const deadline = performance.now() + 5_000;
    while (heard.length === 0 && performance.now() < deadline) await Bun.sleep(20);
    expect(heard).toEqual(["still here"]);
    await listener.unlisten();
  });
});
