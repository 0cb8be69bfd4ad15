// The worker registry (reproq_workers): one row per running worker, read by Django's admin and
// health checks ("alive" = last_seen_at within 2 minutes). Django creates this table without
// column defaults and with NOT NULL hostname/concurrency, so every insert names every column.
// alive_until (migration 0010) is each worker's own deadline: past it, the worker is dead.

import type { Queryable } from "../db/client.ts";

export interface WorkerIdentity {
  workerId: string;
  hostname: string;
  concurrency: number;
  queues: readonly string[];
  version: string;
}

export interface WorkerDeadline {
  /** alive_until = NOW() + this many seconds; absent or null leaves the column out (schema before 0010). */
  aliveSeconds?: number | null;
}

/** The alive_until column, value and update, or nothing at all for a schema without it. */
function deadlineParts(sql: Queryable, aliveSeconds: number | null | undefined) {
  if (aliveSeconds === null || aliveSeconds === undefined) return { column: sql``, value: sql``, update: sql`` };
  return {
    column: sql`, alive_until`,
    value: sql`, now() + make_interval(secs => ${aliveSeconds}::double precision)`,
    update: sql`, alive_until = excluded.alive_until`,
  };
}

// Upserts this worker's row, filling every column; on re-registration (same worker_id after a
// restart) refreshes started_at too, which Go left stale. Idempotent.
export async function workerRegister(sql: Queryable, params: WorkerIdentity & WorkerDeadline): Promise<void> {
  const deadline = deadlineParts(sql, params.aliveSeconds);
  await sql`
    insert into reproq_workers (worker_id, hostname, concurrency, queues, started_at, last_seen_at, version ${deadline.column})
    values (${params.workerId}, ${params.hostname}, ${params.concurrency}::int,
            ${JSON.stringify(params.queues)}::text::jsonb, now(), now(), ${params.version} ${deadline.value})
    on conflict (worker_id) do update set
      hostname = excluded.hostname,
      concurrency = excluded.concurrency,
      queues = excluded.queues,
      started_at = excluded.started_at,
      last_seen_at = excluded.last_seen_at,
      version = excluded.version ${deadline.update}`;
}

// Sets last_seen_at = NOW() (and alive_until); re-creates the row (started_at = NOW()) if someone
// deleted it: a stale-worker cleanup, or another worker that declared this one dead. Returns true
// when it had to re-create it.
export async function workerHeartbeat(sql: Queryable, params: WorkerIdentity & WorkerDeadline): Promise<boolean> {
  const deadline = deadlineParts(sql, params.aliveSeconds);
  const [row] = await sql<{ recreated: boolean }[]>`
    insert into reproq_workers (worker_id, hostname, concurrency, queues, started_at, last_seen_at, version ${deadline.column})
    values (${params.workerId}, ${params.hostname}, ${params.concurrency}::int,
            ${JSON.stringify(params.queues)}::text::jsonb, now(), now(), ${params.version} ${deadline.value})
    on conflict (worker_id) do update set last_seen_at = excluded.last_seen_at ${deadline.update}
    returning (xmax = 0) as recreated`; // xmax is 0 only for a freshly inserted row version
  return row?.recreated ?? false;
}

export interface DeadWorker {
  workerId: string;
  lastSeenAt: Date;
}

export interface DeadWorkerFilter {
  /** Never this worker (a rescuer does not declare itself dead)... */
  exceptWorkerId?: string;
  /** ...or only this one (a worker starting under the id of a run that died). */
  onlyWorkerId?: string;
  limit: number;
}

// Locks (FOR UPDATE SKIP LOCKED: one live worker handles each dead one) up to `limit` rows whose
// alive_until has passed on the DB clock, filtered by `exceptWorkerId` / `onlyWorkerId`. Rows
// without alive_until are never returned, nor rows renewed after their deadline was written (a Go or
// older reproq worker reusing the id renews last_seen_at only: it is not ours to declare dead).
// Returns them, oldest deadline first. Changes nothing.
export async function workerLockDeadMany(sql: Queryable, params: DeadWorkerFilter): Promise<DeadWorker[]> {
  const except = params.exceptWorkerId === undefined ? sql`` : sql`and worker_id <> ${params.exceptWorkerId}`;
  const only = params.onlyWorkerId === undefined ? sql`` : sql`and worker_id = ${params.onlyWorkerId}`;
  const rows = await sql<{ worker_id: string; last_seen_at: Date }[]>`
    select worker_id, last_seen_at
    from reproq_workers
    where alive_until < now() and last_seen_at < alive_until ${except} ${only}
    order by alive_until, worker_id
    limit ${params.limit}::int
    for update skip locked`;
  return rows.map((r) => ({ workerId: r.worker_id, lastSeenAt: r.last_seen_at }));
}

export interface WorkerDeadlineState {
  lastSeenAt: Date;
  /** Seconds until alive_until on the DB clock (negative: passed); null when the row has none. */
  aliveForSeconds: number | null;
}

// Reads one worker's last_seen_at and how long until its alive_until (DB clock). Returns null when
// the worker has no row. Read-only.
export async function workerDeadlineRead(sql: Queryable, params: { workerId: string }): Promise<WorkerDeadlineState | null> {
  const [row] = await sql<{ last_seen_at: Date; alive_for: number | null }[]>`
    select last_seen_at, extract(epoch from alive_until - now())::float8 as alive_for
    from reproq_workers where worker_id = ${params.workerId}`;
  return row ? { lastSeenAt: row.last_seen_at, aliveForSeconds: row.alive_for } : null;
}

// Deletes the rows of `workerIds`. Returns how many it deleted. Idempotent.
export async function workerDeleteMany(sql: Queryable, params: { workerIds: readonly string[] }): Promise<number> {
  if (params.workerIds.length === 0) return 0;
  const rows = await sql`delete from reproq_workers where worker_id = any(${params.workerIds}::text[])`;
  return rows.count;
}

// Deletes this worker's row on clean exit. Returns true when a row was deleted. Idempotent.
export async function workerDeregister(sql: Queryable, params: { workerId: string }): Promise<boolean> {
  const rows = await sql`delete from reproq_workers where worker_id = ${params.workerId}`;
  return rows.count > 0;
}
