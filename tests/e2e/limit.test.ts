// `reproq limit set|ls|rm` through the compiled binary: Go's output strings, exit codes, bad input.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrate } from "../../src/db/migrate.ts";
import { runBinary } from "../helpers/binary.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ flavour: "django", label: "e2e_limit" });
  await migrate(db.sql);
});
afterAll(() => db?.drop());

const run = (...args: string[]) => runBinary([...args, "--dsn", db.dsn]);

describe("reproq limit", () => {
  test("set prints Go's line and refills; ls is TSV when piped; rm counts", async () => {
    const set = await run("limit", "set", "--key", "queue:emails", "--rate", "5", "--burst", "10");
    expect(set).toMatchObject({ exitCode: 0, stdout: "Set rate limit queue:emails: 5.00 tokens/sec, burst 10\n" });
    const fractional = await run("limit", "set", "--key=task:a.b", "--rate=0.125", "--burst=3");
    expect(fractional.stdout).toBe("Set rate limit task:a.b: 0.13 tokens/sec, burst 3\n");

    await db.sql`update rate_limits set current_tokens = 0, last_refilled_at = now() - interval '1 second' where key = 'queue:emails'`;
    const ls = await run("limit", "ls");
    expect(ls.exitCode).toBe(0);
    const lines = ls.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("Key\tTokens/s\tBurst\tCurrent\tLastRefill");
    expect(lines.slice(1).map((line) => line.split("\t")[0])).toEqual(["global", "queue:emails", "task:a.b"]);
    const emails = lines.find((line) => line.startsWith("queue:emails\t"))!.split("\t");
    expect(emails.slice(1, 3)).toEqual(["5.00", "10"]);
    const current = Number(emails[3]);
    expect(current).toBeGreaterThanOrEqual(5); // refilled: 0 stored + ≥1 s × 5/s, not the stored 0
    expect(current).toBeLessThanOrEqual(10);
    expect(emails[4]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(lines.find((line) => line.startsWith("global\t"))).toMatch(/^global\t0\.00\t1\t0\.00\t/);

    const json = await run("limit", "ls", "--json");
    const parsed = JSON.parse(json.stdout) as { key: string; burst_size: number; current_tokens: number; stored_tokens: number }[];
    expect(parsed.find((row) => row.key === "queue:emails")).toMatchObject({ burst_size: 10, stored_tokens: 0 });

    expect(await run("limit", "rm", "--key", "queue:emails")).toMatchObject({ exitCode: 0, stdout: "Deleted 1 rate limit(s) for queue:emails\n" });
    expect(await run("limit", "rm", "--key", "queue:emails")).toMatchObject({ exitCode: 0, stdout: "Deleted 0 rate limit(s) for queue:emails\n" });
  });

  test("ls on an empty table says so", async () => {
    await db.sql`delete from rate_limits`;
    expect(await run("limit", "ls")).toMatchObject({ exitCode: 0, stdout: "No rate limits configured.\n" });
    expect(await run("limit", "ls", "--json")).toMatchObject({ exitCode: 0, stdout: "[]\n" });
  });

  test.each([
    [["limit", "set", "--rate", "1", "--burst", "1"], /flag --key is required/],
    [["limit", "set", "--key", "", "--rate", "1"], /--key must not be empty/],
    [["limit", "set", "--key", "k", "--rate", "1", "--burst", "-1"], /burst_size must be > 0/],
    [["limit", "set", "--key", "k", "--burst", "0"], /burst_size must be > 0/],
    [["limit", "set", "--key", "k", "--rate", "-0.5"], /tokens_per_second must be >= 0/],
    [["limit", "set", "--key", "k", "--rate", "fast"], /invalid value "fast" for flag --rate/],
    [["limit", "set", "--key", "k", "--burst", "1.5"], /invalid value "1.5" for flag --burst/],
    [["limit", "rm"], /flag --key is required/],
    [["limit", "frobnicate"], /unknown command "frobnicate" for 'reproq limit'/],
    [["limit"], /missing command for 'reproq limit'/],
    [["limit", "ls", "--bogus"], /unknown flag --bogus/],
  ])("usage error exits 2 and changes nothing: %p", async (args, message) => {
    await db.sql`delete from rate_limits where key = 'k'`;
    const result = await runBinary(args, { env: { DATABASE_URL: db.dsn } });
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(message);
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from rate_limits where key = 'k'`;
    expect(row!.n).toBe(0);
  });

  test("--help lists the subcommands and flags; no DSN is a clear runtime error", async () => {
    const help = await runBinary(["limit", "--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("set");
    expect(help.stdout).toContain("ls");
    expect(help.stdout).toContain("rm");
    const setHelp = await runBinary(["limit", "set", "--help"]);
    expect(setHelp.stdout).toMatch(/--key <key>[\s\S]*--rate <tokens\/s>[\s\S]*--burst <n>/);
    const root = await runBinary(["--help"]);
    expect(root.stdout).toMatch(/\blimit\b/);
    // An empty directory: /tmp may hold anybody's reproq.yaml.
    const noDsn = await runBinary(["limit", "ls"], { cwd: mkdtempSync(join(tmpdir(), "reproq-limit-")) });
    expect(noDsn.exitCode).not.toBe(0);
    expect(noDsn.stderr).toContain("DSN required");
  });
});
