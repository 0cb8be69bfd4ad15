// `reproq beat` as a user runs it: the compiled binary against a real Postgres.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { migrate } from "../../src/db/migrate.ts";
import { cleanEnv, ensureBinary, ROOT, runBinary } from "../helpers/binary.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ flavour: "django", label: "beat_e2e" });
  await migrate(db.sql);
});
afterAll(() => db?.drop());

async function addPeriodic(name: string, cron: string, payload = '{"args":[],"kwargs":{}}'): Promise<void> {
  await db.sql`
    insert into periodic_tasks (name, cron_expr, task_path, payload_json, queue_name, priority, max_attempts,
      concurrency_key, concurrency_limit, last_run_at, next_run_at, enabled, created_at, updated_at)
    values (${name}, ${cron}, 'myapp.tasks.tick', ${payload}::text::jsonb, 'default', 0, 3, null, 0, null,
      date_trunc('second', now()) - interval '30 minutes', true, now(), now())`;
}

async function reset(): Promise<void> {
  await db.sql`delete from task_runs`;
  await db.sql`delete from periodic_tasks`;
}

const jsonLines = (text: string) => text.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Record<string, unknown>);

describe("reproq beat --once", () => {
  test("enqueues due rows, logs the Go messages, exits 0", async () => {
    await reset();
    await addPeriodic("a", "* * * * *");
    await addPeriodic("b", "CRON_TZ=America/New_York 0 9 * * mon-fri");
    const run = await runBinary(["beat", "--once", "--dsn", db.dsn, "--log-format", "json"]);
    expect(run.exitCode).toBe(0);
    const logs = jsonLines(run.stdout);
    const messages = logs.map((l) => l.msg);
    expect(messages).toEqual(["Starting reproq beat", "Enqueued periodic tasks", "Beat run complete"]);
    expect(logs[0]).toMatchObject({ level: "INFO", interval: 30_000_000_000, once: true, worker_id: "beat", role: "beat" });
    expect(logs[1]).toMatchObject({ count: 2 });
    expect(logs[2]).toMatchObject({ once: true, enqueued: 2, failed: 0 });
    const [count] = await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs where status = 'READY'`;
    expect(count!.n).toBe(2);

    const again = await runBinary(["beat", "--once", "--dsn", db.dsn, "--log-format", "json"]);
    expect(again.exitCode).toBe(0);
    expect(jsonLines(again.stdout).map((l) => l.msg)).toEqual(["Starting reproq beat", "Beat run complete"]);
  });

  test("a bad row: good rows still enqueue, one clear error, exit 1", async () => {
    await reset();
    await addPeriodic("good", "@hourly");
    await addPeriodic("feb30", "0 0 30 2 *");
    const run = await runBinary(["beat", "--once", "--dsn", db.dsn, "--log-format", "json"], { env: { REPROQ_PROCESS_ROLE: "scheduler" } });
    expect(run.exitCode).toBe(1);
    const logs = jsonLines(run.stdout);
    const rowError = logs.find((l) => l.name === "feb30");
    expect(rowError).toMatchObject({ level: "ERROR", cron_expr: "0 0 30 2 *", error: "cron expression never matches (e.g. Feb 30): 0 0 30 2 *" });
    expect(logs.find((l) => l.msg === "Enqueued periodic tasks")).toMatchObject({ count: 1, worker_id: "scheduler", role: "scheduler" });
    expect(logs.at(-1)).toMatchObject({ msg: "Beat run complete", failed: 1 });
  });

  test("--interval must be positive; no DSN is a usage error; an unreachable database exits 1", async () => {
    for (const interval of ["0", "0s", "-5s", "soon"]) {
      const run = await runBinary(["beat", "--once", "--dsn", db.dsn, "--interval", interval]);
      expect(run.exitCode).toBe(2);
      expect(run.stderr).toContain("interval");
    }
    const noDsn = await runBinary(["beat", "--once"]);
    expect(noDsn.exitCode).toBe(2);
    expect(noDsn.stderr).toContain("DSN required");
    const down = await runBinary(["beat", "--once", "--dsn", "postgres://nobody@127.0.0.1:1/none", "--connect-timeout", "2s", "--log-format", "json"]);
    expect(down.exitCode).toBe(1);
    expect(jsonLines(down.stdout)[0]).toMatchObject({ level: "ERROR", msg: "Failed to open database" });
  });

  test("beat is listed in --help", async () => {
    const help = await runBinary(["--help"]);
    expect(help.stdout).toContain("beat");
    const beatHelp = await runBinary(["beat", "--help"]);
    expect(beatHelp.exitCode).toBe(0);
    expect(beatHelp.stdout).toContain("--once");
    expect(beatHelp.stdout).toContain("--interval");
  });
});

describe("reproq beat (long-running)", () => {
  test("ticks every interval and exits 0 on SIGTERM after the tick", async () => {
    await reset();
    await addPeriodic("loop", "* * * * *");
    const child = Bun.spawn([ensureBinary(), "beat", "--dsn", db.dsn, "--interval", "200ms", "--log-format", "json"], {
      cwd: ROOT, env: cleanEnv(), stdout: "pipe", stderr: "pipe", stdin: "ignore",
    });
    const stdout = new Response(child.stdout).text();
    const deadline = performance.now() + 15_000;
    for (;;) {
      const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs`;
      if (row!.n >= 1) break;
      if (performance.now() > deadline) throw new Error("beat enqueued nothing");
      await Bun.sleep(50);
    }
    await Bun.sleep(500); // a few more ticks: nothing else is due
    child.kill("SIGTERM");
    expect(await child.exited).toBe(0);
    const messages = jsonLines(await stdout).map((l) => l.msg);
    expect(messages[0]).toBe("Starting reproq beat");
    expect(messages.filter((m) => m === "Enqueued periodic tasks")).toHaveLength(1);
    expect(messages.at(-1)).toBe("Shutting down beat");
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs`;
    expect(row!.n).toBe(1);
  });
});
