import { describe, expect, test } from "bun:test";
import { describeDsn, parseDsn } from "../../src/db/dsn.ts";
import { DsnError } from "../../src/errors.ts";

const noEnv = {};

function dsnError(dsn: string, env: Record<string, string | undefined> = noEnv): DsnError {
  try {
    parseDsn(dsn, env);
  } catch (err) {
    expect(err).toBeInstanceOf(DsnError);
    return err as DsnError;
  }
  throw new Error(`expected DsnError for ${dsn}`);
}

describe("parseDsn: URL form", () => {
  test("plain URL", () => {
    expect(parseDsn("postgres://alice:secret@db.example.com:6543/app", noEnv)).toEqual({
      host: "db.example.com",
      port: 6543,
      database: "app",
      user: "alice",
      password: "secret",
      sslmode: "prefer",
    });
  });

  test("postgresql:// scheme and upper-case scheme", () => {
    expect(parseDsn("postgresql://u@h/db", noEnv)).toMatchObject({ user: "u", host: "h", port: 5432, database: "db" });
    expect(parseDsn("POSTGRES://u@h/db", noEnv)).toMatchObject({ user: "u", host: "h", database: "db" });
  });

  test("Django's un-encoded password with @ : and /", () => {
    const opts = parseDsn("postgres://u:p@ss:w/rd@host:5432/db", noEnv);
    expect(opts).toMatchObject({ user: "u", password: "p@ss:w/rd", host: "host", port: 5432, database: "db" });
  });

  test("the exact DSN manage.py reproq builds", () => {
    const opts = parseDsn("postgres://postgres:p@ss:w/rd@localhost:5432/rq1", noEnv);
    expect(opts).toMatchObject({ user: "postgres", password: "p@ss:w/rd", host: "localhost", port: 5432, database: "rq1" });
  });

  test("percent-encoded credentials decode; invalid % stays literal", () => {
    expect(parseDsn("postgres://u%40x:p%40ss@h/db", noEnv)).toMatchObject({ user: "u@x", password: "p@ss" });
    expect(parseDsn("postgres://u:100%25@h/db", noEnv).password).toBe("100%");
    expect(parseDsn("postgres://u:100%@h/db", noEnv).password).toBe("100%");
    expect(parseDsn("postgres://u:a%zzb@h/db", noEnv).password).toBe("a%zzb");
    expect(parseDsn("postgres://u:caf%C3%A9@h/db", noEnv).password).toBe("café");
    expect(parseDsn("postgres://u:bad%C3@h/db", noEnv).password).toBe("bad%C3"); // not valid UTF-8
  });

  test("user ends at the first colon; empty password is no password", () => {
    expect(parseDsn("postgres://u:a:b:c@h/db", noEnv)).toMatchObject({ user: "u", password: "a:b:c" });
    expect(parseDsn("postgres://u:@h/db", noEnv).password).toBeUndefined();
    expect(parseDsn("postgres://u@h/db", noEnv).password).toBeUndefined();
  });

  test("empty host and port (`@:/`) fall back to defaults", () => {
    expect(parseDsn("postgres://u:p@:/db", noEnv)).toMatchObject({ host: "localhost", port: 5432, database: "db", user: "u", password: "p" });
    expect(parseDsn("postgres://", noEnv)).toMatchObject({ host: "localhost", port: 5432, user: "postgres", database: "postgres" });
  });

  test("query parameters: sslmode, application_name, connect_timeout; unknown ignored", () => {
    const opts = parseDsn(
      "postgres://u@h/db?sslmode=require&application_name=my%20app&connect_timeout=7&target_session_attrs=any&foo",
      noEnv,
    );
    expect(opts).toMatchObject({ sslmode: "require", applicationName: "my app", connectTimeoutSeconds: 7 });
    expect(parseDsn("postgres://u@h/db?connect_timeout=0", noEnv).connectTimeoutSeconds).toBeUndefined();
  });

  test("IPv6 literal host", () => {
    expect(parseDsn("postgres://u@[::1]:6000/db", noEnv)).toMatchObject({ host: "::1", port: 6000 });
    expect(parseDsn("postgres://u@[fe80::1]/db", noEnv)).toMatchObject({ host: "fe80::1", port: 5432 });
  });

  test("unix socket directory as host (percent-encoded or via ?host=)", () => {
    expect(parseDsn("postgres://u@%2Fvar%2Frun%2Fpostgresql:5433/db", noEnv)).toMatchObject({
      host: "/var/run/postgresql",
      socketPath: "/var/run/postgresql/.s.PGSQL.5433",
    });
    expect(parseDsn("postgres://u@/db?host=/tmp", noEnv)).toMatchObject({ host: "/tmp", socketPath: "/tmp/.s.PGSQL.5432" });
  });

  test("no database in the URL: PGDATABASE, else the user name", () => {
    expect(parseDsn("postgres://alice@h", noEnv).database).toBe("alice");
    expect(parseDsn("postgres://alice@h/", { PGDATABASE: "envdb" }).database).toBe("envdb");
  });

  test("database name is percent-decoded", () => {
    expect(parseDsn("postgres://u@h/my%20db", noEnv).database).toBe("my db");
  });
});

describe("parseDsn: key=value form", () => {
  test("keywords with quoting and backslash escapes", () => {
    const opts = parseDsn(
      "host=db.internal port=5433 dbname=app user=bob password='a b\\'c' sslmode=disable application_name=worker",
      noEnv,
    );
    expect(opts).toEqual({
      host: "db.internal",
      port: 5433,
      database: "app",
      user: "bob",
      password: "a b'c",
      sslmode: "disable",
      applicationName: "worker",
    });
  });

  test("spaces around =, unquoted backslash escape, unknown keys ignored", () => {
    const opts = parseDsn("host = h   user=u password=x\\ y options='-c geqo=off' dbname=d", noEnv);
    expect(opts).toMatchObject({ host: "h", user: "u", password: "x y", database: "d" });
  });

  test("socket directory host", () => {
    expect(parseDsn("host=/run/postgresql dbname=d", noEnv).socketPath).toBe("/run/postgresql/.s.PGSQL.5432");
  });

  test("empty string means everything from PG* variables and defaults", () => {
    expect(parseDsn("", noEnv)).toEqual({ host: "localhost", port: 5432, user: "postgres", database: "postgres", sslmode: "prefer" });
  });
});

describe("parseDsn: PG* environment fills gaps", () => {
  const env = {
    PGHOST: "envhost",
    PGPORT: "6432",
    PGDATABASE: "envdb",
    PGUSER: "envuser",
    PGPASSWORD: "envpw",
    PGSSLMODE: "require",
    PGAPPNAME: "envapp",
  };

  test("everything from the environment", () => {
    expect(parseDsn("", env)).toEqual({
      host: "envhost",
      port: 6432,
      database: "envdb",
      user: "envuser",
      password: "envpw",
      sslmode: "require",
      applicationName: "envapp",
    });
  });

  test("the DSN wins over the environment", () => {
    const opts = parseDsn("postgres://u:p@h:1234/db?sslmode=disable&application_name=x", env);
    expect(opts).toEqual({ host: "h", port: 1234, database: "db", user: "u", password: "p", sslmode: "disable", applicationName: "x" });
  });

  test("defaults: user = database = PGUSER or postgres", () => {
    expect(parseDsn("postgres://h", { PGUSER: "carol" })).toMatchObject({ user: "carol", database: "carol", host: "h" });
    expect(parseDsn("postgres://h", noEnv)).toMatchObject({ user: "postgres", database: "postgres" });
  });
});

describe("parseDsn: errors", () => {
  test("not a DSN", () => {
    expect(dsnError("not a dsn").message).toContain("neither a postgres:// URL nor key=value");
  });

  test("other schemes", () => {
    const err = dsnError("mysql://root:hunter2@localhost/db");
    expect(err.message).toContain('unsupported DSN scheme "mysql://"');
    expect(err.message).not.toContain("hunter2");
  });

  test("bad ports", () => {
    expect(dsnError("postgres://u:hunter2@h:abc/db").message).toBe('invalid port "abc" in DSN: expected a number from 1 to 65535');
    expect(dsnError("postgres://u@h:0/db").message).toContain('invalid port "0"');
    expect(dsnError("postgres://u@h:70000/db").message).toContain('invalid port "70000"');
    expect(dsnError("host=h port=-1").message).toContain('invalid port "-1"');
    expect(dsnError("postgres://u@h/db", { PGPORT: "x" }).message).toContain("in PGPORT");
  });

  test("bad sslmode and connect_timeout", () => {
    expect(dsnError("postgres://u@h/db?sslmode=maybe").message).toContain('invalid sslmode "maybe"');
    expect(dsnError("postgres://u@h/db", { PGSSLMODE: "nope" }).message).toContain("in PGSSLMODE");
    expect(dsnError("postgres://u@h/db?connect_timeout=soon").message).toContain('invalid connect_timeout "soon"');
  });

  test("several hosts are refused", () => {
    expect(dsnError("postgres://u@h1:5432,h2:5432/db").message).toContain("several hosts");
  });

  test("malformed key=value", () => {
    expect(dsnError("host=h password='unterminated").message).toContain('unterminated quoted value for "password"');
    expect(dsnError("host=h user").message).toContain('missing "=" after "user"');
  });

  test("unterminated IPv6 literal", () => {
    expect(dsnError("postgres://u@[::1/db").message).toContain("IPv6");
  });

  test("messages never contain the password", () => {
    for (const dsn of ["postgres://u:Sup3rS3cret@h:bad/db", "postgres://u:Sup3rS3cret@h/db?sslmode=bad"]) {
      expect(dsnError(dsn).message).not.toContain("Sup3rS3cret");
    }
  });
});

describe("describeDsn", () => {
  test("masks the password", () => {
    const text = describeDsn(parseDsn("postgres://u:p@ss:w/rd@host:5432/db", noEnv));
    expect(text).toBe("postgres://u@host:5432/db");
    expect(text).not.toContain("p@ss");
  });

  test("brackets IPv6 hosts", () => {
    expect(describeDsn(parseDsn("postgres://u@[::1]:5433/db", noEnv))).toBe("postgres://u@[::1]:5433/db");
  });
});
