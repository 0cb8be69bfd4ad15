// `reproq prune expired` (Go scenario 67 wording) and `reproq prune --finished-older-than`
// (retention by age and status, batched, progress on a terminal) through the compiled binary on
// both schemas.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { migrate } from "../../src/db/migrate.ts";
import { BINARY, cleanEnv, ensureBinary, runBinary } from "../helpers/binary.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { insertFinishedRow, insertTaskRow, type TaskRowOptions } from "../helpers/tasks.ts";

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
    [["prune", "--dry-run"], /missing command for 'reproq prune'.*--finished-older-than/],
    [["prune", "--finished-older-than", "soon"], /invalid value "soon" for flag --finished-older-than: expected a duration like 14d, 12h or 90m/],
    [["prune", "--finished-older-than", "0s"], /--finished-older-than must be > 0/],
    [["prune", "--finished-older-than", "14d", "--status", "SUCCESSFUL,RUNNING"], /--status may only name SUCCESSFUL, FAILED, CANCELLED \(READY, RUNNING and WAITING rows are never pruned\), got "SUCCESSFUL,RUNNING"/],
    [["prune", "--finished-older-than", "14d", "--status", ""], /--status may only name/],
    [["prune", "--finished-older-than", "14d", "--batch-size", "0"], /--batch-size must be an integer between 1 and 50000, got "0"/],
    [["prune", "--finished-older-than", "14d", "--limit", "x"], /invalid value "x" for flag --limit/],
  ])("usage error exits 2: %p", async (args, message) => {
    const result = await runBinary(args, { env: { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" } });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  test("--help lists the flags (prune and prune expired)", async () => {
    const retention = await runBinary(["prune", "--help"]);
    expect(retention.exitCode).toBe(0);
    for (const flag of ["--finished-older-than <age>", "--status <A,B>", "--limit <n>", "--batch-size <n>", "--dry-run", "expired"]) expect(retention.stdout).toContain(flag);

    const help = await runBinary(["prune", "expired", "--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("--limit <n>");
    expect(help.stdout).toContain("--dry-run");
    expect(help.stdout).toContain("Show count without deleting");
  });
});

const DAY = 86_400;
const FINISHED_BEFORE = /finished before (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)/;

const insertFinished = (db: TestDatabase, status: string, daysAgo: number | null, row: TaskRowOptions = {}) =>
  insertFinishedRow(db.sql, status, daysAgo === null ? null : daysAgo * DAY, row);

describe.each(["reproq", "django"] as const)("reproq prune --finished-older-than (%s schema)", (flavour) => {
  test("dry run, status filter, limit and batches, then the rest; active rows and recent rows stay; children detached", async () => {
    const db = await createTestDatabase({ flavour, label: `e2e_retention_${flavour}` });
    databases.push(db);
    if (flavour === "django") await migrate(db.sql);
    const parent = await insertFinished(db, "FAILED", 20);
    const child = await insertFinished(db, "FAILED", 1, { parentId: parent });
    for (const days of [15, 16, 17]) await insertFinished(db, "SUCCESSFUL", days);
    await insertFinished(db, "CANCELLED", 40);
    const keep = [
      child,
      await insertFinished(db, "SUCCESSFUL", 13),
      await insertFinished(db, "READY", 30), // retried: keeps an old finished_at
      await insertFinished(db, "RUNNING", 30),
      await insertFinished(db, "WAITING", 30),
      await insertFinished(db, "SUCCESSFUL", null),
    ];
    const run = (...args: string[]) => runBinary(["prune", "--finished-older-than", "14d", ...args, "--dsn", db.dsn]);

    const dry = await run("--dry-run");
    expect(dry).toMatchObject({ exitCode: 0, stderr: "" });
    expect(dry.stdout).toMatch(/^Would prune 5 task\(s\) finished before \S+ \(SUCCESSFUL, FAILED, CANCELLED\)\n$/);
    const cutoff = new Date(FINISHED_BEFORE.exec(dry.stdout)![1]!);
    expect(Math.abs(Date.now() - 14 * DAY * 1000 - cutoff.getTime())).toBeLessThan(120_000);

    const some = await run("--status", "successful", "--limit", "2", "--batch-size", "1");
    expect(some.exitCode, some.stderr).toBe(0);
    expect(some.stdout).toMatch(/^Pruned 2 task\(s\) finished before \S+ \(SUCCESSFUL\) in 2 batch\(es\), \d+\.\ds\n$/);

    const rest = await run("--batch-size", "1000");
    expect(rest.exitCode, rest.stderr).toBe(0);
    expect(rest.stdout).toMatch(/^Pruned 3 task\(s\) finished before \S+ \(SUCCESSFUL, FAILED, CANCELLED\) in 1 batch\(es\), \d+\.\ds; detached 1 child row\(s\) from pruned parents\n$/);
    expect((await run()).stdout).toMatch(/^Pruned 0 task\(s\)/);

    const rows = await db.sql<{ id: string; parent_id: string | null }[]>`select result_id::text as id, parent_id::text as parent_id from task_runs order by result_id`;
    expect(rows.map((r) => r.id)).toEqual(keep.toSorted((a, b) => Number(a) - Number(b)));
    expect(rows.find((r) => r.id === child)?.parent_id).toBeNull();
  });
});

describe("reproq prune --finished-older-than on a terminal", () => {
  test("shows progress on stderr while it works, then the summary", async () => {
    const db = await createTestDatabase({ flavour: "reproq", label: "e2e_retention_tty" });
    databases.push(db);
    await db.sql`
      insert into task_runs (spec_json, spec_hash, status, finished_at, task_path)
      select '{"task_path":"tasks.x"}'::jsonb, md5(i::text) || md5((i + 1)::text), 'SUCCESSFUL', now() - interval '30 days', 'tasks.x'
      from generate_series(1, 2500) as i`;
    ensureBinary();
    const command = `${BINARY} prune --finished-older-than 14d --batch-size 500 --dsn '${db.dsn}'`;
    const child = Bun.spawn(["script", "-qec", command, "/dev/null"], { env: cleanEnv({ TERM: "xterm" }), stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const [output, exitCode] = await Promise.all([new Response(child.stdout).text(), child.exited]);
    expect(exitCode, output).toBe(0);
    expect(output).toContain("Counting");
    expect(output).toMatch(/Pruning .*2,500\/2,500 +100%/); // the shared bulk progress bar (src/cli/progress.ts)
    expect(output).toMatch(/Pruned 2500 task\(s\) finished before \S+ \(SUCCESSFUL, FAILED, CANCELLED\) in 5 batch\(es\)/);
    const [left] = await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs`;
    expect(left!.n).toBe(0);
  });
});
