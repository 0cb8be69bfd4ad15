// Retry classification and the retry helper: pure cases first, then real errors produced by
// PostgreSQL and postgres.js (refused connection, terminated backend, deadlock, constraint).

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import postgres from "postgres";
import { closeDb, connectDb, createDb } from "../../src/db/client.ts";
import { isRetryableDbError, withDbRetry } from "../../src/db/retryable.ts";
import { createTestDatabase, freePort, type TestDatabase } from "../helpers/db.ts";
import { expectQuick } from "../helpers/timing.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

// bunfig's [test] timeout is not applied by Bun 1.4; database set-up can exceed the 5 s default.

const withCode = (code: string) => Object.assign(new Error(code), { code });

describe("isRetryableDbError", () => {
  test.each([
    ["08006", true], // connection_failure
    ["08001", true], // sqlclient_unable_to_establish_sqlconnection
    ["57P01", true],
    ["57P02", true],
    ["57P03", true],
    ["40001", true],
    ["40P01", true],
    ["53300", true],
    ["ECONNREFUSED", true],
    ["ECONNRESET", true],
    ["EPIPE", true],
    ["ETIMEDOUT", true],
    ["CONNECTION_CLOSED", true],
    ["CONNECTION_ENDED", true],
    ["CONNECT_TIMEOUT", true],
    ["23505", false], // unique_violation
    ["42P01", false], // undefined_table
    ["57014", true], // query_canceled: the worker's statement bound (database.query_timeout) stopped it
    ["28P01", false], // bad password: retrying will not help
    ["UNDEFINED_VALUE", false],
  ])("%s → %p", (code, expected) => {
    expect(isRetryableDbError(withCode(code))).toBe(expected);
  });

  test("non-errors and errors without a code are not retryable", () => {
    for (const value of [undefined, null, "ECONNREFUSED", 42, new Error("boom"), { code: 8006 }]) {
      expect(isRetryableDbError(value)).toBe(false);
    }
  });

  test("looks through AggregateError.errors and cause", () => {
    expect(isRetryableDbError(new AggregateError([new Error("x"), withCode("ECONNREFUSED")]))).toBe(true);
    expect(isRetryableDbError(new Error("wrapped", { cause: withCode("57P01") }))).toBe(true);
    expect(isRetryableDbError(new Error("wrapped", { cause: withCode("23505") }))).toBe(false);
  });
});

describe("withDbRetry", () => {
  test("retries retryable errors with growing, bounded delays, then returns the result", async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = await withDbRetry(
      async (attempt) => {
        calls++;
        expect(attempt).toBe(calls);
        if (calls < 4) throw withCode("ECONNREFUSED");
        return "ok";
      },
      { attempts: 5, baseMs: 8, maxMs: 20, onRetry: (_err, _attempt, delay) => delays.push(delay) },
    );
    expect(result).toBe("ok");
    expect(calls).toBe(4);
    expect(delays).toHaveLength(3);
    const ceilings = [8, 16, 20];
    delays.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(ceilings[i]! / 2);
      expect(d).toBeLessThanOrEqual(ceilings[i]!);
    });
  });

  test("a first attempt whose connection died is retried at once and silently; later failures back off", async () => {
    const delays: number[] = [];
    const started = performance.now();
    let calls = 0;
    const once = await withDbRetry(async () => {
      if (++calls === 1) throw withCode("CONNECTION_CLOSED");
      return "ok";
    }, { attempts: 5, baseMs: 1_000, maxMs: 1_000, onRetry: (_err, _attempt, delay) => delays.push(delay) });
    expect(once).toBe("ok");
    expect(calls).toBe(2);
    expect(delays).toEqual([]); // no wait, no outage reported
    expect(performance.now() - started).toBeLessThan(900);

    calls = 0;
    const twice = await withDbRetry(async () => {
      if (++calls <= 2) throw withCode(calls === 1 ? "57P01" : "QUERY_TIMEOUT");
      return "ok";
    }, { attempts: 5, baseMs: 8, maxMs: 20, onRetry: (_err, _attempt, delay) => delays.push(delay) });
    expect(twice).toBe("ok");
    expect(delays).toHaveLength(1); // the second failure waits (first backoff step) and is reported
    expect(delays[0]!).toBeGreaterThanOrEqual(4);
    expect(delays[0]!).toBeLessThanOrEqual(8);
  });

  test("a non-retryable error is thrown at once, unchanged", async () => {
    let calls = 0;
    const original = withCode("23505");
    const err = await withDbRetry(
      async () => {
        calls++;
        throw original;
      },
      { attempts: 5, baseMs: 1, maxMs: 1 },
    ).catch((e: unknown) => e);
    expect(err).toBe(original);
    expect(calls).toBe(1);
  });

  test("gives up after `attempts` and throws the last error", async () => {
    let calls = 0;
    const err = await withDbRetry(
      async () => {
        calls++;
        throw withCode(`57P0${calls}`);
      },
      { attempts: 3, baseMs: 1, maxMs: 2 },
    ).catch((e: unknown) => e);
    expect(calls).toBe(3);
    expect((err as { code: string }).code).toBe("57P03");
  });

  test("aborting the signal stops a long wait at once with the abort reason", async () => {
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(new Error("shutting down")), 30);
    const err = await withDbRetry(
      async () => {
        throw withCode("ECONNREFUSED");
      },
      { attempts: Infinity, baseMs: 60_000, maxMs: 60_000, signal: controller.signal },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe("shutting down");
    expectQuick(performance.now() - started, 1_000, "an abort 30 ms into a 60 s wait");
  });

  test("an already aborted signal prevents the first attempt", async () => {
    let calls = 0;
    const err = await withDbRetry(
      async () => {
        calls++;
      },
      { attempts: 3, baseMs: 1, maxMs: 1, signal: AbortSignal.abort(new Error("stop")) },
    ).catch((e: unknown) => e);
    expect(calls).toBe(0);
    expect((err as Error).message).toBe("stop");
  });
});

describe("real errors", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.sql`create table accounts (id int primary key, balance int not null)`;
    await db.sql`insert into accounts values (1, 0), (2, 0)`;
  });
  afterAll(() => db?.drop());

  test("a refused connection from postgres.js is retryable", async () => {
    const sql = createDb({ dsn: `postgres://u@127.0.0.1:${await freePort()}/db`, env: {}, poolSize: 1, connectTimeoutMs: 2_000, prepare: true });
    try {
      const err = await sql`select 1`.then(() => undefined, (e: unknown) => e);
      expect(isRetryableDbError(err)).toBe(true);
    } finally {
      await closeDb(sql, 0);
    }
  });

  test("a unique violation is not retryable", async () => {
    const err = await db.sql`insert into accounts values (1, 0)`.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(postgres.PostgresError);
    expect(isRetryableDbError(err)).toBe(false);
  });

  test("a backend terminated by an administrator is retryable, and withDbRetry recovers", async () => {
    const victim = await connectDb({ dsn: db.dsn, env: {}, poolSize: 1, connectTimeoutMs: 5_000, prepare: true });
    try {
      const [backend] = await victim<{ pid: number }[]>`select pg_backend_pid() as pid`;
      const pid = backend!.pid;
      let attempts = 0;
      const seen: string[] = [];
      const result = await withDbRetry(
        async () => {
          attempts++;
          if (attempts === 1) {
            const sleeping = victim`select pg_sleep(10)`.then(() => undefined);
            await Bun.sleep(100);
            await db.sql`select pg_terminate_backend(${pid})`;
            await sleeping;
          }
          const [row] = await victim<{ ok: number }[]>`select 1 as ok`;
          return row!.ok;
        },
        { attempts: 5, baseMs: 10, maxMs: 50, onRetry: (err) => void seen.push(String((err as { code?: string }).code)) },
      );
      expect(result).toBe(1);
      // postgres.js fails the running query with CONNECTION_CLOSED and may hand the server's FATAL
      // 57P01 to the next query on that connection; both must count as retryable. The first retry
      // of a lost connection runs at once without onRetry, so `seen` holds only later ones.
      expect(attempts).toBeGreaterThanOrEqual(2);
      for (const code of seen) expect(["CONNECTION_CLOSED", "57P01"]).toContain(code);
      expect(attempts).toBe(seen.length + 2);
    } finally {
      await closeDb(victim);
    }
  });

  test("a deadlock victim gets 40P01, which is retryable", async () => {
    const a = await db.sql.reserve();
    const b = await db.sql.reserve();
    try {
      await a`begin`;
      await b`begin`;
      await a`update accounts set balance = balance + 1 where id = 1`;
      await b`update accounts set balance = balance + 1 where id = 2`;
      const results = await Promise.allSettled([
        a`update accounts set balance = balance + 1 where id = 2`.then((r) => r),
        b`update accounts set balance = balance + 1 where id = 1`.then((r) => r),
      ]);
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(failed).toHaveLength(1);
      expect((failed[0]!.reason as { code: string }).code).toBe("40P01");
      expect(isRetryableDbError(failed[0]!.reason)).toBe(true);
    } finally {
      await a`rollback`.catch(() => {});
      await b`rollback`.catch(() => {});
      a.release();
      b.release();
    }
  });
});
