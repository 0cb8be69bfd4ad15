// The migration runner's mechanics: dry run, concurrent runs, recovery from an interrupted
// concurrent index build, error reporting, transactional rollback, and schemaStatus.

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeDb, createDb } from "../../src/db/client.ts";
import { migrate, schemaStatus } from "../../src/db/migrate.ts";
import { defineMigration, MIGRATIONS } from "../../src/db/migrations.ts";
import { checkSchema } from "../../src/db/schema-check.ts";
import { MigrationError } from "../../src/errors.ts";
import { insertTask, tableNames } from "../helpers/catalog.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

// bunfig's [test] timeout is not applied by Bun 1.4; database set-up can exceed the 5 s default.

const ALL_FILES = MIGRATIONS.map((m) => m.file);
const databases: TestDatabase[] = [];

async function freshDb(flavour: "empty" | "reproq" | "django" = "empty"): Promise<TestDatabase> {
  const db = await createTestDatabase({ flavour });
  databases.push(db);
  return db;
}

afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

describe("dry run", () => {
  test("on an empty database lists every file and statement and creates nothing", async () => {
    const db = await freshDb();
    const lines: string[] = [];
    const result = await migrate(db.sql, { dryRun: true, log: (l) => lines.push(l) });
    expect(result).toEqual({ applied: [], skipped: [], planned: ALL_FILES });
    expect(lines[0]).toBe("reproq_schema_migrations does not exist yet: every migration is pending");
    expect(lines).toContain("would apply 0003_indexes.sql (12 statements, outside a transaction)");
    expect(lines).toContain("  CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_task_runs_spec_unique");
    expect(lines.some((l) => l.startsWith("would apply 0001_tables.sql ("))).toBe(true);
    expect(await tableNames(db.sql)).toEqual([]);
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from pg_proc where pronamespace = 'public'::regnamespace`;
    expect(row?.n).toBe(0);
  });

  test("on a migrated database plans nothing", async () => {
    const db = await freshDb("reproq");
    const lines: string[] = [];
    expect(await migrate(db.sql, { dryRun: true, log: (l) => lines.push(l) })).toEqual({ applied: [], skipped: ALL_FILES, planned: [] });
    expect(lines).toEqual(["schema is up to date"]);
  });
});

describe("concurrent runs", () => {
  test("two migrate calls on a fresh database both succeed and apply each file exactly once", async () => {
    const db = await freshDb();
    const other = createDb({ dsn: db.dsn, env: {}, poolSize: 2, connectTimeoutMs: 10_000, prepare: true });
    try {
      const waits: string[] = [];
      const [a, b] = await Promise.all([
        migrate(db.sql, { log: (l) => waits.push(l) }),
        migrate(other, { log: (l) => waits.push(l) }),
      ]);
      expect([...a.applied, ...b.applied].sort()).toEqual(ALL_FILES);
      // One run did everything; the other waited for the lock and then found nothing to do.
      expect([a.applied.length, b.applied.length].sort()).toEqual([0, ALL_FILES.length]);
      expect(waits).toContain("another reproq migrate is running on this database; waiting for it to finish");
      const rows = await db.sql<{ version: string }[]>`select version from reproq_schema_migrations order by version`;
      expect(rows.map((r) => r.version)).toEqual(["0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "0010", "0011"]);
      expect(checkFailures(await checkSchema(db.sql))).toEqual([]);
    } finally {
      await closeDb(other);
    }
  });
});

describe("recovery", () => {
  test("an INVALID index left by an interrupted concurrent build is dropped and rebuilt", async () => {
    const db = await freshDb("reproq");
    // Simulate the interruption: the index exists but is invalid, and the file is not recorded.
    await db.sql`update pg_index set indisvalid = false where indexrelid = 'idx_task_runs_ready_order'::regclass`;
    await db.sql`delete from reproq_schema_migrations where version = '0003'`;
    expect(checkFailures(await checkSchema(db.sql))).toEqual([
      "index idx_task_runs_ready_order: INVALID (an interrupted concurrent build); rebuild with REINDEX INDEX CONCURRENTLY idx_task_runs_ready_order",
    ]);
    const status = await schemaStatus(db.sql);
    expect(status.pending).toEqual(["0003_indexes.sql"]);

    const lines: string[] = [];
    const result = await migrate(db.sql, { log: (l) => lines.push(l) });
    expect(result.applied).toEqual(["0003_indexes.sql"]);
    expect(lines).toContain("dropping invalid index idx_task_runs_ready_order left by an interrupted earlier run");
    const [index] = await db.sql<{ valid: boolean }[]>`
      select indisvalid as valid from pg_index where indexrelid = 'idx_task_runs_ready_order'::regclass`;
    expect(index?.valid).toBe(true);
    expect(checkFailures(await checkSchema(db.sql))).toEqual([]);
  });

  test("duplicate active spec_hash rows: a clear error with the query to find them, then success once fixed", async () => {
    const db = await freshDb("django"); // Django's schema has no unique index, so duplicates can exist
    const hash = "d".repeat(64);
    const first = await insertTask(db.sql, { specHash: hash });
    await insertTask(db.sql, { specHash: hash });

    const err = await migrate(db.sql).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MigrationError);
    const failure = err as MigrationError;
    expect(failure.message).toStartWith(
      'migration 0003_indexes.sql failed at "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_task_runs_spec_unique": could not create unique index "idx_task_runs_spec_unique" (SQLSTATE 23505)',
    );
    expect(failure.details.join("\n")).toContain("GROUP BY spec_hash HAVING count(*) > 1");
    expect(failure.details.join("\n")).toContain("Earlier statements of 0003_indexes.sql stay applied");
    expect((await schemaStatus(db.sql)).pending).toEqual(["0003_indexes.sql", "0004_notify.sql", "0005_lease_parent_indexes.sql", "0006_finished_at_index.sql", "0007_failed_queue_index.sql", "0008_ready_concurrency_index.sql", "0009_ready_run_after_index.sql", "0010_worker_alive_until.sql", "0011_leaner_task_indexes.sql"]);

    await db.sql`update task_runs set status = 'CANCELLED' where result_id = ${first}`;
    const lines: string[] = [];
    const result = await migrate(db.sql, { log: (l) => lines.push(l) });
    expect(result.applied).toEqual(["0003_indexes.sql", "0004_notify.sql", "0005_lease_parent_indexes.sql", "0006_finished_at_index.sql", "0007_failed_queue_index.sql", "0008_ready_concurrency_index.sql", "0009_ready_run_after_index.sql", "0010_worker_alive_until.sql", "0011_leaner_task_indexes.sql"]);
    expect(lines).toContain("dropping invalid index idx_task_runs_spec_unique left by an interrupted earlier run");
    expect(checkFailures(await checkSchema(db.sql))).toEqual([]);
  });

  test("a failing statement rolls back its whole transactional file, which stays pending", async () => {
    const db = await freshDb();
    const broken = defineMigration(
      "0001_broken.sql",
      "CREATE TABLE first_half (id int);\n-- the next statement fails\nINSERT INTO no_such_table VALUES (1);\n",
    );
    const err = await migrate(db.sql, { migrations: [broken] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as MigrationError).message).toBe(
      'migration 0001_broken.sql failed at "INSERT INTO no_such_table VALUES (1)": relation "no_such_table" does not exist (SQLSTATE 42P01)',
    );
    expect((err as MigrationError).details).toContain("0001_broken.sql was rolled back as a whole.");
    expect(await tableNames(db.sql)).toEqual(["reproq_schema_migrations"]);
    expect((await schemaStatus(db.sql, [broken])).pending).toEqual(["0001_broken.sql"]);
    // The lock was released: a normal migrate proceeds at once.
    expect((await migrate(db.sql)).applied).toEqual(ALL_FILES);
  });
});

describe("schemaStatus", () => {
  test("untracked, then all applied, then unknown and changed versions are reported", async () => {
    const db = await freshDb();
    expect(await schemaStatus(db.sql)).toEqual({ tracked: false, applied: [], pending: ALL_FILES, unknown: [], changed: [] });
    await migrate(db.sql);
    const status = await schemaStatus(db.sql);
    expect(status.tracked).toBe(true);
    expect(status.pending).toEqual([]);
    expect(status.applied.map((a) => a.version)).toEqual(["0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "0010", "0011"]);
    expect(status.applied[0]?.appliedAt).toBeInstanceOf(Date);

    await db.sql`insert into reproq_schema_migrations (version, name, checksum) values ('9999', 'future', 'x')`;
    await db.sql`update reproq_schema_migrations set checksum = 'edited' where version = '0002'`;
    const later = await schemaStatus(db.sql);
    expect(later.unknown).toEqual(["9999_future.sql"]);
    expect(later.changed).toEqual(["0002_task_path.sql"]);
    const lines: string[] = [];
    await migrate(db.sql, { log: (l) => lines.push(l) });
    expect(lines).toContain("note: 0002_task_path.sql was applied from a different text (checksum changed); not re-applied");
  });
});

describe("checkSchema", () => {
  test("on an empty database reports each missing table and the dependent objects", async () => {
    const db = await freshDb();
    const failed = checkFailures(await checkSchema(db.sql));
    expect(failed).toContain("table task_runs: missing; run `reproq migrate`");
    expect(failed).toContain("index idx_task_runs_ready_order: missing; run `reproq migrate`");
    expect(failed).toContain("trigger trg_task_runs_notify_insert: missing on task_runs; run `reproq migrate`");
    expect(failed).toContain("rate_limits global row: table rate_limits is missing; run `reproq migrate`");
    expect(failed.filter((f) => f.startsWith("column "))).toEqual([]);
  });

  test("on a Django schema before reproq migrate names exactly what reproq adds", async () => {
    const db = await freshDb("django");
    const failed = checkFailures(await checkSchema(db.sql)).map((f) => f.split(":")[0]);
    expect(failed).toEqual([
      "column reproq_workers.alive_until",
      "table rate_limits",
      "table workflow_runs",
      "index idx_task_runs_spec_unique",
      "index idx_task_runs_lock_key",
      "index idx_task_runs_concurrency_active",
      "index idx_task_runs_parent_id",
      "index idx_task_runs_workflow_id",
      "index idx_task_runs_failed_at",
      "index idx_task_runs_ready_order",
      "index idx_task_runs_running_lease",
      "index idx_task_runs_parent_id_all",
      "index idx_task_runs_finished_at",
      "index idx_task_runs_failed_queue",
      "index idx_task_runs_ready_concurrency",
      "index idx_task_runs_ready_run_after",
      "index idx_periodic_tasks_next_run",
      "index idx_workflow_runs_callback",
      "trigger trg_task_runs_notify_insert",
      "trigger trg_task_runs_notify_update",
      "trigger trg_task_runs_notify_cancel",
      "rate_limits global row",
    ]);
  });

  test("flags incompatible column types (a legacy text[] worker_ids) and a missing global row", async () => {
    const db = await freshDb("reproq");
    await db.sql`alter table task_runs rename column worker_ids to worker_ids_old`;
    await db.sql`alter table task_runs add column worker_ids text[] not null default '{}'`;
    await db.sql`delete from rate_limits where key = 'global'`;
    expect(checkFailures(await checkSchema(db.sql))).toEqual([
      "column task_runs.worker_ids: type text[], expected jsonb",
      "rate_limits global row: missing; insert it with: INSERT INTO rate_limits (key, tokens_per_second, burst_size, current_tokens) VALUES ('global', 0, 1, 0)",
    ]);
  });
});

function checkFailures(checks: { name: string; ok: boolean; detail: string }[]): string[] {
  return checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
}
