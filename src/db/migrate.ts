// The migration runner behind `reproq migrate` and `reproq doctor`.
//
// Applied files are recorded in reproq_schema_migrations. Concurrent runs serialize on a
// session-level advisory lock held by one reserved connection. The lock is taken with
// pg_try_advisory_lock in a polling loop, never a blocking pg_advisory_lock: a session blocked
// inside that call holds a snapshot, and CREATE INDEX CONCURRENTLY in the lock holder would wait
// for that snapshot (a deadlock).

import postgres from "postgres";
import { MigrationError, errorMessage } from "../errors.ts";
import type { Queryable, Sql } from "./client.ts";
import { MIGRATIONS, type Migration } from "./migrations.ts";
import { splitSqlStatements, statementFirstLine } from "./sql-split.ts";

export interface MigrateOptions {
  /** List what would run; execute nothing (only reads reproq_schema_migrations if it exists). */
  dryRun?: boolean;
  /** One line per event, for the CLI to print. */
  log?: (line: string) => void;
  /** How long to wait for another migrate run holding the lock (default 10 minutes). */
  lockTimeoutMs?: number;
  /** Files to consider, in order; tests use this to simulate older releases. Default: all. */
  migrations?: readonly Migration[];
}

export interface MigrateResult {
  /** Files applied by this call, e.g. "0003_indexes.sql". */
  applied: string[];
  /** Files already recorded before this call. */
  skipped: string[];
  /** Files pending when the call started (what ran, or with dryRun what would run). */
  planned: string[];
}

export interface AppliedMigration {
  version: string;
  name: string;
  checksum: string;
  appliedAt: Date;
}

export interface SchemaStatus {
  /** False when reproq_schema_migrations does not exist (nothing recorded yet). */
  tracked: boolean;
  applied: AppliedMigration[];
  /** Files of this binary that are not recorded. */
  pending: string[];
  /** Recorded versions this binary does not know (a newer reproq migrated this database). */
  unknown: string[];
  /** Files whose recorded checksum differs from this binary's text. */
  changed: string[];
}

/** Arbitrary but fixed advisory-lock key ("reproq" in ASCII), visible in pg_locks as objid/classid. */
const MIGRATION_LOCK_KEY = 0x7265_7072_6f71;
const LOCK_POLL_MS = 200;

const CONCURRENT_INDEX = /^CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+IF\s+NOT\s+EXISTS\s+"?([A-Za-z_][A-Za-z0-9_]*)"?/i;

/**
 * Applies pending migrations. Locks: session advisory lock (serializes concurrent runs); each
 * transactional file runs in one transaction with its record; a no-transaction file runs statement
 * by statement and is recorded after its last statement. Idempotent: a second run applies nothing.
 * Throws MigrationError naming the file, the statement and the PostgreSQL message.
 */
export async function migrate(sql: Sql, options: MigrateOptions = {}): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  const migrations = options.migrations ?? MIGRATIONS;
  if (options.dryRun) return planOnly(sql, migrations, log);

  const conn = await sql.reserve();
  try {
    await acquireLock(conn, options.lockTimeoutMs ?? 600_000, log);
    try {
      // Index builds on big tables may take long; a role-level statement_timeout must not kill them.
      await conn`set statement_timeout = 0`;
      await conn`
        create table if not exists reproq_schema_migrations (
          version text primary key,
          name text not null,
          checksum text not null,
          applied_at timestamptz not null default now()
        )`;
      const recorded = await readApplied(conn);
      const result: MigrateResult = { applied: [], skipped: [], planned: [] };
      for (const m of migrations) {
        const known = recorded?.get(m.version);
        if (known) {
          if (known.checksum !== m.checksum) log(`note: ${m.file} was applied from a different text (checksum changed); not re-applied`);
          result.skipped.push(m.file);
        } else {
          result.planned.push(m.file);
        }
      }
      if (result.planned.length === 0) log("schema is up to date");
      for (const m of migrations) {
        if (!result.planned.includes(m.file)) continue;
        const started = performance.now();
        log(`applying ${m.file}${m.noTransaction ? " (outside a transaction)" : ""}`);
        await (m.noTransaction ? applyStatementByStatement(conn, m, log) : applyInTransaction(conn, m));
        log(`applied ${m.file} in ${Math.round(performance.now() - started)} ms`);
        result.applied.push(m.file);
      }
      return result;
    } finally {
      await conn`reset statement_timeout`.catch(() => {});
      await conn`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.catch(() => {});
    }
  } finally {
    conn.release();
  }
}

/**
 * Which migrations are applied and pending. Reads reproq_schema_migrations (if present); locks and
 * changes nothing.
 */
export async function schemaStatus(sql: Queryable, migrations: readonly Migration[] = MIGRATIONS): Promise<SchemaStatus> {
  const recorded = await readApplied(sql);
  const applied = recorded ? [...recorded.values()] : [];
  const known = new Set(migrations.map((m) => m.version));
  return {
    tracked: recorded !== null,
    applied,
    pending: migrations.filter((m) => !recorded?.has(m.version)).map((m) => m.file),
    unknown: applied.filter((a) => !known.has(a.version)).map((a) => `${a.version}_${a.name}.sql`),
    changed: migrations.filter((m) => {
      const r = recorded?.get(m.version);
      return r !== undefined && r.checksum !== m.checksum;
    }).map((m) => m.file),
  };
}

async function planOnly(sql: Queryable, migrations: readonly Migration[], log: (line: string) => void): Promise<MigrateResult> {
  const recorded = await readApplied(sql);
  if (recorded === null) log("reproq_schema_migrations does not exist yet: every migration is pending");
  const result: MigrateResult = { applied: [], skipped: [], planned: [] };
  for (const m of migrations) {
    if (recorded?.has(m.version)) {
      result.skipped.push(m.file);
      continue;
    }
    result.planned.push(m.file);
    const statements = splitSqlStatements(m.text);
    log(`would apply ${m.file} (${statements.length} statements${m.noTransaction ? ", outside a transaction" : ", in one transaction"})`);
    for (const statement of statements) log(`  ${statementFirstLine(statement)}`);
  }
  if (result.planned.length === 0) log("schema is up to date");
  return result;
}

/** Reads reproq_schema_migrations; null when the table does not exist. Read-only. */
async function readApplied(sql: Queryable): Promise<Map<string, AppliedMigration> | null> {
  const [probe] = await sql<{ present: boolean }[]>`
    select to_regclass('reproq_schema_migrations') is not null as present`;
  if (!probe?.present) return null;
  const rows = await sql<{ version: string; name: string; checksum: string; applied_at: Date }[]>`
    select version, name, checksum, applied_at from reproq_schema_migrations order by version`;
  return new Map(rows.map((r) => [r.version, { version: r.version, name: r.name, checksum: r.checksum, appliedAt: r.applied_at }]));
}

async function acquireLock(conn: Sql, timeoutMs: number, log: (line: string) => void): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let announced = false;
  for (;;) {
    const [row] = await conn<{ locked: boolean }[]>`select pg_try_advisory_lock(${MIGRATION_LOCK_KEY}) as locked`;
    if (row?.locked) return;
    if (!announced) {
      log("another reproq migrate is running on this database; waiting for it to finish");
      announced = true;
    }
    if (performance.now() > deadline) {
      throw new MigrationError(`gave up waiting ${Math.round(timeoutMs / 1000)}s for another reproq migrate to finish`);
    }
    await Bun.sleep(LOCK_POLL_MS);
  }
}

async function applyInTransaction(conn: Sql, m: Migration): Promise<void> {
  await conn`begin`;
  try {
    for (const statement of splitSqlStatements(m.text)) await runStatement(conn, m, statement);
    await record(conn, m);
    await conn`commit`;
  } catch (err) {
    await conn`rollback`.catch(() => {});
    throw err;
  }
}

async function applyStatementByStatement(conn: Sql, m: Migration, log: (line: string) => void): Promise<void> {
  for (const statement of splitSqlStatements(m.text)) {
    const index = CONCURRENT_INDEX.exec(statement)?.[1];
    if (index) await dropInvalidIndex(conn, index, log);
    await runStatement(conn, m, statement);
  }
  await record(conn, m);
}

/** An interrupted CREATE INDEX CONCURRENTLY leaves an INVALID index that IF NOT EXISTS would keep. */
async function dropInvalidIndex(conn: Sql, name: string, log: (line: string) => void): Promise<void> {
  const [row] = await conn<{ valid: boolean }[]>`
    select indisvalid as valid from pg_index where indexrelid = to_regclass(${name})`;
  if (row && !row.valid) {
    log(`dropping invalid index ${name} left by an interrupted earlier run`);
    await conn`drop index concurrently if exists ${conn(name)}`;
  }
}

async function runStatement(conn: Sql, m: Migration, statement: string): Promise<void> {
  try {
    await conn.unsafe(statement);
  } catch (err) {
    throw statementError(m, statement, err);
  }
}

async function record(conn: Sql, m: Migration): Promise<void> {
  await conn`
    insert into reproq_schema_migrations (version, name, checksum)
    values (${m.version}, ${m.name}, ${m.checksum})`;
}

function statementError(m: Migration, statement: string, err: unknown): MigrationError {
  const first = statementFirstLine(statement);
  const pg = err instanceof postgres.PostgresError ? err : undefined;
  const reason = pg ? `${pg.message} (SQLSTATE ${pg.code})` : errorMessage(err);
  const details: string[] = [];
  if (pg?.detail) details.push(`detail: ${pg.detail}`);
  if (pg?.hint) details.push(`hint: ${pg.hint}`);
  if (pg?.code === "23505" && /UNIQUE\s+INDEX/i.test(statement)) {
    details.push(
      "Several active (READY or RUNNING) task_runs rows share one spec_hash, so the unique index cannot be built.",
      "Find them with: SELECT spec_hash, array_agg(result_id ORDER BY result_id) AS ids FROM task_runs " +
        "WHERE status IN ('READY', 'RUNNING') GROUP BY spec_hash HAVING count(*) > 1;",
      "Cancel or finish the extra copies, then run `reproq migrate` again (it removes the half-built index first).",
    );
  }
  if (m.noTransaction) {
    details.push(`Earlier statements of ${m.file} stay applied; they are idempotent, so rerunning reproq migrate is safe.`);
  } else {
    details.push(`${m.file} was rolled back as a whole.`);
  }
  return new MigrationError(`migration ${m.file} failed at "${first}": ${reason}`, err, details);
}
