// `reproq triage retry|discard` in bulk and the CLI habits, through the compiled binary: --dry-run,
// the summary lines, a row locked elsewhere reported (not waited for), operator-cancelled
// failures left out unless --include-cancelled, a progress bar on a real terminal (script(1)),
// the task id as an argument (`triage inspect 6`, `cancel 6`), and `reproq help [command]`.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { cleanEnv, ensureBinary, runBinary } from "../helpers/binary.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { seedFailedRows } from "../helpers/failed-seed.ts";
import { claimByHand, insertTaskRow, readTask } from "../helpers/tasks.ts";

setDefaultTimeout(60_000);

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ flavour: "reproq", label: "e2e_triage_bulk" });
});
afterAll(() => db?.drop());

const run = (...args: string[]) => runBinary([...args, "--dsn", db.dsn]);
const NO_DB = "postgres://nobody@127.0.0.1:1/none";

async function statuses(ids: readonly string[]): Promise<Record<string, number>> {
  const rows = await db.sql<{ status: string; n: number }[]>`
    select status, count(*)::int as n from task_runs where result_id = any(${ids}::bigint[]) group by status`;
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

describe("triage retry/discard in bulk (binary)", () => {
  test("retry --all --dry-run reports the plan and changes nothing; the real run matches it", async () => {
    const ids = await seedFailedRows(db.sql, { count: 5, queue: "e2e-dry" });
    const active = await insertTaskRow(db.sql);
    await db.sql`update task_runs set spec_hash = (select spec_hash from task_runs where result_id = ${ids[2]!}::bigint) where result_id = ${active}::bigint`;
    const cancelled = await seedFailedRows(db.sql, { count: 2, queue: "e2e-dry", kind: "cancelled" });

    const dry = await run("triage", "retry", "--all", "--queue", "e2e-dry", "--dry-run");
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toBe(
      `task ${ids[2]} is already queued as #${active}\n` +
        "Dry run: would retry 4 task(s), skip 1; nothing changed\n" +
        "Left 2 task(s) an operator cancelled as they are; add --include-cancelled to retry them too\n",
    );
    expect(await statuses([...ids, ...cancelled])).toEqual({ FAILED: 7 });

    const real = await run("triage", "retry", "--all", "--queue", "e2e-dry");
    expect(real.exitCode).toBe(0);
    expect(real.stdout).toBe(
      `task ${ids[2]} is already queued as #${active}\n` +
        "retried 4, skipped 1\n" +
        "Left 2 task(s) an operator cancelled as they are; add --include-cancelled to retry them too\n",
    );
    expect(real.stderr).toBe(""); // no progress bar when stderr is not a terminal
    expect(await statuses(cancelled)).toEqual({ FAILED: 2 });
    const withCancelled = await run("triage", "retry", "--all", "--queue", "e2e-dry", "--include-cancelled");
    expect(withCancelled.stdout).toBe(`task ${ids[2]} is already queued as #${active}\nretried 2, skipped 1\n`);
    expect(await statuses(cancelled)).toEqual({ READY: 2 });
  });

  test("a row locked by another session is reported, not waited for", async () => {
    const ids = await seedFailedRows(db.sql, { count: 4, queue: "e2e-locked" });
    const session = await db.sql.reserve();
    try {
      await session`begin`;
      await session`select 1 from task_runs where result_id = ${ids[1]!}::bigint for update`;
      const started = performance.now();
      const result = await run("triage", "retry", "--all", "--queue", "e2e-locked");
      expect(performance.now() - started).toBeLessThan(20_000);
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe(`task ${ids[1]} is locked by another transaction; left as it was (run the command again)\nretried 3, skipped 1\n`);
      const one = await run("triage", "discard", ids[1]!);
      expect(one.exitCode).toBe(1);
      expect(one.stderr.trim()).toBe(`error: task ${ids[1]} is locked by another transaction; try again`);
    } finally {
      await session`rollback`;
      session.release();
    }
    expect(await statuses(ids)).toEqual({ READY: 3, FAILED: 1 });
  });

  test("discard --dry-run changes nothing; discard --all then reports the count", async () => {
    const ids = await seedFailedRows(db.sql, { count: 3, queue: "e2e-discard-dry" });
    const dry = await run("triage", "discard", "--all", "--queue", "e2e-discard-dry", "--dry-run");
    expect(dry).toMatchObject({ exitCode: 0, stdout: "Dry run: would discard 3 task(s); nothing changed\n" });
    expect(await statuses(ids)).toEqual({ FAILED: 3 });
    expect((await run("triage", "discard", "--all", "--queue", "e2e-discard-dry")).stdout).toBe("Discarded 3 task(s)\n");
    expect(await statuses(ids)).toEqual({ CANCELLED: 3 });
  });

  test("Ctrl-C stops between batches: the committed batches are reported, exit 130", async () => {
    const ids = await seedFailedRows(db.sql, { count: 5_000, queue: "e2e-sigint" });
    // Every UPDATE of task_runs takes 0.2 s, so the run lasts long enough to interrupt.
    await db.sql.unsafe(`
      create function test_slow_update() returns trigger language plpgsql as $$ begin perform pg_sleep(0.2); return null; end $$;
      create trigger test_slow_update after update on task_runs for each statement execute function test_slow_update();`);
    try {
      const child = Bun.spawn([ensureBinary(), "triage", "retry", "--all", "--queue", "e2e-sigint", "--dsn", db.dsn], { env: cleanEnv(), stdout: "pipe", stderr: "pipe", stdin: "ignore" });
      const output = Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
      while (((await statuses(ids)).READY ?? 0) === 0) await Bun.sleep(20);
      child.kill("SIGINT");
      const [stdout, stderr, exitCode] = await output;
      expect(stderr).toBe("");
      expect(exitCode).toBe(130);
      const retried = Number(/^Retried (\d+) task\(s\)$/m.exec(stdout)?.[1]);
      expect(stdout).toBe(`Stopped by Ctrl-C between two batches: what is counted below is committed; run the command again to retry the rest\nRetried ${retried} task(s)\n`);
      expect(retried % 1_000).toBe(0);
      expect(retried).toBeLessThan(5_000);
      expect(await statuses(ids)).toEqual({ READY: retried, FAILED: 5_000 - retried });
    } finally {
      await db.sql.unsafe("drop trigger test_slow_update on task_runs; drop function test_slow_update();");
    }
  });

  test("on a terminal: a progress bar on stderr, then the summary line", async () => {
    await seedFailedRows(db.sql, { count: 2_500, queue: "e2e-tty" });
    // script(1) gives the binary a real pseudo-terminal; stdout and stderr both land in its output.
    const command = [ensureBinary(), "triage", "retry", "--all", "--queue", "e2e-tty", "--dsn", db.dsn].map((a) => `'${a}'`).join(" ");
    const child = Bun.spawn(["script", "-qec", command, "/dev/null"], { env: cleanEnv({ TERM: "xterm", COLUMNS: "100" }), stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const [out, exitCode] = await Promise.all([new Response(child.stdout).text(), child.exited]);
    expect(exitCode).toBe(0);
    expect(out).toContain("retrying");
    expect(out).toMatch(/1,000\/2,500/);
    expect(out).toMatch(/2,500\/2,500 100%/);
    expect(out).toMatch(/retried 2,500 of 2,500 in \d+\.\d s/);
    expect(out).toContain("Retried 2500 task(s)");
  });
});

describe("CLI habits (binary)", () => {
  test("the task id as an argument: triage inspect/retry/discard N and cancel N", async () => {
    const [a, b] = await seedFailedRows(db.sql, { count: 2, queue: "e2e-positional" });
    const shown = await run("triage", "inspect", a!);
    expect(shown.exitCode).toBe(0);
    expect(shown.stdout).toContain(`Result ID: ${a}\n`);
    expect(await run("triage", "retry", a!)).toMatchObject({ exitCode: 0, stdout: "Retried 1 task(s)\n" });
    expect(await run("triage", "discard", b!, "--reason", "dup")).toMatchObject({ exitCode: 0, stdout: "Discarded 1 task(s)\n" });
    expect(await readTask(db.sql, b!)).toMatchObject({ status: "CANCELLED", last_error: "dup" });
    const running = await insertTaskRow(db.sql);
    await claimByHand(db.sql, running, "w1");
    expect(await run("cancel", running)).toMatchObject({ exitCode: 0, stdout: `Cancellation requested for task ${running}\n` });
    // The same id twice is fine; two different ids, a bad id, or an id with --all are usage errors.
    expect((await run("triage", "inspect", a!, "--id", a!)).exitCode).toBe(1); // a is READY now: not FAILED
    const cases: [string[], string][] = [
      [["triage", "inspect", "6", "--id", "7"], "two different ids: 6 and --id 7; give one"],
      [["triage", "inspect", "abc"], 'the task id must be a positive integer, got "abc"'],
      [["triage", "retry", "6", "--all"], "Provide exactly one of --id or --all"],
      [["triage", "retry", "6", "--include-cancelled"], "--include-cancelled only applies with --all"],
      [["cancel", "0"], 'the task id must be a positive integer, got "0"'],
      [["triage", "inspect", "6", "7"], 'unexpected argument "7"'],
    ];
    for (const [args, message] of cases) {
      const result = await runBinary([...args, "--dsn", NO_DB]);
      expect(result.exitCode, args.join(" ")).toBe(2);
      expect(result.stderr).toContain(message);
    }
  });

  test("reproq help, reproq help triage, reproq help triage retry", async () => {
    const root = await runBinary(["help"]);
    expect(root.exitCode).toBe(0);
    expect(root.stdout).toBe((await runBinary(["--help"])).stdout);
    expect(root.stdout).toContain("help");
    const triage = await runBinary(["help", "triage"]);
    expect(triage.exitCode).toBe(0);
    expect(triage.stdout).toBe((await runBinary(["triage", "--help"])).stdout);
    const retry = await runBinary(["help", "triage", "retry"]);
    expect(retry.exitCode).toBe(0);
    expect(retry.stdout).toContain("reproq triage retry [ID] [flags]");
    expect(retry.stdout).toContain("--dry-run");
    expect(retry.stdout).toContain("--include-cancelled");
    const unknown = await runBinary(["help", "nosuch"]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('unknown command "nosuch"');
  });
});
