// How fast a pool connects again once the database is back. postgres.js's own reconnect delay
// grows with a failure count shared by the pool (up to 20 s) and resets only on success: after an
// outage that reset ten busy connections, the last statements waited ~15 s for a connection
// though the database was back. The pool's reconnect delay is capped at 1 s.

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeDb, createDb, reconnectDelaySeconds } from "../../src/db/client.ts";
import { parseDsn } from "../../src/db/dsn.ts";
import { buildDsn, createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.ts";
import { waitFor } from "../helpers/worker.ts";

setDefaultTimeout(120_000);

test("the reconnect delay starts at 25–50 ms and never exceeds 1 s", () => {
  for (let failures = 0; failures < 40; failures++) {
    const seconds = reconnectDelaySeconds(failures);
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual(1);
  }
  expect(reconnectDelaySeconds(0)).toBeLessThanOrEqual(0.05);
});

describe("a pool after an outage", () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  beforeAll(async () => {
    db = await createTestDatabase({ flavour: "reproq", label: "db_reconnect" });
    const target = parseDsn(db.dsn, process.env);
    proxy = await startTcpProxy({ host: target.host, port: target.port });
  });
  afterAll(async () => {
    await proxy?.close();
    await db?.drop();
  });

  test("ten busy connections reset at once; once the database is back, ten statements are all answered within 3 s", async () => {
    const target = parseDsn(db.dsn, process.env);
    const size = 10;
    const sql = createDb({ dsn: buildDsn({ ...target, host: "127.0.0.1", port: proxy.port }), env: {}, poolSize: size, connectTimeoutMs: 10_000, prepare: true });
    try {
      const text = "select pg_sleep(5.5)";
      const busy = Array.from({ length: size }, () => sql.unsafe(text).execute());
      await waitFor(async () => (await db.sql<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity
        where datname = current_database() and state = 'active' and query = ${text}`)[0]!.n === size, { timeoutMs: 20_000, intervalMs: 20, what: "ten statements running" });
      proxy.cut({ reset: true }); // the outage: every connection reset
      const failed = (await Promise.allSettled(busy)).filter((result) => result.status === "rejected").length;
      expect(failed).toBe(size);
      proxy.restore();
      const restoredAt = performance.now();
      const answered = await Promise.all(Array.from({ length: size }, async () => {
        await sql`select 1`;
        return performance.now() - restoredAt;
      }));
      const slowestMs = Math.max(...answered);
      console.log(`after the outage: ${size} statements answered within ${Math.round(slowestMs)} ms`);
      expect(slowestMs).toBeLessThan(3_000); // postgres.js's default delay: up to 20 s for the later connections
    } finally {
      await closeDb(sql, 1);
    }
  });
});
