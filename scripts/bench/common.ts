// Shared by the worker benchmarks: bulk no-op tasks and percentiles.
import type { Sql } from "../../src/db/client.ts";

/** Inserts `count` READY rows of `taskPath` in one statement (distinct specs and hashes). */
export async function enqueueNoops(sql: Sql, count: number, taskPath: string): Promise<void> {
  await sql`
    insert into task_runs (backend_alias, queue_name, priority, spec_json, spec_hash, task_path, status, enqueued_at,
      attempts, max_attempts, timeout_seconds, concurrency_limit, wait_count, worker_ids, errors_json, metadata_json,
      created_at, updated_at, cancel_requested)
    select 'default', 'default', 0, jsonb_build_object('task_path', ${taskPath}::text, 'args', jsonb_build_array(i), 'kwargs', '{}'::jsonb),
      md5(random()::text || i) || md5(i::text), ${taskPath}::text, 'READY', clock_timestamp(), 0, 3, 900, 0, 0,
      '[]'::jsonb, '[]'::jsonb, '{}'::jsonb, now(), now(), false
    from generate_series(1, ${count}) as i`;
}

/** The p-th percentile of an ascending list (nearest rank); NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
