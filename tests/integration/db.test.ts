// The client factory against real PostgreSQL: connecting, failing fast with one clear line,
// un-encoded passwords end to end, prepare:false, notices and closing.

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, spyOn, test } from "bun:test";
import { closeDb, connectDb, createDb, type DbOptions } from "../../src/db/client.ts";
import { parseDsn } from "../../src/db/dsn.ts";
import { DatabaseUnavailableError, DsnError } from "../../src/errors.ts";
import { baseConnection, createTestDatabase, freePort, type TestDatabase } from "../helpers/db.ts";
import { expectQuick } from "../helpers/timing.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

// bunfig's [test] timeout is not applied by Bun 1.4; database set-up can exceed the 5 s default.

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

function options(dsn: string, extra: Partial<DbOptions> = {}): DbOptions {
  return { dsn, env: {}, poolSize: 2, connectTimeoutMs: 5_000, prepare: true, ...extra };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (err: Error) => err,
  );
}

describe("connectDb", () => {
  test("connects to the test database and runs queries", async () => {
    const sql = await connectDb(options(db.dsn, { applicationName: "reproq-test" }));
    try {
      const [row] = await sql<{ db: string; app: string }[]>`
        select current_database() as db, current_setting('application_name') as app`;
      expect(row).toEqual({ db: db.name, app: "reproq-test" });
    } finally {
      await closeDb(sql);
    }
  });

  test("a closed port fails fast with one masked line naming the target", async () => {
    const port = await freePort();
    const started = performance.now();
    // A 30 s connect timeout: failing fast means well before it (10× the quiet time is 10 s).
    const err = await rejection(connectDb(options(`postgres://postgres:Sup3rS3cret@127.0.0.1:${port}/db`, { connectTimeoutMs: 30_000 })));
    expect(err).toBeInstanceOf(DatabaseUnavailableError);
    expect(err.message).toBe(`cannot connect to PostgreSQL at 127.0.0.1:${port}/db as postgres: connection refused (ECONNREFUSED)`);
    expect(err.message).not.toContain("Sup3rS3cret");
    expectQuick(performance.now() - started, 1_000, "a refused connection");
  });

  test("a server that accepts but never answers times out within the connect timeout", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const started = performance.now();
      const err = await rejection(connectDb(options(`postgres://u@127.0.0.1:${silent.port}/db?sslmode=disable`, { connectTimeoutMs: 700 })));
      const elapsed = performance.now() - started;
      expect(err).toBeInstanceOf(DatabaseUnavailableError);
      expect(err.message).toBe(`cannot connect to PostgreSQL at 127.0.0.1:${silent.port}/db as u: no answer within 0.7s (CONNECT_TIMEOUT)`);
      expect(elapsed).toBeGreaterThanOrEqual(600);
      expectQuick(elapsed, 700, "the 0.7 s connect timeout");
    } finally {
      silent.stop(true);
    }
  });

  test("a missing database is reported with the server's message and SQLSTATE", async () => {
    const base = await baseConnection();
    const dsn = db.dsn.replace(`/${db.name}?`, "/reproq_no_such_db?");
    const err = await rejection(connectDb(options(dsn)));
    expect(err).toBeInstanceOf(DatabaseUnavailableError);
    expect(err.message).toBe(
      `cannot connect to PostgreSQL at ${base.host}:${base.port}/reproq_no_such_db as ${base.user}: database "reproq_no_such_db" does not exist (SQLSTATE 3D000)`,
    );
  });

  test("sslmode=require against a server without SSL says so", async () => {
    const [ssl] = await db.sql<{ on: string }[]>`select current_setting('ssl') as on`;
    if (ssl?.on === "on") return; // this server accepts SSL: nothing to observe
    const base = await baseConnection();
    const dsn = db.dsn.replace(/sslmode=[a-z-]+/, "sslmode=require");
    const err = await rejection(connectDb(options(dsn)));
    expect(err).toBeInstanceOf(DatabaseUnavailableError);
    expect(err.message).toStartWith(`cannot connect to PostgreSQL at ${base.host}:${base.port}/${db.name} as ${base.user}: `);
    expect(err.message).toEndWith("with sslmode=require this usually means the server does not accept SSL");
  });

  test("a DSN that does not parse is a DsnError before any connection attempt", async () => {
    expect(await rejection(connectDb(options("mysql://x@y/z")))).toBeInstanceOf(DsnError);
    expect(() => createDb(options("postgres://u@h:99999/db"))).toThrow(DsnError);
  });
});

describe("un-encoded password with @ : / (as Django builds DSNs)", () => {
  const role = "reproq_pw_test";
  const password = "p@ss:w/rd";

  beforeAll(async () => {
    await db.sql`
      do $$ begin
        if not exists (select 1 from pg_roles where rolname = 'reproq_pw_test') then
          create role reproq_pw_test login;
        end if;
      end $$`;
    await db.sql`alter role reproq_pw_test with login password 'p@ss:w/rd'`;
  });
  afterAll(async () => {
    await db.sql`drop role if exists ${db.sql(role)}`.catch(() => {});
  });

  test("parses and logs in end to end", async () => {
    const base = await baseConnection();
    const host = base.host.includes(":") ? `[${base.host}]` : base.host;
    const dsn = `postgres://${role}:${password}@${host}:${base.port}/${db.name}?sslmode=${base.sslmode}`;
    expect(parseDsn(dsn, {})).toMatchObject({ user: role, password, host: base.host, port: base.port, database: db.name });
    const sql = await connectDb(options(dsn));
    try {
      const [row] = await sql<{ user: string }[]>`select current_user as user`;
      expect(row?.user).toBe(role);
    } finally {
      await closeDb(sql);
    }
  });
});

describe("pool behaviour", () => {
  test("prepare:false uses no named prepared statements (PgBouncer transaction mode)", async () => {
    const count = async (prepare: boolean) => {
      const sql = await connectDb(options(db.dsn, { prepare, poolSize: 1 }));
      try {
        for (let i = 0; i < 3; i++) {
          const [row] = await sql<{ n: number }[]>`select ${i}::int + 1 as n`;
          expect(row?.n).toBe(i + 1);
        }
        const [row] = await sql<{ n: number }[]>`select count(*)::int as n from pg_prepared_statements`;
        return row!.n;
      } finally {
        await closeDb(sql);
      }
    };
    expect(await count(false)).toBe(0);
    expect(await count(true)).toBeGreaterThan(0);
  });

  test("notices go to onNotice when given and are silent otherwise", async () => {
    const notices: string[] = [];
    const logSpy = spyOn(console, "log");
    const loud = await connectDb(options(db.dsn, { onNotice: (m) => notices.push(m) }));
    const quiet = await connectDb(options(db.dsn));
    try {
      await loud`do $$ begin raise notice 'hello from plpgsql'; end $$`;
      await quiet`do $$ begin raise notice 'should not be printed'; end $$`;
      expect(notices).toEqual(["hello from plpgsql"]);
      expect(logSpy).not.toHaveBeenCalled();
    } finally {
      logSpy.mockRestore();
      await closeDb(loud);
      await closeDb(quiet);
    }
  });

  test("closeDb is idempotent and later queries fail with CONNECTION_ENDED", async () => {
    const sql = await connectDb(options(db.dsn));
    await Promise.all([closeDb(sql), closeDb(sql)]);
    await closeDb(sql);
    const err = await rejection(sql`select 1`.then((r) => r));
    expect((err as Error & { code?: string }).code).toBe("CONNECTION_ENDED");
  });

  test("bigint columns come back as strings (postgres.js default, kept on purpose)", async () => {
    const [row] = await db.sql<{ id: unknown }[]>`select 9007199254740993::bigint as id`;
    expect(row?.id).toBe("9007199254740993");
  });
});
