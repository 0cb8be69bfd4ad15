// Beat ticks against real Postgres on every schema flavour: the reproq migrations, Django's
// schema after `reproq migrate`, and Django's bare schema (no defaults, no unique spec_hash index;
// the Go beat failed there on metadata_json).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Beat } from "../../src/beat/scheduler.ts";
import { createDb, closeDb, type Queryable, type Sql } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";
import { createLogger, type Logger } from "../../src/observability/logger.ts";
import { canonicalJson, parseJsonPreservingNumbers } from "../../src/spec/canonical.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

type Flavour = "reproq" | "django+migrate" | "django";

interface PeriodicRow {
  name: string;
  cron?: string;
  taskPath?: string;
  payload?: string;
  queue?: string;
  priority?: number;
  maxAttempts?: number;
  concurrencyKey?: string | null;
  concurrencyLimit?: number;
  /** next_run_at = now() + this many seconds (negative = overdue). */
  dueInSeconds?: number;
  enabled?: boolean;
}

/** Every column given: Django's periodic_tasks has no defaults. */
async function insertPeriodic(sql: Queryable, row: PeriodicRow): Promise<void> {
  await sql`
    insert into periodic_tasks (name, cron_expr, task_path, payload_json, queue_name, priority, max_attempts,
      concurrency_key, concurrency_limit, last_run_at, next_run_at, enabled, created_at, updated_at)
    values (${row.name}, ${row.cron ?? "* * * * *"}, ${row.taskPath ?? "myapp.pt"}, ${row.payload ?? '{"args":[1],"kwargs":{"a":1}}'}::text::jsonb,
      ${row.queue ?? "default"}, ${row.priority ?? 0}, ${row.maxAttempts ?? 3}, ${row.concurrencyKey ?? null}, ${row.concurrencyLimit ?? 0},
      null, date_trunc('second', now() + make_interval(secs => ${row.dueInSeconds ?? -60}::float8)), ${row.enabled ?? true}, now(), now())`;
}

async function capture(): Promise<{ logger: Logger; lines: Record<string, unknown>[] }> {
  const lines: Record<string, unknown>[] = [];
  const logger = await createLogger({ format: "json", level: "debug", write: (line) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe.each(["reproq", "django+migrate", "django"] as Flavour[])("beat tick (%s schema)", (flavour) => {
  let db: TestDatabase;
  let logger: Logger;
  let lines: Record<string, unknown>[];
  beforeAll(async () => {
    db = await createTestDatabase({ flavour: flavour === "reproq" ? "reproq" : "django" });
    if (flavour === "django+migrate") await migrate(db.sql);
    ({ logger, lines } = await capture());
  });
  afterAll(() => db?.drop());
  const reset = async () => {
    await db.sql`delete from task_runs`;
    await db.sql`delete from periodic_tasks`;
    lines.length = 0;
  };
  const beat = () => new Beat({ sql: db.sql, logger, intervalMs: 1_000 });
  const errorsFor = (name: string) => lines.filter((l) => l.level === "ERROR" && l.name === name);

  test("scenario 61: one READY run with every column, next_run_at moved into the future", async () => {
    await reset();
    await insertPeriodic(db.sql, { name: "test_pt", payload: '{"args":[1, 1.50],"kwargs":{"a":1}}', priority: 2, concurrencyKey: "user:1", concurrencyLimit: 3, maxAttempts: 4 });
    const [before] = await db.sql<{ next_run_at: Date }[]>`select next_run_at from periodic_tasks where name = 'test_pt'`;
    const result = await beat().tick();
    expect(result).toMatchObject({ enqueued: 1, failed: 0, duplicates: 0 });
    const runs = await db.sql<Record<string, unknown>[]>`
      select status, task_path, queue_name, priority, run_after, spec_json::text as spec_text, trim(spec_hash) as spec_hash,
             max_attempts, timeout_seconds, attempts, concurrency_key, concurrency_limit, metadata_json, worker_ids, errors_json,
             wait_count, cancel_requested, backend_alias
      from task_runs`;
    expect(runs).toHaveLength(1);
    const run = runs[0]!;
    expect(run).toMatchObject({
      status: "READY", task_path: "myapp.pt", queue_name: "default", priority: 2, max_attempts: 4, timeout_seconds: 900, attempts: 0,
      concurrency_key: "user:1", concurrency_limit: 3, metadata_json: {}, worker_ids: [], errors_json: [], wait_count: 0,
      cancel_requested: false, backend_alias: "default",
    });
    expect((run.run_after as Date).getTime()).toBe(before!.next_run_at.getTime());
    const spec = parseJsonPreservingNumbers(run.spec_text as string) as Record<string, unknown>;
    expect(spec).toMatchObject({ periodic_name: "test_pt", task_path: "myapp.pt", kwargs: { a: 1 }, exec: { timeout_seconds: 900, max_attempts: 4 } });
    expect(spec.scheduled_at).toBe(`${before!.next_run_at.toISOString().slice(0, 19)}Z`);
    // spec_json is stored from the canonical text: re-canonicalising it gives spec_hash.
    expect(new Bun.CryptoHasher("sha256").update(canonicalJson(spec)).digest("hex")).toBe(run.spec_hash as string);
    expect(canonicalJson(spec.args)).toBe("[1,1.50]".replace("1.50", "1.5"));
    const [row] = await db.sql<{ in_future: boolean; last_ok: boolean }[]>`
      select next_run_at > now() as in_future, last_run_at = ${before!.next_run_at} as last_ok from periodic_tasks where name = 'test_pt'`;
    expect(row).toEqual({ in_future: true, last_ok: true });
    expect(lines.some((l) => l.msg === "Enqueued periodic tasks" && l.count === 1)).toBe(true);
    expect((await beat().tick()).enqueued).toBe(0); // not due any more
  });

  test("a beat down for an hour enqueues one run per task, not sixty", async () => {
    await reset();
    await insertPeriodic(db.sql, { name: "every_minute", dueInSeconds: -3600 });
    await insertPeriodic(db.sql, { name: "every_5", cron: "*/5 * * * *", dueInSeconds: -3600 });
    await insertPeriodic(db.sql, { name: "later", dueInSeconds: 600 });
    await insertPeriodic(db.sql, { name: "disabled", enabled: false });
    // Both ticks must fall in the same minute, or "every_minute" is legitimately due again.
    const [clock] = await db.sql<{ second: number }[]>`select extract(second from now())::float8 as second`;
    if ((clock?.second ?? 0) > 55) await Bun.sleep((60.2 - (clock?.second ?? 0)) * 1000);
    const first = await beat().tick();
    expect(first.enqueued).toBe(2);
    expect((await beat().tick()).enqueued).toBe(0);
    const counts = await db.sql<{ name: string; n: number }[]>`
      select spec_json->>'periodic_name' as name, count(*)::int as n from task_runs group by 1 order by 1`;
    expect([...counts]).toEqual([{ name: "every_5", n: 1 }, { name: "every_minute", n: 1 }]);
    const [next] = await db.sql<{ ok: boolean }[]>`
      select next_run_at > now() and next_run_at <= now() + interval '60 seconds' and extract(second from next_run_at) = 0 as ok
      from periodic_tasks where name = 'every_minute'`;
    expect(next!.ok).toBe(true);
  });

  test("invalid rows are logged once across ticks and skipped; good rows still run; a fix is picked up", async () => {
    await reset();
    await insertPeriodic(db.sql, { name: "feb30", cron: "0 0 30 2 *" });
    await insertPeriodic(db.sql, { name: "garbage", cron: "not a cron" });
    await insertPeriodic(db.sql, { name: "bad_payload", payload: '"nope"' });
    await insertPeriodic(db.sql, { name: "good" });
    const b = beat();
    const first = await b.tick();
    expect(first).toMatchObject({ enqueued: 1, failed: 3, skipped: 0 });
    await db.sql`update periodic_tasks set next_run_at = now() - interval '5 minutes' where name = 'good'`;
    const second = await b.tick();
    expect(second).toMatchObject({ enqueued: 1, failed: 0, skipped: 3 });
    const third = await b.tick();
    expect(third).toMatchObject({ enqueued: 0, failed: 0, skipped: 3 });
    for (const name of ["feb30", "garbage", "bad_payload"]) expect(errorsFor(name)).toHaveLength(1);
    expect(errorsFor("feb30")[0]!.error).toBe("cron expression never matches (e.g. Feb 30): 0 0 30 2 *");
    expect(errorsFor("garbage")[0]!.error).toContain("expected exactly 5 fields");
    expect(errorsFor("bad_payload")[0]!.error).toContain("invalid payload JSON");
    expect(lines.filter((l) => l.msg === "Failed to enqueue periodic tasks")).toHaveLength(1);
    // nothing was enqueued for the bad rows, and they were not rewritten
    const [bad] = await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs where spec_json->>'periodic_name' <> 'good'`;
    expect(bad!.n).toBe(0);
    await db.sql`update periodic_tasks set cron_expr = '0 0 28 2 *' where name = 'feb30'`;
    expect((await b.tick())).toMatchObject({ enqueued: 1, skipped: 2 });
  });

  test("a failing insert rolls back only its own row (savepoint)", async () => {
    await reset();
    await insertPeriodic(db.sql, { name: "empty_path", taskPath: "" }); // task_path CHECK rejects it
    await insertPeriodic(db.sql, { name: "fine" });
    const result = await beat().tick();
    expect(result).toMatchObject({ enqueued: 1, failed: 1 });
    const [row] = await db.sql<{ overdue: boolean }[]>`select next_run_at <= now() as overdue from periodic_tasks where name = 'empty_path'`;
    expect(row!.overdue).toBe(true); // not advanced
    expect(errorsFor("empty_path")).toHaveLength(1);
  });

  test("an identical active spec is not enqueued twice and not counted", async () => {
    await reset();
    await insertPeriodic(db.sql, { name: "dup" });
    const b = beat();
    expect((await b.tick()).enqueued).toBe(1);
    // Put the row back on the same slot (as a second, racing producer would see it).
    await db.sql`update periodic_tasks set next_run_at = last_run_at where name = 'dup'`;
    const again = await b.tick();
    expect(again).toMatchObject({ enqueued: 0, duplicates: 1, failed: 0 });
    const [count] = await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs`;
    expect(count!.n).toBe(1);
  });

  test("two beats ticking concurrently never enqueue the same slot twice", async () => {
    await reset();
    for (let i = 0; i < 30; i++) await insertPeriodic(db.sql, { name: `pt_${i}`, dueInSeconds: -120 });
    const other: Sql = createDb({ dsn: db.dsn, env: {}, poolSize: 5, connectTimeoutMs: 10_000, prepare: true });
    try {
      const a = new Beat({ sql: db.sql, logger, intervalMs: 1_000 });
      const b = new Beat({ sql: other, logger, intervalMs: 1_000 });
      const results = await Promise.all([...Array(6)].map((_, i) => (i % 2 === 0 ? a : b).tick()));
      expect(results.reduce((sum, r) => sum + r.enqueued, 0)).toBe(30);
      expect(results.every((r) => r.failed === 0 && r.error === undefined)).toBe(true);
      const [stats] = await db.sql<{ total: number; distinct_names: number }[]>`
        select count(*)::int as total, count(distinct spec_json->>'periodic_name')::int as distinct_names from task_runs`;
      expect(stats).toEqual({ total: 30, distinct_names: 30 });
    } finally {
      await closeDb(other, 1);
    }
  });
});

describe("beat service", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ flavour: "reproq" });
  });
  afterAll(() => db?.drop());

  test("start ticks at once, stop ends the loop; a database outage is reported, not thrown", async () => {
    const { logger, lines } = await capture();
    await insertPeriodic(db.sql, { name: "svc" });
    const b = new Beat({ sql: db.sql, logger, intervalMs: 60_000 });
    const controller = new AbortController();
    const running = b.start(controller.signal);
    const deadline = performance.now() + 10_000;
    while (performance.now() < deadline) {
      const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs`;
      if (row!.n === 1) break;
      await Bun.sleep(50);
    }
    controller.abort();
    await running;
    await b.stop(); // idempotent
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs`;
    expect(row!.n).toBe(1);
    await Bun.sleep(10);
    expect(lines.some((l) => l.msg === "Enqueued periodic tasks")).toBe(true);

    const dead = createDb({ dsn: db.dsn.replace(/\/[^/?]+\?/, "/reproq_no_such_db?"), env: {}, poolSize: 1, connectTimeoutMs: 2_000, prepare: true });
    const failing = await new Beat({ sql: dead, logger, intervalMs: 1_000 }).tick();
    expect(failing.error).toBeDefined();
    await closeDb(dead, 1);
  });
});
