// `reproq queue ls|pause|resume` through the compiled binary on Django's schema (no defaults on
// reproq_queue_controls), plus exit codes and bad input.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { migrate } from "../../src/db/migrate.ts";
import { runBinary } from "../helpers/binary.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { enqueue } from "../helpers/worker.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ flavour: "django", label: "e2e_queue" });
  await migrate(db.sql);
});
afterAll(() => db?.drop());

const run = (...args: string[]) => runBinary([...args, "--dsn", db.dsn]);

describe("reproq queue", () => {
  test("ls with no queues anywhere", async () => {
    expect(await run("queue", "ls")).toMatchObject({ exitCode: 0, stdout: "No queues found.\n" });
    expect(await run("queue", "ls", "--json")).toMatchObject({ exitCode: 0, stdout: "[]\n" });
  });

  test("pause / resume print Go-style lines and ls reflects counts and pause state", async () => {
    await enqueue(db.sql, [{ queue: "emails" }, { queue: "emails" }, { queue: "reports" }]);
    await db.sql`update task_runs set status = 'FAILED' where queue_name = 'reports'`;

    const pause = await run("queue", "pause", "emails", "--reason", "smtp outage");
    expect(pause).toMatchObject({ exitCode: 0, stdout: "Paused queue emails\n" });
    const ls = await run("queue", "ls");
    const lines = ls.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("Queue\tReady\tRunning\tWaiting\tFailed\tSuccessful\tCancelled\tOldestReady\tPaused\tReason");
    expect(lines[1]).toMatch(/^emails\t2\t0\t0\t0\t0\t0\t\d+s\tyes\tsmtp outage$/);
    expect(lines[2]).toBe("reports\t0\t0\t0\t1\t0\t0\t–\tno\t–");

    const json = JSON.parse((await run("queue", "ls", "--json")).stdout) as { queue: string; ready: number; paused: boolean; reason: string | null }[];
    expect(json.find((row) => row.queue === "emails")).toMatchObject({ ready: 2, paused: true, reason: "smtp outage" });

    expect(await run("queue", "resume", "emails")).toMatchObject({ exitCode: 0, stdout: "Resumed queue emails\n" });
    const [row] = await db.sql<{ paused: boolean; reason: string | null }[]>`select paused, reason from reproq_queue_controls where queue_name = 'emails'`;
    expect(row).toEqual({ paused: false, reason: null });
  });

  test.each([
    [["queue", "pause"], /missing argument QUEUE/],
    [["queue", "pause", ""], /queue name must not be empty/],
    [["queue", "resume", "a", "b"], /unexpected argument "b"/],
    [["queue", "drain", "x"], /unknown command "drain" for 'reproq queue'/],
    [["queue", "pause", "x", "--reason"], /flag --reason needs a value/],
  ])("usage error exits 2: %p", async (args, message) => {
    const result = await runBinary(args, { env: { DATABASE_URL: db.dsn } });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe("");
  });

  test("--help shows the positional and the flags", async () => {
    const help = await runBinary(["queue", "pause", "--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("Usage: reproq queue pause <QUEUE> [flags]");
    expect(help.stdout).toContain("--reason <text>");
    expect((await runBinary(["queue", "--help"])).stdout).toMatch(/ls[\s\S]*pause[\s\S]*resume/);
  });
});
