// What `reproq doctor` verifies about the schema: tables, column types the worker relies on,
// indexes, triggers, the task_path constraint and the seeded global rate limit. Both schema
// flavours pass: Django's (varchar(64) spec_hash, no defaults) and ours/the Go worker's.

import type { Queryable } from "./client.ts";

export interface SchemaCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/** Accepted `format_type()` results per column kind (lengths are ignored except for spec_hash). */
const KINDS = {
  text: ["text", "character varying"],
  int: ["integer", "bigint"],
  bigint: ["bigint"],
  ts: ["timestamp with time zone"],
  jsonb: ["jsonb"],
  bool: ["boolean"],
  uuid: ["uuid"],
  real: ["real", "double precision"],
  hash: ["character(64)", "character varying(64)"],
} as const;
type Kind = keyof typeof KINDS;

const TABLES: Readonly<Record<string, Readonly<Record<string, Kind>>>> = {
  task_runs: {
    result_id: "bigint", backend_alias: "text", queue_name: "text", priority: "int", run_after: "ts",
    spec_json: "jsonb", spec_hash: "hash", task_path: "text", status: "text", enqueued_at: "ts",
    started_at: "ts", last_attempted_at: "ts", finished_at: "ts", attempts: "int", max_attempts: "int",
    timeout_seconds: "int", lock_key: "text", concurrency_key: "text", concurrency_limit: "int",
    worker_ids: "jsonb", return_json: "jsonb", errors_json: "jsonb", metadata_json: "jsonb",
    last_error: "text", failed_at: "ts", leased_until: "ts", leased_by: "text", logs_uri: "text",
    artifacts_uri: "text", expires_at: "ts", parent_id: "bigint", workflow_id: "uuid", wait_count: "int",
    created_at: "ts", updated_at: "ts", cancel_requested: "bool",
  },
  periodic_tasks: {
    name: "text", cron_expr: "text", task_path: "text", payload_json: "jsonb", queue_name: "text",
    priority: "int", max_attempts: "int", concurrency_key: "text", concurrency_limit: "int",
    last_run_at: "ts", next_run_at: "ts", enabled: "bool", created_at: "ts", updated_at: "ts",
  },
  reproq_workers: {
    worker_id: "text", hostname: "text", concurrency: "int", queues: "jsonb", started_at: "ts",
    last_seen_at: "ts", version: "text", alive_until: "ts",
  },
  reproq_queue_controls: {
    queue_name: "text", paused: "bool", paused_at: "ts", reason: "text", created_at: "ts", updated_at: "ts",
  },
  rate_limits: {
    key: "text", tokens_per_second: "real", burst_size: "int", current_tokens: "real", last_refilled_at: "ts",
  },
  workflow_runs: {
    workflow_id: "uuid", expected_count: "int", success_count: "int", failure_count: "int",
    callback_result_id: "bigint", status: "text", created_at: "ts", updated_at: "ts",
  },
};

/** Index name → table it must be on. */
export const EXPECTED_INDEXES: Readonly<Record<string, string>> = {
  idx_task_runs_spec_unique: "task_runs",
  idx_task_runs_lock_key: "task_runs",
  idx_task_runs_concurrency_active: "task_runs",
  idx_task_runs_parent_id: "task_runs",
  idx_task_runs_workflow_id: "task_runs",
  idx_task_runs_failed_at: "task_runs",
  idx_task_runs_task_path: "task_runs",
  idx_task_runs_claim_due: "task_runs",
  idx_task_runs_ready_order: "task_runs",
  idx_task_runs_running_lease: "task_runs",
  idx_task_runs_parent_id_all: "task_runs",
  idx_task_runs_finished_at: "task_runs",
  idx_task_runs_failed_queue: "task_runs",
  idx_task_runs_ready_concurrency: "task_runs",
  idx_task_runs_ready_run_after: "task_runs",
  idx_periodic_tasks_next_run: "periodic_tasks",
  idx_workflow_runs_callback: "workflow_runs",
};

export const EXPECTED_TRIGGERS = [
  "trg_task_runs_task_path",
  "trg_task_runs_notify_insert",
  "trg_task_runs_notify_update",
  "trg_task_runs_notify_cancel",
] as const;

const FIX = "run `reproq migrate`";

/**
 * Inspects the catalog (read-only, no locks beyond catalog reads) and returns one entry per table,
 * column, index, trigger, the task_path constraint and the global rate-limit row.
 */
export async function checkSchema(sql: Queryable): Promise<SchemaCheck[]> {
  const tableNames = Object.keys(TABLES);
  const tables = new Set(
    (await sql<{ name: string }[]>`
      select c.relname::text as name from pg_class c
      where c.relkind in ('r', 'p') and c.relname::text = any(${tableNames}::text[]) and pg_table_is_visible(c.oid)`).map((r) => r.name),
  );
  const columns = new Map(
    (await sql<{ table: string; column: string; type: string }[]>`
      select c.relname::text as table, a.attname::text as column, format_type(a.atttypid, a.atttypmod) as type
      from pg_attribute a join pg_class c on c.oid = a.attrelid
      where c.relname::text = any(${tableNames}::text[]) and pg_table_is_visible(c.oid)
        and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped`).map((r) => [`${r.table}.${r.column}`, r.type]),
  );
  const indexes = new Map(
    (await sql<{ name: string; table: string; valid: boolean }[]>`
      select i.relname::text as name, t.relname::text as table, x.indisvalid as valid
      from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid
      where i.relname::text = any(${Object.keys(EXPECTED_INDEXES)}::text[]) and pg_table_is_visible(i.oid)`).map((r) => [r.name, r]),
  );
  const triggers = new Map(
    (await sql<{ name: string; enabled: string }[]>`
      select tgname::text as name, tgenabled::text as enabled from pg_trigger
      where tgrelid = to_regclass('task_runs') and not tgisinternal`).map((r) => [r.name, r.enabled]),
  );
  const [constraint] = await sql<{ validated: boolean }[]>`
    select convalidated as validated from pg_constraint
    where conrelid = to_regclass('task_runs') and conname = 'task_runs_task_path_not_empty'`;

  const checks: SchemaCheck[] = [];
  for (const [table, cols] of Object.entries(TABLES)) {
    const exists = tables.has(table);
    checks.push({ name: `table ${table}`, ok: exists, detail: exists ? "exists" : `missing; ${FIX}` });
    if (!exists) continue;
    for (const [column, kind] of Object.entries(cols)) checks.push(columnCheck(table, column, kind, columns.get(`${table}.${column}`)));
  }
  for (const [name, table] of Object.entries(EXPECTED_INDEXES)) {
    const found = indexes.get(name);
    const ok = found !== undefined && found.table === table && found.valid;
    const detail = !found
      ? `missing; ${FIX}`
      : found.table !== table
        ? `exists on ${found.table}, expected on ${table}`
        : found.valid
          ? `on ${table}`
          : `INVALID (an interrupted concurrent build); rebuild with REINDEX INDEX CONCURRENTLY ${name}`;
    checks.push({ name: `index ${name}`, ok, detail });
  }
  for (const name of EXPECTED_TRIGGERS) {
    const enabled = triggers.get(name);
    const ok = enabled !== undefined && enabled !== "D";
    const detail = enabled === undefined ? `missing on task_runs; ${FIX}` : ok ? "enabled" : "disabled (ALTER TABLE task_runs ENABLE TRIGGER …)";
    checks.push({ name: `trigger ${name}`, ok, detail });
  }
  checks.push({
    name: "constraint task_runs_task_path_not_empty",
    ok: constraint !== undefined,
    detail: constraint === undefined ? `missing; ${FIX}` : constraint.validated ? "valid" : "NOT VALID (checked for new rows only)",
  });
  checks.push(await globalRateLimitCheck(sql, tables.has("rate_limits")));
  return checks;
}

function columnCheck(table: string, column: string, kind: Kind, actual: string | undefined): SchemaCheck {
  const name = `column ${table}.${column}`;
  const accepted: readonly string[] = KINDS[kind];
  if (actual === undefined) return { name, ok: false, detail: `missing; ${FIX}` };
  const comparable = kind === "hash" ? actual : actual.replace(/\(.*\)$/, "");
  const ok = accepted.includes(comparable);
  return { name, ok, detail: ok ? actual : `type ${actual}, expected ${accepted.join(" or ")}` };
}

async function globalRateLimitCheck(sql: Queryable, tableExists: boolean): Promise<SchemaCheck> {
  const name = "rate_limits global row";
  if (!tableExists) return { name, ok: false, detail: `table rate_limits is missing; ${FIX}` };
  const [row] = await sql<{ rate: number; burst: number }[]>`
    select tokens_per_second as rate, burst_size as burst from rate_limits where key = 'global'`;
  return row
    ? { name, ok: true, detail: `tokens_per_second=${row.rate} burst_size=${row.burst}` }
    : { name, ok: false, detail: "missing; insert it with: INSERT INTO rate_limits (key, tokens_per_second, burst_size, current_tokens) VALUES ('global', 0, 1, 0)" };
}
