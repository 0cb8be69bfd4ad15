// Catalog snapshots and fixed rows for schema tests: "did migrate change anything it should not?"

import type { Queryable, Sql } from "../../src/db/client.ts";

/**
 * Every column (type, nullability, default, identity), index (definition, validity), trigger,
 * constraint (definition, validated, deferrable) and function body in the public schema, one
 * line each, sorted. Two equal snapshots mean an unchanged schema.
 */
export async function catalogSnapshot(sql: Sql): Promise<string[]> {
  const rows = await sql<{ line: string }[]>`
    select 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || ' notnull=' || a.attnotnull || ' identity=' || a.attidentity::text
           || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-') as line
    from pg_attribute a
    join pg_class c on c.oid = a.attrelid
    left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
    where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
    union all
    select 'index ' || i.relname || ' ' || pg_get_indexdef(x.indexrelid) || ' valid=' || x.indisvalid
    from pg_index x join pg_class i on i.oid = x.indexrelid
    where i.relnamespace = 'public'::regnamespace
    union all
    select 'trigger ' || t.tgname || ' ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
    from pg_trigger t join pg_class c on c.oid = t.tgrelid
    where c.relnamespace = 'public'::regnamespace and not t.tgisinternal
    union all
    select 'constraint ' || conrelid::regclass || '.' || conname || ' ' || pg_get_constraintdef(oid)
           || ' validated=' || convalidated || ' deferrable=' || condeferrable || ' deferred=' || condeferred
    from pg_constraint
    where connamespace = 'public'::regnamespace
    union all
    select 'function ' || p.proname || ' ' || md5(p.prosrc)
    from pg_proc p
    where p.pronamespace = 'public'::regnamespace
    order by 1`;
  return rows.map((r) => r.line);
}

/** The public tables that exist, sorted. */
export async function tableNames(sql: Sql): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`
    select relname::text as name from pg_class
    where relnamespace = 'public'::regnamespace and relkind in ('r', 'p') order by 1`;
  return rows.map((r) => r.name);
}

/** Each row of `table` as its text form (`t::text`), ordered by the first column: byte-level comparison. */
export async function rowsAsText(sql: Sql, table: string, orderBy: string): Promise<string[]> {
  const rows = await sql<{ line: string }[]>`select t::text as line from ${sql(table)} t order by ${sql(orderBy)}`;
  return rows.map((r) => r.line);
}

/** A random 64-character lowercase hex string (a stand-in spec_hash). */
export function randomHash(): string {
  return new Bun.CryptoHasher("sha256").update(crypto.randomUUID()).digest("hex");
}

/**
 * Inserts one task_runs row filling every NOT NULL column explicitly (works on Django-created
 * schemas, which have no defaults). Returns its result_id (bigint comes back as a string).
 */
export async function insertTask(
  sql: Queryable,
  row: { queue?: string; status?: string; taskPath?: string; specHash?: string; runAfter?: Date | null } = {},
): Promise<string> {
  const taskPath = row.taskPath ?? "tasks.example.run";
  const spec = { task_path: taskPath, args: [], kwargs: {} };
  const [inserted] = await sql<{ result_id: string }[]>`
    insert into task_runs (
      backend_alias, queue_name, priority, run_after, spec_json, spec_hash, task_path, status,
      enqueued_at, attempts, max_attempts, timeout_seconds, concurrency_limit, wait_count,
      worker_ids, errors_json, metadata_json, created_at, updated_at, cancel_requested
    ) values (
      'default', ${row.queue ?? "default"}, 0, ${row.runAfter ?? null}, ${sql.json(spec)}, ${row.specHash ?? randomHash()},
      ${taskPath}, ${row.status ?? "READY"}, now(), 0, 3, 900, 0, 0,
      '[]'::jsonb, '[]'::jsonb, '{}'::jsonb, now(), now(), false
    )
    returning result_id`;
  return inserted!.result_id;
}
