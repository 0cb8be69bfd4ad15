// `reproq migrate` against real PostgreSQL, from every starting point the spec names: an empty
// database, a Django-created schema, the Go worker's baseline, and our own schema already migrated.

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { migrate } from "../../src/db/migrate.ts";
import { MIGRATIONS } from "../../src/db/migrations.ts";
import { checkSchema } from "../../src/db/schema-check.ts";
import { catalogSnapshot, insertTask, rowsAsText } from "../helpers/catalog.ts";
import { createTestDatabase, type Flavour, type TestDatabase } from "../helpers/db.ts";
import type { Sql } from "../../src/db/client.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

// bunfig's [test] timeout is not applied by Bun 1.4; database set-up (and a first embedded
// server start) can take longer than the 5 s default.

const ALL_FILES = MIGRATIONS.map((m) => m.file);

const EXPECTED_TRIGGERS = [
  "CREATE TRIGGER trg_task_runs_notify_cancel AFTER UPDATE OF cancel_requested ON public.task_runs FOR EACH ROW WHEN ((new.cancel_requested AND (NOT old.cancel_requested))) EXECUTE FUNCTION reproq_notify_cancel()",
  "CREATE TRIGGER trg_task_runs_notify_insert AFTER INSERT ON public.task_runs REFERENCING NEW TABLE AS reproq_inserted_rows FOR EACH STATEMENT EXECUTE FUNCTION reproq_notify_insert()",
  "CREATE TRIGGER trg_task_runs_notify_update AFTER UPDATE OF status, run_after ON public.task_runs FOR EACH ROW WHEN (((new.status = 'READY'::text) AND ((old.status IS DISTINCT FROM new.status) OR (old.run_after IS DISTINCT FROM new.run_after)))) EXECUTE FUNCTION reproq_notify_update()",
  "CREATE TRIGGER trg_task_runs_task_path BEFORE INSERT OR UPDATE OF spec_json, task_path ON public.task_runs FOR EACH ROW EXECUTE FUNCTION reproq_task_path_from_spec()",
];

/** Rows written before migrate, with every NOT NULL column explicit (Django schemas have no defaults). */
async function seedRows(sql: Sql, flavour: Flavour): Promise<void> {
  await sql`
    insert into task_runs (
      backend_alias, queue_name, priority, run_after, spec_json, spec_hash, task_path, status,
      enqueued_at, started_at, attempts, max_attempts, timeout_seconds, lock_key, concurrency_key,
      concurrency_limit, wait_count, worker_ids, errors_json, metadata_json, last_error,
      created_at, updated_at, cancel_requested
    ) values (
      'default', 'emails', 5, '2030-01-02T03:04:05.123456Z', ${sql.json({ task_path: "myapp.tasks.send", args: [1, "ü"], kwargs: { x: 1.5 } })},
      'ab12', 'myapp.tasks.send', 'FAILED', '2024-05-06T07:08:09.654321Z', '2024-05-06T07:08:10Z',
      3, 3, 60, 'lock-1', 'conc-1', 2, 0, '["w1", "w2"]', '[{"kind": "app_error", "message": "boom"}]',
      '{"progress": 0.5}', 'ValueError: boom', '2024-05-06T07:08:09Z', '2024-05-06T07:08:11Z', false
    )`;
  await sql`
    insert into periodic_tasks (
      name, cron_expr, task_path, payload_json, queue_name, priority, max_attempts,
      concurrency_key, concurrency_limit, next_run_at, enabled, created_at, updated_at
    ) values (
      'nightly', '0 3 * * *', 'myapp.tasks.nightly', '{"args": [], "kwargs": {}}', 'default', 0, 3,
      null, 0, '2030-01-01T03:00:00Z', true, '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z'
    )`;
  await sql`
    insert into reproq_workers (worker_id, hostname, concurrency, queues, started_at, last_seen_at, version)
    values ('host-1', 'host', 4, '["default", "emails"]', '2024-01-01T00:00:00Z', '2024-01-01T00:01:00Z', '0.0.1')`;
  if (flavour === "go" || flavour === "reproq") {
    await sql`update rate_limits set tokens_per_second = 5, burst_size = 10, current_tokens = 3 where key = 'global'`;
  }
}

/** reproq_workers rows as text over the columns every flavour has (0010 adds alive_until, NULL for them). */
async function workerRowsAsText(sql: Sql): Promise<string[]> {
  const rows = await sql<{ line: string; deadline: boolean }[]>`
    select (worker_id, hostname, concurrency, queues, started_at, last_seen_at, version)::text as line,
           to_jsonb(w) ? 'alive_until' and to_jsonb(w)->'alive_until' <> 'null'::jsonb as deadline
    from reproq_workers w order by worker_id`;
  return rows.map((r) => (r.deadline ? `${r.line} with alive_until` : r.line));
}

async function snapshotRows(sql: Sql, withRateLimits: boolean): Promise<string[]> {
  return [
    ...(await rowsAsText(sql, "task_runs", "result_id")),
    ...(await rowsAsText(sql, "periodic_tasks", "name")),
    ...(await workerRowsAsText(sql)),
    ...(withRateLimits ? await rowsAsText(sql, "rate_limits", "key") : []),
  ];
}

function failures(checks: Awaited<ReturnType<typeof checkSchema>>): string[] {
  return checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
}

/** Collects notifications; `settle()` resolves once a sentinel sent afterwards arrives (so all earlier ones did). */
async function listenTo(sql: Sql, channel: string) {
  const received: string[] = [];
  let waiter: { token: string; resolve: () => void } | undefined;
  const { unlisten } = await sql.listen(channel, (payload) => {
    if (waiter && payload === waiter.token) waiter.resolve();
    else if (!payload.startsWith("sentinel-")) received.push(payload);
  });
  return {
    received,
    unlisten,
    /** Returns what arrived since the last call and clears it. */
    async settle(): Promise<string[]> {
      const token = `sentinel-${crypto.randomUUID()}`;
      const arrived = new Promise<void>((resolve) => (waiter = { token, resolve }));
      await sql`select pg_notify(${channel}, ${token})`;
      await arrived;
      return received.splice(0);
    },
  };
}

for (const flavour of ["empty", "django", "go", "reproq"] as const) {
  describe(`migrate from a ${flavour} database`, () => {
    let db: TestDatabase;
    let rowsBefore: string[] = [];
    const hasTablesBefore = flavour !== "empty";
    const hasRateLimitsBefore = flavour === "go" || flavour === "reproq";

    beforeAll(async () => {
      db = await createTestDatabase({ flavour, label: `migrate_${flavour}` });
      if (hasTablesBefore) {
        await seedRows(db.sql, flavour);
        rowsBefore = await snapshotRows(db.sql, hasRateLimitsBefore);
      }
    });
    afterAll(() => db?.drop());

    test("first migrate applies what is missing and the schema checks pass", async () => {
      const lines: string[] = [];
      const result = await migrate(db.sql, { log: (l) => lines.push(l) });
      if (flavour === "reproq") {
        expect(result).toEqual({ applied: [], skipped: ALL_FILES, planned: [] });
      } else {
        expect(result).toEqual({ applied: ALL_FILES, skipped: [], planned: ALL_FILES });
        expect(lines).toContain("applying 0003_indexes.sql (outside a transaction)");
      }
      expect(failures(await checkSchema(db.sql))).toEqual([]);
      const recorded = await db.sql<{ version: string }[]>`select version from reproq_schema_migrations order by version`;
      expect(recorded.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    });

    test("rows written before migrate are byte-identical after it", async () => {
      if (!hasTablesBefore) {
        await seedRows(db.sql, flavour);
        rowsBefore = await snapshotRows(db.sql, true);
        await migrate(db.sql);
      }
      expect(rowsBefore.length).toBeGreaterThanOrEqual(3);
      expect(await snapshotRows(db.sql, hasRateLimitsBefore || !hasTablesBefore)).toEqual(rowsBefore);
    });

    test("rate_limits: an existing global row survives; a new table gets the disabled seed", async () => {
      const [global] = await db.sql<{ rate: number; burst: number; tokens: number }[]>`
        select tokens_per_second as rate, burst_size as burst, current_tokens as tokens from rate_limits where key = 'global'`;
      expect(global).toEqual(hasRateLimitsBefore ? { rate: 5, burst: 10, tokens: 3 } : { rate: 0, burst: 1, tokens: 0 });
    });

    test("a second migrate applies nothing and changes nothing in the catalog", async () => {
      const before = await catalogSnapshot(db.sql);
      const lines: string[] = [];
      const result = await migrate(db.sql, { log: (l) => lines.push(l) });
      expect(result).toEqual({ applied: [], skipped: ALL_FILES, planned: [] });
      expect(lines).toEqual(["schema is up to date"]);
      expect(await catalogSnapshot(db.sql)).toEqual(before);
      expect(before.length).toBeGreaterThan(80);
    });

    if (flavour === "django") {
      test("Django's own definitions are kept: VALID check, deferrable FK without ON DELETE, varchar hash, identity", async () => {
        const snapshot = await catalogSnapshot(db.sql);
        const has = (prefix: string) => snapshot.filter((l) => l.startsWith(prefix));
        expect(has("constraint task_runs.task_runs_task_path_not_empty")).toEqual([
          "constraint task_runs.task_runs_task_path_not_empty CHECK (((task_path IS NOT NULL) AND (task_path <> ''::text))) validated=true deferrable=false deferred=false",
        ]);
        const fks = snapshot.filter((l) => l.includes("FOREIGN KEY"));
        expect(fks).toEqual([
          "constraint task_runs.task_runs_parent_id_8c1d2e3f_fk_task_runs_result_id FOREIGN KEY (parent_id) REFERENCES task_runs(result_id) DEFERRABLE INITIALLY DEFERRED validated=true deferrable=true deferred=true",
        ]);
        expect(has("column task_runs.spec_hash ")).toEqual(["column task_runs.spec_hash character varying(64) notnull=true identity= default=-"]);
        expect(has("column task_runs.result_id ")).toEqual(["column task_runs.result_id bigint notnull=true identity=d default=-"]);
        expect(has("column task_runs.metadata_json ")).toEqual(["column task_runs.metadata_json jsonb notnull=true identity= default=-"]);
        expect(has("index task_runs_status_26197d_idx ")).toHaveLength(1);
      });
    }

    if (flavour === "go") {
      test("the Go schema's NOT VALID check and ON DELETE SET NULL FK are kept", async () => {
        const snapshot = await catalogSnapshot(db.sql);
        expect(snapshot.filter((l) => l.startsWith("constraint task_runs.task_runs_task_path_not_empty"))[0]).toContain("validated=false");
        expect(snapshot.filter((l) => l.includes("FOREIGN KEY"))).toEqual([
          "constraint task_runs.task_runs_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES task_runs(result_id) ON DELETE SET NULL validated=true deferrable=false deferred=false",
        ]);
        expect(snapshot).toContain("column task_runs.spec_hash character(64) notnull=true identity= default=-");
      });
    }

    describe("NOTIFY triggers", () => {
      test("are defined as designed (the insert trigger is statement-level)", async () => {
        const rows = await db.sql<{ def: string }[]>`
          select pg_get_triggerdef(oid) as def from pg_trigger
          where tgrelid = 'task_runs'::regclass and not tgisinternal order by tgname`;
        expect(rows.map((r) => r.def)).toEqual(EXPECTED_TRIGGERS);
      });

      test("insert of a READY row notifies reproq_tasks with its queue; a WAITING row does not", async () => {
        const tasks = await listenTo(db.sql, "reproq_tasks");
        try {
          await insertTask(db.sql, { queue: "mail" });
          expect(await tasks.settle()).toEqual(["mail"]);
          await insertTask(db.sql, { queue: "later", status: "WAITING" });
          expect(await tasks.settle()).toEqual([]);
        } finally {
          await tasks.unlisten();
        }
      });

      test("a bulk insert of 1000 rows into 2 queues sends exactly 2 notifications", async () => {
        const tasks = await listenTo(db.sql, "reproq_tasks");
        try {
          await db.sql`
            insert into task_runs (
              backend_alias, queue_name, priority, spec_json, spec_hash, task_path, status, enqueued_at,
              attempts, max_attempts, timeout_seconds, concurrency_limit, wait_count,
              worker_ids, errors_json, metadata_json, created_at, updated_at, cancel_requested
            )
            select 'default', case when g % 2 = 0 then 'bulk-a' else 'bulk-b' end, 0,
                   jsonb_build_object('task_path', 'tasks.bulk', 'n', g), md5(g::text || 'bulk') || md5(g::text),
                   'tasks.bulk', 'READY', now(), 0, 3, 900, 0, 0, '[]', '[]', '{}', now(), now(), false
            from generate_series(1, 1000) as g`;
          expect((await tasks.settle()).sort()).toEqual(["bulk-a", "bulk-b"]);
        } finally {
          await tasks.unlisten();
        }
      });

      test("FAILED → READY notifies once; READY → RUNNING and unrelated updates do not; a new run_after does", async () => {
        const id = await insertTask(db.sql, { queue: "retry-q", status: "FAILED" });
        const tasks = await listenTo(db.sql, "reproq_tasks");
        try {
          await db.sql`update task_runs set status = 'READY', updated_at = now() where result_id = ${id}`;
          expect(await tasks.settle()).toEqual(["retry-q"]);
          await db.sql`update task_runs set status = 'READY', priority = 7 where result_id = ${id}`;
          expect(await tasks.settle()).toEqual([]);
          await db.sql`update task_runs set run_after = now() + interval '1 minute' where result_id = ${id}`;
          expect(await tasks.settle()).toEqual(["retry-q"]);
          await db.sql`update task_runs set status = 'RUNNING' where result_id = ${id}`;
          expect(await tasks.settle()).toEqual([]);
        } finally {
          await tasks.unlisten();
        }
      });

      test("cancel_requested false → true notifies reproq_cancel with the result_id, once", async () => {
        const id = await insertTask(db.sql, { queue: "c", status: "RUNNING" });
        const cancels = await listenTo(db.sql, "reproq_cancel");
        try {
          await db.sql`update task_runs set cancel_requested = true where result_id = ${id}`;
          expect(await cancels.settle()).toEqual([String(id)]);
          await db.sql`update task_runs set cancel_requested = true where result_id = ${id}`;
          expect(await cancels.settle()).toEqual([]);
        } finally {
          await cancels.unlisten();
        }
      });

      test("notifications of a rolled-back transaction are never delivered", async () => {
        const tasks = await listenTo(db.sql, "reproq_tasks");
        try {
          await db.sql
            .begin(async (tx) => {
              await insertTask(tx, { queue: "rolled-back" });
              throw new Error("rollback on purpose");
            })
            .catch(() => {});
          expect(await tasks.settle()).toEqual([]);
        } finally {
          await tasks.unlisten();
        }
      });
    });
  });
}
