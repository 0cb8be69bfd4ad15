// The database's own hazards, read from the statistics views: who holds back the xmin horizon
// (so VACUUM cannot remove task_runs' dead rows), how many dead rows task_runs has and when it
// was last vacuumed, who blocks writes to task_runs with a lock, and the database's commit, WAL
// and statement counters. Read-only catalog reads, no locks on reproq's tables; callers bound
// them with boundedReads (db/bounded.ts: a short statement_timeout) so a hazard never blocks its reader.
import type { Queryable } from "../db/client.ts";

/** Who holds the oldest snapshot: a session, a prepared transaction or a replication slot. */
export type HorizonHolderKind = "backend" | "prepared_xact" | "replication_slot";

export interface HorizonHolder {
  kind: HorizonHolderKind;
  /** Backend pid (a slot's active walsender; null for a prepared transaction or an idle slot). */
  pid: number | null;
  /** application_name of a session; the gid of a prepared transaction; the slot's name. */
  application: string;
  /** pg_stat_activity.state ("idle in transaction", "active", …), "prepared", or the slot's activity. */
  state: string;
  user: string | null;
  /** Seconds since its transaction (or prepared transaction) started; null for a slot. */
  ageSeconds: number | null;
  /** Transactions since its xmin: how far the horizon lags. */
  xidAge: number;
  xactStart: Date | null;
  queryStart: Date | null;
  /** The first 200 characters of its current or last statement. */
  query: string | null;
}

// The oldest holder of the xmin horizon that VACUUM of this database's tables must respect:
// sessions of this database (and walsenders) with a backend_xmin, prepared transactions of this
// database, and replication slots with an xmin. Ordered by xmin age, then transaction age (on an
// idle database every snapshot has the same xmin). Excludes the calling session. Read-only; null
// when nothing holds a snapshot. Sessions of other roles are visible with pg_read_all_stats.
export async function dbHorizonHolderRead(sql: Queryable): Promise<HorizonHolder | null> {
  const [row] = await sql<HorizonHolder[]>`
    WITH holders AS (
      SELECT 'backend'::text AS kind, a.pid, a.application_name::text AS application, COALESCE(a.state, '')::text AS state,
             a.usename::text AS "user", age(a.backend_xmin)::float8 AS "xidAge",
             EXTRACT(EPOCH FROM clock_timestamp() - COALESCE(a.xact_start, a.query_start, a.backend_start))::float8 AS "ageSeconds",
             a.xact_start, a.query_start, left(a.query, 200) AS query
      FROM pg_stat_activity a
      WHERE a.backend_xmin IS NOT NULL AND a.pid <> pg_backend_pid()
        AND (a.datname = current_database() OR a.backend_type = 'walsender')
      UNION ALL
      SELECT 'prepared_xact', NULL, p.gid, 'prepared', p.owner::text, age(p.transaction)::float8,
             EXTRACT(EPOCH FROM clock_timestamp() - p.prepared)::float8, p.prepared, NULL, NULL
      FROM pg_prepared_xacts p
      WHERE p.database = current_database()
      UNION ALL
      SELECT 'replication_slot', s.active_pid, s.slot_name::text, CASE WHEN s.active THEN 'active' ELSE 'inactive' END,
             NULL, age(s.xmin)::float8, NULL, NULL, NULL, NULL
      FROM pg_replication_slots s
      WHERE s.xmin IS NOT NULL
    )
    SELECT kind, pid, application, state, "user", "ageSeconds", "xidAge", xact_start AS "xactStart", query_start AS "queryStart", query
    FROM holders
    ORDER BY "xidAge" DESC, "ageSeconds" DESC NULLS LAST
    LIMIT 1`;
  return row ?? null;
}

export interface TableVacuumStats {
  liveTuples: number;
  deadTuples: number;
  lastVacuum: Date | null;
  lastAutovacuum: Date | null;
  /** Seconds since the later of the last manual vacuum and the last autovacuum; null if never. */
  vacuumAgeSeconds: number | null;
  autovacuumCount: number;
}

// task_runs' live and dead row estimates and its last (auto)vacuum, from pg_stat_user_tables.
// Read-only; null when the table does not exist.
export async function dbTaskRunsVacuumRead(sql: Queryable): Promise<TableVacuumStats | null> {
  const [row] = await sql<TableVacuumStats[]>`
    SELECT n_live_tup::float8 AS "liveTuples", n_dead_tup::float8 AS "deadTuples", last_vacuum AS "lastVacuum", last_autovacuum AS "lastAutovacuum",
           EXTRACT(EPOCH FROM clock_timestamp() - GREATEST(last_vacuum, last_autovacuum))::float8 AS "vacuumAgeSeconds",
           autovacuum_count::float8 AS "autovacuumCount"
    FROM pg_stat_user_tables
    WHERE relid = to_regclass('task_runs')`;
  return row ?? null;
}

export interface LockBlock {
  /** Sessions waiting for a lock on task_runs. */
  waiting: number;
  /** The longest waiter: its pid, the lock mode it wants and for how long (since its statement began). */
  waiterPid: number;
  wantedMode: string;
  waitSeconds: number;
  /** The session blocking it (the oldest transaction among its blockers), null if it is gone. */
  blockerPid: number | null;
  blockerApplication: string | null;
  blockerState: string | null;
  /** Lock modes the blocker holds on task_runs ("" for a row lock or a lock queue ahead of it). */
  blockerMode: string | null;
  blockerAgeSeconds: number | null;
}

// Sessions of this database waiting for a relation lock on task_runs, and who blocks the one
// waiting longest (pg_blocking_pids). Read-only; null when nobody waits.
export async function dbTaskRunsLockWaitRead(sql: Queryable): Promise<LockBlock | null> {
  const [row] = await sql<(LockBlock & { waiterPid: number | null })[]>`
    WITH waiters AS (
      SELECT l.pid, l.mode, a.query_start
      FROM pg_locks l
      JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE NOT l.granted AND l.locktype = 'relation' AND l.relation = to_regclass('task_runs')
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    )
    SELECT (SELECT count(*) FROM waiters)::float8 AS waiting,
           w.pid AS "waiterPid", w.mode AS "wantedMode",
           COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - w.query_start), 0)::float8 AS "waitSeconds",
           b.pid AS "blockerPid", b.application_name::text AS "blockerApplication", b.state::text AS "blockerState",
           (SELECT COALESCE(string_agg(DISTINCT bl.mode, ','), '') FROM pg_locks bl
             WHERE bl.pid = b.pid AND bl.granted AND bl.relation = to_regclass('task_runs')) AS "blockerMode",
           EXTRACT(EPOCH FROM clock_timestamp() - COALESCE(b.xact_start, b.query_start))::float8 AS "blockerAgeSeconds"
    FROM waiters w
    LEFT JOIN LATERAL (
      SELECT a.pid, a.application_name, a.state, a.xact_start, a.query_start
      FROM pg_stat_activity a
      WHERE a.pid = ANY (pg_blocking_pids(w.pid))
      ORDER BY a.xact_start NULLS LAST
      LIMIT 1
    ) b ON true
    ORDER BY w.query_start NULLS LAST
    LIMIT 1`;
  return row && row.waiterPid !== null ? row : null;
}

export interface DatabaseCounters {
  /** pg_stat_database.xact_commit of this database. */
  commits: number;
  /** WAL insert position in bytes (pg_current_wal_insert_lsn): grows with WAL written by the whole cluster. */
  walBytes: number;
}

// This database's committed transactions and the cluster's WAL position. Read-only.
export async function dbCountersRead(sql: Queryable): Promise<DatabaseCounters> {
  const [row] = await sql<DatabaseCounters[]>`
    SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())::float8 AS commits,
           pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::float8 AS "walBytes"`;
  return row ?? { commits: 0, walBytes: 0 };
}

export interface StatementCounters {
  /** Statements executed by the current role in this database. */
  calls: number;
  walBytes: number;
}

// The current role's statement count and WAL bytes in this database from pg_stat_statements;
// null when the view does not exist. Read-only. Throws when the view exists but its library is
// not in shared_preload_libraries (or the server is older than 13: no wal_bytes).
export async function dbStatementCountersRead(sql: Queryable): Promise<StatementCounters | null> {
  const [present] = await sql<{ present: boolean }[]>`SELECT to_regclass('pg_stat_statements') IS NOT NULL AS present`;
  if (!present?.present) return null;
  const [row] = await sql<StatementCounters[]>`
    SELECT COALESCE(sum(calls), 0)::float8 AS calls, COALESCE(sum(wal_bytes), 0)::float8 AS "walBytes"
    FROM pg_stat_statements
    WHERE userid = (SELECT oid FROM pg_roles WHERE rolname = current_user)
      AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`;
  return row ?? { calls: 0, walBytes: 0 };
}
