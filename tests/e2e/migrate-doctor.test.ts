// `reproq migrate` and `reproq doctor` through the compiled binary, on each starting schema.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { catalogSnapshot, insertTask, rowsAsText } from "../helpers/catalog.ts";
import { runBinary } from "../helpers/binary.ts";
import { createTestDatabase, type Flavour, type TestDatabase } from "../helpers/db.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const databases: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

async function database(flavour: Flavour): Promise<TestDatabase> {
  const db = await createTestDatabase({ flavour, label: `e2e_${flavour}` });
  databases.push(db);
  return db;
}

interface DoctorJson {
  ok: boolean;
  checks: { name: string; status: "ok" | "warn" | "fail"; detail: string }[];
}

async function doctor(dsn: string): Promise<{ exitCode: number; report: DoctorJson }> {
  const result = await runBinary(["doctor", "--dsn", dsn, "--json"]);
  return { exitCode: result.exitCode, report: JSON.parse(result.stdout) as DoctorJson };
}

const flavours: Flavour[] = ["empty", "django", "go", "reproq"];

describe.each(flavours)("reproq migrate on a %s database", (flavour) => {
  test("yields a schema that passes doctor; a second run changes nothing; data survives", async () => {
    const db = await database(flavour);
    if (flavour !== "empty") {
      await insertTask(db.sql, { queue: "emails", status: "FAILED" });
      if (flavour !== "django") {
        // A rate limit set by an operator must survive migrate.
        await db.sql`update rate_limits set tokens_per_second = 5, burst_size = 10, current_tokens = 3 where key = 'global'`;
      }
    }
    const tasksBefore = flavour === "empty" ? [] : await rowsAsText(db.sql, "task_runs", "result_id");

    if (flavour !== "reproq") {
      const before = await doctor(db.dsn);
      expect(before.exitCode).toBe(1);
      expect(before.report.ok).toBe(false);
    }

    const first = await runBinary(["migrate", "--dsn", db.dsn]);
    expect(first.stderr).not.toContain("error");
    expect(first.exitCode).toBe(0);

    const after = await doctor(db.dsn);
    const failures = after.report.checks.filter((check) => check.status === "fail");
    expect(failures).toEqual([]);
    expect(after.exitCode).toBe(0);
    expect(after.report.checks.map((check) => check.name)).toEqual(
      expect.arrayContaining(["dsn", "connect", "server version", "table task_runs", "columns of task_runs", "index idx_task_runs_spec_unique", "trigger trg_task_runs_notify_insert", "migrations"]),
    );

    const snapshot = await catalogSnapshot(db.sql);
    const second = await runBinary(["migrate", "--dsn", db.dsn]);
    expect(second.exitCode).toBe(0);
    expect(second.stderr).toContain("schema is up to date");
    expect(await catalogSnapshot(db.sql)).toEqual(snapshot);

    expect(flavour === "empty" ? [] : await rowsAsText(db.sql, "task_runs", "result_id")).toEqual(tasksBefore);
    const [global] = await db.sql<{ rate: number; burst: number; current: number }[]>`
      select tokens_per_second as rate, burst_size as burst, current_tokens as current from rate_limits where key = 'global'`;
    expect(global).toEqual(flavour === "empty" || flavour === "django" ? { rate: 0, burst: 1, current: 0 } : { rate: 5, burst: 10, current: 3 });
  });
});

describe("reproq migrate --dry-run", () => {
  test("lists the pending migrations and creates nothing", async () => {
    const db = await database("empty");
    const result = await runBinary(["migrate", "--dry-run", "--dsn", db.dsn]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain("would apply 0001_tables.sql");
    expect(result.stdout).toContain("CREATE TABLE IF NOT EXISTS task_runs");
    const [row] = await db.sql<{ count: number }[]>`
      select count(*)::int as count from pg_class where relname in ('task_runs', 'reproq_schema_migrations')`;
    expect(row?.count).toBe(0);
  });
});

describe("doctor and migrate failures", () => {
  test("an unreachable database: one clear line, exit 1, within the connect timeout", async () => {
    const started = performance.now();
    const result = await runBinary(["migrate", "--dsn", "postgres://postgres@127.0.0.1:1/nothing", "--connect-timeout", "3s"]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim().split("\n")[0]).toContain("cannot connect to PostgreSQL at 127.0.0.1:1/nothing as postgres");
    expect(result.stderr).not.toContain("    at ");
    expect(performance.now() - started).toBeLessThan(15_000);
  });

  test("no DSN anywhere: exit 2 with the Go worker's message", async () => {
    const result = await runBinary(["migrate"], { cwd: "/" });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("DSN required (use --dsn, DATABASE_URL, or config file)");
  });

  test("doctor reports a bad DSN and bad settings as failed checks (exit 1)", async () => {
    const result = await runBinary(["doctor", "--json", "--dsn", "mysql://nope"], { env: { REPROQ_CONCURRENCY: "0" } });
    expect(result.exitCode).toBe(1);
    const report = JSON.parse(result.stdout) as DoctorJson;
    expect(report.ok).toBe(false);
    expect(report.checks).toContainEqual({ name: "config", status: "fail", detail: "worker.concurrency must be an integer ≥ 1, got 0 (from REPROQ_CONCURRENCY)" });
    expect(report.checks.find((check) => check.name === "dsn")?.status).toBe("fail");
  });
});
