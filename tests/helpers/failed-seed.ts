// Bulk FAILED rows for the triage tests and the retry benchmark: one INSERT … SELECT, each row with
// its own spec and hash, a terminal errors_json entry, failed_at/finished_at set. Works on both
// schemas (every NOT NULL column written: Django's has no defaults).
import type { Queryable } from "../../src/db/client.ts";

export interface FailedSeed {
  count: number;
  queue?: string;
  taskPath?: string;
  /** The kind of the last errors_json entry (`cancelled`: cancellation requested by an operator). */
  kind?: string;
  /** Another final status (SUCCESSFUL, CANCELLED) for bulk rows around the FAILED ones. */
  status?: string;
}

/** Inserts `count` FAILED rows; returns their ids, ascending. */
export async function seedFailedRows(sql: Queryable, seed: FailedSeed): Promise<string[]> {
  const taskPath = seed.taskPath ?? "tasks.example.run";
  const kind = seed.kind ?? "app_error";
  const rows = await sql<{ result_id: string }[]>`
    insert into task_runs (backend_alias, queue_name, priority, run_after, spec_json, spec_hash, task_path, status,
      enqueued_at, started_at, last_attempted_at, finished_at, failed_at, attempts, max_attempts, timeout_seconds,
      concurrency_limit, wait_count, worker_ids, errors_json, metadata_json, last_error, created_at, updated_at, cancel_requested)
    select 'default', ${seed.queue ?? "default"}, 0, null,
      jsonb_build_object('task_path', ${taskPath}::text, 'args', jsonb_build_array(i, ${crypto.randomUUID()}::text), 'kwargs', '{}'::jsonb),
      md5(random()::text || i) || md5(clock_timestamp()::text || i), ${taskPath}::text, ${seed.status ?? "FAILED"}::text,
      now() - interval '1 hour', now() - interval '1 hour', now() - interval '1 hour', now(), now(), 3, 3, 900,
      0, 0, '["w1"]'::jsonb,
      jsonb_build_array(jsonb_build_object('kind', ${kind}::text, 'message', 'boom', 'at', now()::text)),
      '{}'::jsonb, ${`${kind}: boom`}, now(), now(), false
    from generate_series(1, ${seed.count}) as i
    returning result_id`;
  return rows.map((r) => String(r.result_id)).sort((a, b) => Number(BigInt(a) - BigInt(b)));
}
