// transactionOn (src/db/transaction.ts) on a connection reserved with withReservedConnection: one transaction whose BEGIN
// travels with its first statement. Real PostgreSQL; the round trips are counted through a proxy
// that delays every reply.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { closeDb, connectDb, type Queryable, type Sql } from "../../src/db/client.ts";
import { parseDsn } from "../../src/db/dsn.ts";
import { transactionOn } from "../../src/db/transaction.ts";
import { withReservedConnection } from "../../src/queue/batches.ts";
import { buildDsn, createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.ts";

setDefaultTimeout(60_000);

/** `work` in one transactionOn a connection reserved from `sql` (as the bulk triage runs do). */
function onReserved<T>(sql: Sql, work: (tx: Queryable) => Promise<T>): Promise<T> {
  return withReservedConnection(sql, (conn) => transactionOn(conn, work));
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ label: "pipelined_tx" });
  await db.sql`create table marks (id int primary key)`;
});
afterAll(() => db?.drop());

test("the statements share one transaction; COMMIT when the work resolves, ROLLBACK (error rethrown) when it throws", async () => {
  const seen = await onReserved(db.sql, async (tx) => {
    const [a] = await tx<{ xid: string }[]>`select txid_current()::text as xid`;
    await tx`insert into marks values (1)`;
    const [b] = await tx<{ xid: string }[]>`select txid_current()::text as xid`;
    return { a: a?.xid, b: b?.xid };
  });
  expect(seen.a).toBe(seen.b); // autocommit statements would each get their own
  const failure = await onReserved(db.sql, async (tx) => {
    await tx`insert into marks values (2)`;
    throw new Error("work failed");
  }).catch((error: unknown) => error);
  expect((failure as Error).message).toBe("work failed");
  const sqlError = await onReserved(db.sql, async (tx) => {
    await tx`insert into marks values (3)`;
    await tx`insert into marks values (1)`; // duplicate key: the transaction is aborted
  }).catch((error: unknown) => error);
  expect((sqlError as { code?: string }).code).toBe("23505");
  expect((await db.sql<{ id: number }[]>`select id from marks order by id`).map((row) => row.id)).toEqual([1]);
  // The connection went back to the pool, outside any transaction.
  const [state] = await db.sql<{ xid: string }[]>`select txid_current_if_assigned()::text as xid`;
  expect(state?.xid ?? null).toBeNull();
});

test("BEGIN costs no round trip of its own: one statement is two round trips (sql.begin: three)", async () => {
  const target = parseDsn(db.dsn, process.env);
  let proxy: TcpProxy | undefined;
  let sql: Sql | undefined;
  try {
    const delay = 100;
    proxy = await startTcpProxy({ host: target.host, port: target.port }, { replyDelayMs: delay });
    const viaProxy = buildDsn({ ...target, host: "127.0.0.1", port: proxy.port });
    sql = await connectDb({ dsn: viaProxy, env: {}, poolSize: 1, connectTimeoutMs: 10_000, prepare: true });
    await sql`select 1`; // connected and warm
    const timed = async (run: () => Promise<unknown>) => {
      const started = performance.now();
      await run();
      return performance.now() - started;
    };
    const pipelined = await timed(() => onReserved(sql as Sql, (tx) => tx`select 1`));
    const begin = await timed(() => (sql as Sql).begin((tx) => tx`select 1`));
    const reserved = await (sql as Sql).reserve();
    const on = await timed(() => transactionOn(reserved, (tx) => tx`select 1`)).finally(() => reserved.release());
    expect(begin).toBeGreaterThanOrEqual(3 * delay - 10); // the proxy delays as intended
    expect(pipelined).toBeLessThan(2.5 * delay);
    expect(on).toBeLessThan(2.5 * delay);
  } finally {
    if (sql) await closeDb(sql);
    await proxy?.close();
  }
});

test("a transaction whose connection dies: its error is thrown and the pool keeps working (the dead connection is not handed out again)", async () => {
  const pool = await connectDb({ dsn: db.dsn, env: {}, poolSize: 1, connectTimeoutMs: 10_000, prepare: true });
  try {
    for (let round = 0; round < 3; round++) {
      const error = await onReserved(pool, async (tx) => {
        const [self] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
        await db.sql`select pg_terminate_backend(${self!.pid})`; // from another connection, as an operator or a failover would
        await Bun.sleep(50);
        await tx`select 1`;
      }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(Error);
      // The next query may meet the dead connection before the pool notices (an error the caller
      // retries); what must never happen is a query that waits forever on it.
      let answer: unknown = "hung";
      for (let attempt = 0; attempt < 3; attempt++) {
        answer = await Promise.race([pool<{ one: number }[]>`select 1 as one`.catch((err: unknown) => err), Bun.sleep(5_000).then(() => "hung")]);
        expect(answer).not.toBe("hung");
        if (!(answer instanceof Error)) break;
      }
      expect(answer).toEqual([{ one: 1 }]);
    }
  } finally {
    await closeDb(pool, 1);
  }
});
