// `reproq enqueue` through the compiled binary, like a user (or a script) runs it.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { migrate } from "../../src/db/migrate.ts";
import { CONTRACT_SPEC_CANONICAL, CONTRACT_SPEC_HASH } from "../../src/spec/contract.ts";
import { runBinary } from "../helpers/binary.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const CONTRACT_ARGS = [
  "contracts.example_task",
  "--args", '[1, {"nested": true}]',
  "--kwargs", '{"amount": "12.34", "notes": "hello", "token": "123e4567-e89b-12d3-a456-426614174000"}',
  "--queue", "default",
  "--priority", "5",
  "--lock-key", "user:123",
  "--concurrency-key", "account:42",
  "--concurrency-limit", "2",
  "--run-after", "2025-01-01T12:00:00+00:00",
  "--code-ref", "abc123",
  "--pip-lock-hash", "deadbeef",
];

describe.each(["reproq", "django"] as const)("reproq enqueue (%s schema)", (flavour) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ flavour, label: `e2e_enqueue_${flavour}` });
    if (flavour === "django") await migrate(db.sql);
  });
  afterAll(() => db?.drop());

  test("the contract arguments store the contract spec and hash; the id alone goes to stdout", async () => {
    const result = await runBinary(["enqueue", ...CONTRACT_ARGS, "--dsn", db.dsn]);
    expect(result.stderr).toContain("Enqueued task");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^\d+\n$/);
    const id = result.stdout.trim();
    const [row] = await db.sql<{ hash: string; spec_json: unknown; status: string; run_after_ok: boolean }[]>`
      select rtrim(spec_hash) as hash, spec_json, status, run_after = '2025-01-01T12:00:00Z'::timestamptz as run_after_ok
      from task_runs where result_id = ${id}::bigint`;
    expect(row?.hash).toBe(CONTRACT_SPEC_HASH);
    expect(row?.spec_json).toEqual(JSON.parse(CONTRACT_SPEC_CANONICAL));
    expect(row?.status).toBe("READY");
    expect(row?.run_after_ok).toBe(true);

    const again = await runBinary(["enqueue", ...CONTRACT_ARGS, "--dsn", db.dsn]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toBe(`${id}\n`);
    expect(again.stderr).toContain(`Task already queued as #${id}`);
  });

  test("--json prints {created, task} with the row", async () => {
    const result = await runBinary(["enqueue", "app.tasks.report", "--kwargs", '{"day": "2026-01-01", "ratio": 1.0}', "--queue", "reports", "--json", "--dsn", db.dsn]);
    expect(result.exitCode).toBe(0);
    const doc = JSON.parse(result.stdout) as { created: boolean; task: Record<string, unknown> };
    expect(doc.created).toBe(true);
    expect(doc.task).toMatchObject({ queue_name: "reports", status: "READY", task_path: "app.tasks.report", priority: 0, max_attempts: 3, timeout_seconds: 900 });
    expect((doc.task.spec_hash as string).length).toBe(64);
    // 1.0 stays a float, as Python's json.loads/json.dumps would keep it.
    const [row] = await db.sql<{ t: string }[]>`select spec_json->'kwargs'->>'ratio' as t from task_runs where result_id = ${doc.task.result_id as string}::bigint`;
    expect(row?.t).toBe("1.0");
  });

  test("--run-after +5m is computed from the database clock", async () => {
    const result = await runBinary(["enqueue", "app.tasks.later", "--run-after", "+5m", "--dsn", db.dsn]);
    expect(result.exitCode).toBe(0);
    const [row] = await db.sql<{ delta: number; spec_run_after: string; same: boolean }[]>`
      select extract(epoch from run_after - now())::float8 as delta, spec_json->>'run_after' as spec_run_after,
        (spec_json->>'run_after')::timestamptz = run_after as same
      from task_runs where result_id = ${result.stdout.trim()}::bigint`;
    expect(row!.delta).toBeGreaterThan(280);
    expect(row!.delta).toBeLessThan(301);
    expect(row!.spec_run_after).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?\+00:00$/);
    expect(row!.same).toBe(true);
  });
});

describe("reproq enqueue: usage errors exit 2 before connecting", () => {
  // No DSN anywhere: a usage error must be reported before the missing DSN is.
  const cases: [string[], string][] = [
    [["app.tasks.x", "--args", "{not json"], "--args must be a JSON array, got invalid JSON"],
    [["app.tasks.x", "--args", '{"a": 1}'], "--args must be a JSON array, got an object"],
    [["app.tasks.x", "--kwargs", "[1]"], "--kwargs must be a JSON object, got an array"],
    [["app.tasks.x", "--kwargs", '{"priority": 3}'], '--kwargs key "priority" is reserved by the backend: use --priority instead'],
    [["app.tasks.x", "--priority", "high"], '--priority must be an integer, got "high"'],
    [["app.tasks.x", "--priority", "1.5"], '--priority must be an integer, got "1.5"'],
    [["app.tasks.x", "--max-attempts", "0"], "--max-attempts must be between 1 and"],
    [["app.tasks.x", "--timeout", "-1"], "--timeout must be between 1 and"],
    [["app.tasks.x", "--run-after", "tomorrow"], '--run-after must be an ISO 8601 time with an offset (2026-01-01T12:00:00Z) or +DURATION (+30s, +5m, +2h), got "tomorrow"'],
    [["app.tasks.x", "--run-after", "2026-01-01T12:00:00"], "naive date-time"],
    [["app.tasks.x", "--run-after", "+5 minutes"], "--run-after must be"],
    [["app.tasks.x", "--concurrency-limit", "2"], "--concurrency-limit needs --concurrency-key"],
    [["app.tasks.x", "--args", '["\\u0000"]'], "NUL character"],
    [["app.tasks.x", "--args", '["\\ud800"]'], "unpaired surrogate"],
    [["not a path"], "TASK_PATH must be a dotted Python path"],
    [[], "missing argument TASK_PATH"],
    [["app.tasks.x", "--bogus"], "unknown flag --bogus"],
  ];
  test.each(cases)("%j", async (argv, message) => {
    const result = await runBinary(["enqueue", ...argv]);
    expect(result.stderr).toContain(message);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).not.toContain("    at "); // no stack trace
  });

  test("--help lists the flags and exits 0", async () => {
    const result = await runBinary(["enqueue", "--help"]);
    expect(result.exitCode).toBe(0);
    for (const flag of ["--args", "--kwargs", "--queue", "--priority", "--run-after", "--lock-key", "--concurrency-key", "--concurrency-limit", "--max-attempts", "--timeout", "--json", "--dsn"]) {
      expect(result.stdout).toContain(flag);
    }
  });

  test("enqueue is listed in the top-level help", async () => {
    const result = await runBinary(["--help"]);
    expect(result.stdout).toContain("enqueue");
  });
});
