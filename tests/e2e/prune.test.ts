// `reproq prune expired` through the compiled binary on both schemas (Go scenario 67 wording).
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { migrate } from "../../src/db/migrate.ts";
import { runBinary } from "../helpers/binary.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { insertTaskRow } from "../helpers/tasks.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const databases: TestDatabase[] = [];
afterAll(() => Promise.all(databases.map((db) => db.drop())));

describe.each(["reproq", "django"] as const)("reproq prune expired (%s schema)", (flavour) => {
  test("dry run, limit, real run, and a surviving child of a pruned parent", async () => {
    const db = await createTestDatabase({ flavour, label: `e2e_prune_${flavour}` });
    databases.push(db);
    if (flavour === "django") await migrate(db.sql);
    const expire = (id: string, seconds: number) =>
      db.sql`update task_runs set expires_at = now() + make_interval(secs => ${seconds}::float8) where result_id = ${id}::bigint`;
    const parent = await insertTaskRow(db.sql, { status: "SUCCESSFUL" });
    await expire(parent, -120);
    await expire(await insertTaskRow(db.sql, { status: "READY" }), -60);
    await expire(await insertTaskRow(db.sql, { status: "READY" }), 3600);
    await expire(await insertTaskRow(db.sql, { status: "RUNNING" }), -60);
    const child = await insertTaskRow(db.sql, { status: "WAITING", parentId: parent, waitCount: 1 });

    const run = (...args: string[]) => runBinary(["prune", "expired", ...args, "--dsn", db.dsn]);
    expect(await run("--dry-run")).toMatchObject({ exitCode: 0, stdout: "Would prune 2 expired task(s)\n" });
    expect(await run("--dry-run", "--limit", "1")).toMatchObject({ exitCode: 0, stdout: "Would prune 1 expired task(s)\n" });
    expect(await run("--limit", "1")).toMatchObject({ exitCode: 0, stdout: "Pruned 1 expired task(s)\n" });
    expect(await run("--limit", "-1")).toMatchObject({ exitCode: 0, stdout: "Pruned 1 expired task(s)\n" });
    expect(await run()).toMatchObject({ exitCode: 0, stdout: "Pruned 0 expired task(s)\n" });

    const rows = await db.sql<{ id: string; status: string; parent_id: string | null }[]>`
      select result_id::text as id, status, parent_id::text as parent_id from task_runs order by result_id`;
    expect(rows.map((row) => row.status)).toEqual(["READY", "RUNNING", "WAITING"]);
    expect(rows.find((row) => row.id === child)).toMatchObject({ parent_id: null });
  });
});

describe("reproq prune: bad input and help", () => {
  test.each([
    [["prune", "expired", "--limit", "ten"], /invalid value "ten" for flag --limit/],
    [["prune", "expired", "--limit"], /flag --limit needs a value/],
    [["prune", "old"], /unknown command "old" for 'reproq prune'/],
    [["prune"], /missing command for 'reproq prune'/],
  ])("usage error exits 2: %p", async (args, message) => {
    const result = await runBinary(args, { env: { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" } });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  test("--help lists the flags", async () => {
    const help = await runBinary(["prune", "expired", "--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("--limit <n>");
    expect(help.stdout).toContain("--dry-run");
    expect(help.stdout).toContain("Show count without deleting");
  });
});
