// taskEnqueue and friends on our schema, on Django's schema after `reproq migrate`, and on a bare
// Django schema (no column defaults, no unique index on spec_hash: dedup relies on the advisory
// lock alone).

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Sql } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";
import { clockIsoAfter, enqueueRowFromSpec, taskEnqueue, taskFindActiveBySpecHash, taskGet, taskInsertReady, type EnqueueRow } from "../../src/queue/enqueue.ts";
import { buildTaskSpec, CONTRACT_SPEC_CANONICAL, CONTRACT_SPEC_HASH, type TaskSpecInput } from "../../src/spec/index.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

type Schema = "reproq" | "django" | "django-bare";
const SCHEMAS: readonly Schema[] = ["reproq", "django", "django-bare"];

function rowFor(input: TaskSpecInput): EnqueueRow {
  return enqueueRowFromSpec(buildTaskSpec(input));
}

const CONTRACT_INPUT: TaskSpecInput = {
  taskPath: "contracts.example_task",
  args: [1, { nested: true }],
  kwargs: { amount: "12.34", notes: "hello", token: "123e4567-e89b-12d3-a456-426614174000" },
  priority: 5,
  lockKey: "user:123",
  concurrencyKey: "account:42",
  concurrencyLimit: 2,
  runAfter: "2025-01-01T12:00:00+00:00",
  codeRef: "abc123",
  pipLockHash: "deadbeef",
};

describe.each(SCHEMAS)("taskEnqueue (%s schema)", (schema) => {
  let db: TestDatabase | undefined;
  const sql = (): Sql => {
    if (!db) throw new Error("no database");
    return db.sql;
  };
  beforeAll(async () => {
    db = await createTestDatabase({ flavour: schema === "reproq" ? "reproq" : "django" });
    if (schema === "django") await migrate(db.sql);
  });
  afterAll(() => db?.drop());

  test("inserts a READY row with every column the backend writes", async () => {
    const row = rowFor(CONTRACT_INPUT);
    expect(row.specText).toBe(CONTRACT_SPEC_CANONICAL);
    const result = await taskEnqueue(sql(), row);
    expect(result.created).toBe(true);
    const [stored] = await sql()<Record<string, unknown>[]>`
      select *, spec_json::text as spec_text, rtrim(spec_hash) as hash,
        run_after = '2025-01-01T12:00:00+00:00'::timestamptz as run_after_ok,
        enqueued_at > now() - interval '1 minute' as recent,
        created_at = enqueued_at and updated_at = enqueued_at as same_times
      from task_runs where result_id = ${result.resultId}::bigint`;
    expect(stored).toBeDefined();
    const r = stored!;
    expect(r.hash).toBe(CONTRACT_SPEC_HASH);
    expect(r.spec_json).toEqual(JSON.parse(CONTRACT_SPEC_CANONICAL));
    expect(typeof r.spec_json).toBe("object"); // not a double-encoded JSON string
    expect(r).toMatchObject({
      backend_alias: "default",
      queue_name: "default",
      priority: 5,
      task_path: "contracts.example_task",
      status: "READY",
      attempts: 0,
      max_attempts: 3,
      timeout_seconds: 900,
      lock_key: "user:123",
      concurrency_key: "account:42",
      concurrency_limit: 2,
      wait_count: 0,
      worker_ids: [],
      errors_json: [],
      metadata_json: {},
      cancel_requested: false,
      expires_at: null,
      parent_id: null,
      workflow_id: null,
      leased_by: null,
      leased_until: null,
      started_at: null,
      last_error: null,
      return_json: null,
      run_after_ok: true,
      recent: true,
      same_times: true,
    });
  });

  test("an active identical spec is returned, not duplicated; a finished one is not", async () => {
    const row = rowFor({ taskPath: "app.tasks.dedup", args: [1] });
    const first = await taskEnqueue(sql(), row);
    const second = await taskEnqueue(sql(), row);
    expect(first.created).toBe(true);
    expect(second).toEqual({ resultId: first.resultId, created: false });

    await sql()`update task_runs set status = 'RUNNING' where result_id = ${first.resultId}::bigint`;
    expect(await taskEnqueue(sql(), row)).toEqual({ resultId: first.resultId, created: false });

    await sql()`update task_runs set status = 'SUCCESSFUL' where result_id = ${first.resultId}::bigint`;
    const third = await taskEnqueue(sql(), row);
    expect(third.created).toBe(true);
    expect(third.resultId).not.toBe(first.resultId);

    const other = await taskEnqueue(sql(), rowFor({ taskPath: "app.tasks.dedup", args: [2] }));
    expect(other.created).toBe(true);
  });

  test("concurrent identical enqueues create exactly one row", async () => {
    const row = rowFor({ taskPath: "app.tasks.race", kwargs: { n: 1 } });
    const results = await Promise.all(Array.from({ length: 12 }, () => taskEnqueue(sql(), row)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.resultId)).size).toBe(1);
    const [{ count }] = (await sql()`select count(*)::int as count from task_runs where spec_hash = ${row.specHash}`) as unknown as [{ count: number }];
    expect(count).toBe(1);
  });

  test("spec text with non-ASCII and escapes is stored as the same JSON value", async () => {
    const row = rowFor({ taskPath: "app.tasks.text", kwargs: { s: 'é 😀 "q" \\ \n\t\u001f <&>' } });
    const { resultId } = await taskEnqueue(sql(), row);
    const task = await taskGet(sql(), { resultId });
    expect(task?.spec_json).toEqual(JSON.parse(row.specText));
    expect(task?.spec_hash).toBe(row.specHash);
  });

  test("taskGet returns the row (hash trimmed) or null", async () => {
    const row = rowFor({ taskPath: "app.tasks.get", queueName: "emails", priority: -3, timeoutSeconds: 60, maxAttempts: 1 });
    const { resultId } = await taskEnqueue(sql(), row);
    const task = await taskGet(sql(), { resultId });
    expect(task).toMatchObject({ result_id: resultId, queue_name: "emails", priority: -3, timeout_seconds: 60, max_attempts: 1, status: "READY", spec_hash: row.specHash, run_after: null });
    expect(await taskGet(sql(), { resultId: "999999999" })).toBeNull();
  });

  test("run_after keeps the spec's microseconds (not rounded through a JS Date)", async () => {
    const row = rowFor({ taskPath: "app.tasks.micro", runAfter: "2026-01-01T12:00:00.123456+00:00" });
    const { resultId } = await taskEnqueue(sql(), row);
    const [stored] = await sql()<{ same: boolean }[]>`
      select run_after = (spec_json->>'run_after')::timestamptz and run_after = '2026-01-01T12:00:00.123456Z'::timestamptz as same
      from task_runs where result_id = ${resultId}::bigint`;
    expect(stored?.same).toBe(true);
  });

  test("taskFindActiveBySpecHash ignores other hashes", async () => {
    expect(await taskFindActiveBySpecHash(sql(), { specHash: "0".repeat(64) })).toBeNull();
  });

  if (schema !== "django-bare") {
    test("the unique partial index turns a duplicate insert (without the lock) into null", async () => {
      const row = rowFor({ taskPath: "app.tasks.conflict" });
      expect(await taskInsertReady(sql(), row)).not.toBeNull();
      expect(await taskInsertReady(sql(), row)).toBeNull();
    });
  }
});

describe("clockIsoAfter", () => {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase({ flavour: "empty" });
  });
  afterAll(() => db?.drop());

  test("database clock + seconds, as Python isoformat in UTC", async () => {
    const sql = db!.sql;
    const text = await clockIsoAfter(sql, { seconds: 90 });
    expect(text).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?\+00:00$/);
    expect(text).not.toContain(".000000");
    const [row] = (await sql`select extract(epoch from (${text}::timestamptz - now()))::float8 as delta`) as unknown as [{ delta: number }];
    expect(row.delta).toBeGreaterThan(89);
    expect(row.delta).toBeLessThan(91);
  });
});
