// The worker registry (reproq_workers): one row per running worker, read by Django's admin and
// health checks ("alive" = last_seen_at within 2 minutes). Django creates this table without
// column defaults and with NOT NULL hostname/concurrency, so every insert names every column.

import type { Queryable } from "../db/client.ts";

export interface WorkerIdentity {
  workerId: string;
  hostname: string;
  concurrency: number;
  queues: readonly string[];
  version: string;
}

// Upserts this worker's row, filling every column; on re-registration (same worker_id after a
// restart) refreshes started_at too, which Go left stale. Idempotent.
export async function workerRegister(sql: Queryable, params: WorkerIdentity): Promise<void> {
  await sql`
    insert into reproq_workers (worker_id, hostname, concurrency, queues, started_at, last_seen_at, version)
    values (${params.workerId}, ${params.hostname}, ${params.concurrency}::int,
            ${JSON.stringify(params.queues)}::text::jsonb, now(), now(), ${params.version})
    on conflict (worker_id) do update set
      hostname = excluded.hostname,
      concurrency = excluded.concurrency,
      queues = excluded.queues,
      started_at = excluded.started_at,
      last_seen_at = excluded.last_seen_at,
      version = excluded.version`;
}

// Sets last_seen_at = NOW(); re-creates the row (started_at = NOW()) if someone deleted it, e.g.
// a stale-worker cleanup during a long pause. Returns true when it had to re-create it.
export async function workerHeartbeat(sql: Queryable, params: WorkerIdentity): Promise<boolean> {
  const [row] = await sql<{ recreated: boolean }[]>`
    insert into reproq_workers (worker_id, hostname, concurrency, queues, started_at, last_seen_at, version)
    values (${params.workerId}, ${params.hostname}, ${params.concurrency}::int,
            ${JSON.stringify(params.queues)}::text::jsonb, now(), now(), ${params.version})
    on conflict (worker_id) do update set last_seen_at = excluded.last_seen_at
    returning (xmax = 0) as recreated`; // xmax is 0 only for a freshly inserted row version
  return row?.recreated ?? false;
}

// Deletes this worker's row on clean exit. Returns true when a row was deleted. Idempotent.
export async function workerDeregister(sql: Queryable, params: { workerId: string }): Promise<boolean> {
  const rows = await sql`delete from reproq_workers where worker_id = ${params.workerId}`;
  return rows.count > 0;
}
