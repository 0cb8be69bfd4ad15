// `reproq replay` through the compiled binary: Go's success wording, conflicts as one line
// (exit 1, no driver error), not found (exit 1), bad input (exit 2).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { runBinary } from "../helpers/binary.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { claimByHand, insertTaskRow } from "../helpers/tasks.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ flavour: "reproq", label: "e2e_replay" });
});
afterAll(() => db?.drop());

const run = (...args: string[]) => runBinary([...args, "--dsn", db.dsn]);

describe("reproq replay (binary)", () => {
  test("--help shows both flags; exactly one of --id/--spec-hash, else exit 2", async () => {
    const help = await runBinary(["replay", "--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("--spec-hash");
    expect(help.stdout).toContain("Result ID to replay");
    for (const args of [[], ["--id", "1", "--spec-hash", "abc"], ["--id", "0"], ["--id", "-3"]]) {
      const result = await runBinary(["replay", ...args, "--dsn", "postgres://nobody@127.0.0.1:1/none"]);
      expect(result.exitCode, args.join(" ")).toBe(2);
      expect(result.stderr).toMatch(/Provide exactly one of --id or --spec-hash|--id must be a positive integer/);
    }
  });

  test("--id and --spec-hash: Go's wording; the copy is READY", async () => {
    const source = await insertTaskRow(db.sql, { status: "SUCCESSFUL" });
    const byId = await run("replay", "--id", source);
    expect(byId.exitCode).toBe(0);
    const match = /^Requeued task (\d+) as new result_id (\d+)\n$/.exec(byId.stdout);
    expect(match?.[1]).toBe(source);
    const [copy] = await db.sql<{ status: string; hash: string }[]>`select status, rtrim(spec_hash) as hash from task_runs where result_id = ${match![2]!}::bigint`;
    expect(copy!.status).toBe("READY");

    // The copy is READY now, so a replay of the same spec conflicts: one clear line, exit 1.
    const conflict = await run("replay", "--spec-hash", copy!.hash);
    expect(conflict.exitCode).toBe(1);
    expect(conflict.stderr.trim()).toBe(`error: task ${match![2]} is already queued as #${match![2]}`);
    expect(conflict.stderr).not.toContain("duplicate key");

    await db.sql`update task_runs set status = 'SUCCESSFUL' where result_id = ${match![2]!}::bigint`;
    const byHash = await run("replay", "--spec-hash", copy!.hash);
    expect(byHash.exitCode).toBe(0);
    expect(byHash.stdout).toMatch(new RegExp(`^Requeued task ${match![2]} \\(spec_hash ${copy!.hash}\\) as new result_id \\d+\\n$`));
  });

  test("replaying a RUNNING task names itself as the active copy", async () => {
    const running = await insertTaskRow(db.sql);
    await claimByHand(db.sql, running, "w1");
    const result = await run("replay", "--id", running);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`task ${running} is already queued as #${running}`);
  });

  test("unknown id or hash: exit 1, one line", async () => {
    const id = await run("replay", "--id", "99999999");
    expect(id.exitCode).toBe(1);
    expect(id.stderr.trim()).toBe("error: task 99999999 not found");
    const hash = await run("replay", "--spec-hash", "0".repeat(64));
    expect(hash.exitCode).toBe(1);
    expect(hash.stderr.trim()).toBe(`error: no task with spec_hash ${"0".repeat(64)}`);
  });
});
