// `reproq cancel` through the compiled binary: each starting status, unknown id, bad input.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { runBinary } from "../helpers/binary.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { claimByHand, insertTaskRow, readTask } from "../helpers/tasks.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ flavour: "reproq", label: "e2e_cancel" });
});
afterAll(() => db?.drop());

const run = (...args: string[]) => runBinary([...args, "--dsn", db.dsn]);

describe("reproq cancel (binary)", () => {
  test("--help; missing or bad --id exits 2", async () => {
    expect((await runBinary(["cancel", "--help"])).stdout).toContain("Result ID to cancel");
    const missing = await runBinary(["cancel", "--dsn", "postgres://nobody@127.0.0.1:1/none"]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("Provide --id");
    const bad = await runBinary(["cancel", "--id", "abc", "--dsn", "postgres://nobody@127.0.0.1:1/none"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--id must be a positive integer, got "abc"');
  });

  test("RUNNING: `Cancellation requested for task N`", async () => {
    const id = await insertTaskRow(db.sql);
    await claimByHand(db.sql, id, "w1");
    const result = await run("cancel", "--id", id);
    expect(result).toMatchObject({ exitCode: 0, stdout: `Cancellation requested for task ${id}\n` });
    expect(await readTask(db.sql, id)).toMatchObject({ status: "RUNNING", cancel_requested: true });
  });

  test("READY and WAITING: `Cancelled task N`, status CANCELLED", async () => {
    for (const status of ["READY", "WAITING"]) {
      const id = await insertTaskRow(db.sql, { status, waitCount: status === "WAITING" ? 1 : 0 });
      const result = await run("cancel", "--id", id);
      expect(result).toMatchObject({ exitCode: 0, stdout: `Cancelled task ${id}\n` });
      expect((await readTask(db.sql, id)).status).toBe("CANCELLED");
    }
  });

  test("finished or unknown: one line, exit 1", async () => {
    for (const status of ["SUCCESSFUL", "FAILED", "CANCELLED"]) {
      const id = await insertTaskRow(db.sql, { status });
      const result = await run("cancel", "--id", id);
      expect(result.exitCode).toBe(1);
      expect(result.stderr.trim()).toBe(`error: task ${id} is already ${status}; nothing to cancel`);
    }
    const unknown = await run("cancel", "--id", "99999999");
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr.trim()).toBe("error: task 99999999 not found");
  });
});
