import { describe, expect, test } from "bun:test";
import { MIGRATIONS } from "../../src/db/migrations.ts";
import { isNoTransaction, splitSqlStatements, statementFirstLine } from "../../src/db/sql-split.ts";

describe("splitSqlStatements", () => {
  test("splits on semicolons, trims, drops empty statements, keeps a last statement without ;", () => {
    expect(splitSqlStatements("select 1;\n\n  select 2 ;;\n select 3")).toEqual(["select 1", "select 2", "select 3"]);
    expect(splitSqlStatements("  ;\n ; ")).toEqual([]);
    expect(splitSqlStatements("")).toEqual([]);
  });

  test("semicolons inside single quotes, with doubled quotes", () => {
    expect(splitSqlStatements("select 'a;b', 'it''s; fine'; select 2")).toEqual(["select 'a;b', 'it''s; fine'", "select 2"]);
  });

  test("E'' strings honour backslash escapes; plain strings do not", () => {
    expect(splitSqlStatements("select E'x\\';y'; select 2")).toEqual(["select E'x\\';y'", "select 2"]);
    // standard_conforming_strings: a backslash in '…' is literal, so the string ends at the second quote
    expect(splitSqlStatements("select 'C:\\'; select 2")).toEqual(["select 'C:\\'", "select 2"]);
    // an identifier ending in e before a quote is not an E prefix
    expect(splitSqlStatements("select name'x\\'; select 2")).toEqual(["select name'x\\'", "select 2"]);
  });

  test("semicolons inside double-quoted identifiers", () => {
    expect(splitSqlStatements('create table "a;b" ("c""d;" int); select 1')).toEqual(['create table "a;b" ("c""d;" int)', "select 1"]);
  });

  test("dollar quoting, with and without tags, nested different tags", () => {
    const fn = "create function f() returns int language sql as $$ select 1; $$";
    const tagged = "do $body$ begin perform 'x;'; raise notice $q$;$q$; end $body$";
    expect(splitSqlStatements(`${fn}; ${tagged};select 3`)).toEqual([fn, tagged, "select 3"]);
  });

  test("$1 parameters and identifiers containing $ are not dollar quotes", () => {
    expect(splitSqlStatements("select $1; select a$b$ from t; select 3")).toEqual(["select $1", "select a$b$ from t", "select 3"]);
  });

  test("line comments: leading ones dropped, inner ones kept, ; inside ignored", () => {
    const text = "-- file header; with a semicolon\n-- second line\nselect 1 -- trailing; comment\n, 2;\nselect 3;";
    expect(splitSqlStatements(text)).toEqual(["select 1 -- trailing; comment\n, 2", "select 3"]);
  });

  test("block comments, nested, with ; and quotes inside", () => {
    const text = "/* header; 'not a string */ select /* a /* nested; */ still; */ 1; select 2";
    expect(splitSqlStatements(text)).toEqual(["select /* a /* nested; */ still; */ 1", "select 2"]);
  });

  test("a file that is only comments has no statements", () => {
    expect(splitSqlStatements("-- nothing\n/* here; */\n")).toEqual([]);
  });

  test("unterminated quote or comment swallows the rest instead of splitting inside it", () => {
    expect(splitSqlStatements("select 'abc; select 2")).toEqual(["select 'abc; select 2"]);
    expect(splitSqlStatements("select $$abc; select 2")).toEqual(["select $$abc; select 2"]);
  });
});

describe("no-transaction marker and first lines", () => {
  test("marker only counts on the first line", () => {
    expect(isNoTransaction("-- reproq:no-transaction\nselect 1;")).toBe(true);
    expect(isNoTransaction("select 1;\n-- reproq:no-transaction")).toBe(false);
    expect(isNoTransaction("")).toBe(false);
  });

  test("statementFirstLine names DO blocks by their first DDL line", () => {
    expect(statementFirstLine("CREATE TABLE x (\n  a int\n)")).toBe("CREATE TABLE x (");
    expect(statementFirstLine("DO $$\nBEGIN\n  IF x THEN\n    CREATE TRIGGER t\n  END IF;\nEND $$")).toBe("DO $$ … CREATE TRIGGER t");
  });
});

describe("the shipped migrations", () => {
  test("are numbered in order, parse into statements, and only the index files run outside a transaction", () => {
    expect(MIGRATIONS.map((m) => m.file)).toEqual(["0001_tables.sql", "0002_task_path.sql", "0003_indexes.sql", "0004_notify.sql", "0005_lease_parent_indexes.sql", "0006_finished_at_index.sql", "0007_failed_queue_index.sql", "0008_ready_concurrency_index.sql", "0009_ready_run_after_index.sql", "0010_worker_alive_until.sql", "0011_leaner_task_indexes.sql"]);
    for (const m of MIGRATIONS) {
      expect(splitSqlStatements(m.text).length).toBeGreaterThan(0);
      expect(m.checksum).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(MIGRATIONS.filter((m) => m.noTransaction).map((m) => m.file)).toEqual(["0003_indexes.sql", "0005_lease_parent_indexes.sql", "0006_finished_at_index.sql", "0007_failed_queue_index.sql", "0008_ready_concurrency_index.sql", "0009_ready_run_after_index.sql", "0011_leaner_task_indexes.sql"]);
  });

  test("every statement of the no-transaction files is an idempotent concurrent index build, drop or rename", () => {
    for (const indexes of MIGRATIONS.filter((m) => m.noTransaction)) {
      for (const statement of splitSqlStatements(indexes.text)) {
        expect(statement).toMatch(
          /^(CREATE (UNIQUE )?INDEX CONCURRENTLY IF NOT EXISTS \w+|DROP INDEX CONCURRENTLY IF EXISTS \w+$|ALTER INDEX IF EXISTS \w+ RENAME TO \w+$)/,
        );
      }
    }
  });

  test("transactional files split into the statements we expect", () => {
    const notify = MIGRATIONS.find((m) => m.file === "0004_notify.sql")!;
    const firstLines = splitSqlStatements(notify.text).map(statementFirstLine);
    expect(firstLines).toEqual([
      "CREATE OR REPLACE FUNCTION reproq_notify_insert() RETURNS trigger",
      "CREATE OR REPLACE FUNCTION reproq_notify_update() RETURNS trigger",
      "CREATE OR REPLACE FUNCTION reproq_notify_cancel() RETURNS trigger",
      "DO $$ … CREATE TRIGGER trg_task_runs_notify_insert",
    ]);
  });
});
