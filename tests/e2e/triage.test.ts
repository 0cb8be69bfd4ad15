// `reproq triage` through the compiled binary: output wording scripts parse, exit codes, help,
// and bad input rejected before any connection (exit 2).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { taskCompleteFailure } from "../../src/queue/complete.ts";
import { runBinary } from "../helpers/binary.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { insertChain, insertClaimed, insertTaskRow, readTask } from "../helpers/tasks.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ flavour: "django", label: "e2e_triage" });
  const { migrate } = await import("../../src/db/migrate.ts");
  await migrate(db.sql);
});
afterAll(() => db?.drop());

const run = (...args: string[]) => runBinary([...args, "--dsn", db.dsn]);

async function fail(id: string, exceptionClass = "ValueError", message = "boom"): Promise<void> {
  const ok = await taskCompleteFailure(db.sql, {
    resultId: id,
    workerId: "w1",
    error: { kind: "app_error", message, exception_class: exceptionClass, traceback: "Traceback (most recent call last):\n  File \"app.py\", line 3\nValueError: boom" },
    disposition: { type: "terminal" },
    lastError: `${exceptionClass}: ${message}`,
    logsUri: "/var/log/reproq/task.log",
  });
  expect(ok).toBe(true);
}

async function failedTask(queue = "default", exceptionClass = "ValueError"): Promise<string> {
  const [id] = await insertClaimed(db.sql, "w1", 1, { queue, maxAttempts: 1 });
  await fail(id!, exceptionClass);
  return id!;
}

describe("reproq triage (binary)", () => {
  test("--help lists the subcommands; list --help shows --limit with its default", async () => {
    const help = await runBinary(["triage", "--help"]);
    expect(help.exitCode).toBe(0);
    for (const name of ["list", "inspect", "retry", "discard", "summary"]) expect(help.stdout).toContain(name);
    const list = await runBinary(["triage", "list", "--help"]);
    expect(list.stdout).toContain("--limit");
    expect(list.stdout).toContain("default 50");
    expect(list.stdout).toContain("--json");
    const root = await runBinary(["--help"]);
    for (const name of ["triage", "replay", "cancel"]) expect(root.stdout).toContain(name);
  });

  test("bad input exits 2 with one clear line, before connecting", async () => {
    const cases: [string[], string][] = [
      [["triage", "list", "--limit", "-5"], '--limit must be a positive integer, got "-5"'],
      [["triage", "list", "--limit", "abc"], "--limit must be a positive integer"],
      [["triage", "retry", "--id", "1", "--all"], "Provide exactly one of --id or --all"],
      [["triage", "retry"], "Provide --id or --all"],
      [["triage", "discard", "--id", "1", "--all"], "Provide exactly one of --id or --all"],
      [["triage", "retry", "--id", "1", "--queue", "q"], "--queue and --task-path only apply with --all"],
      [["triage", "inspect"], "Provide --id"],
      [["triage", "inspect", "--id", "x1"], '--id must be a positive integer, got "x1"'],
      [["triage", "list", "--bogus"], "unknown flag --bogus"],
    ];
    for (const [args, message] of cases) {
      const result = await runBinary([...args, "--dsn", "postgres://nobody@127.0.0.1:1/none"]);
      expect(result.exitCode, args.join(" ")).toBe(2);
      expect(result.stderr).toContain(message);
      expect(result.stdout).toBe("");
    }
  });

  test("list: `No failed tasks.` when empty; TSV header and rows otherwise; --json", async () => {
    const empty = await run("triage", "list", "--queue", "e2e-empty");
    expect(empty).toMatchObject({ exitCode: 0, stdout: "No failed tasks.\n" });

    const id = await failedTask("e2e-list");
    const listed = await run("triage", "list", "--queue", "e2e-list");
    expect(listed.exitCode).toBe(0);
    const lines = listed.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("ID\tQueue\tTask\tAttempts\tFailedAt\tLastError");
    const cells = lines[1]!.split("\t");
    expect(cells.slice(0, 4)).toEqual([id, "e2e-list", "tasks.example.run", "1/1"]);
    expect(cells[5]).toBe("ValueError: boom");

    const json = await run("triage", "list", "--queue", "e2e-list", "--json");
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ result_id: id, last_error: "ValueError: boom" })]);
  });

  test("inspect: spec, every error with traceback, logs path; unknown or not FAILED → exit 1", async () => {
    const id = await failedTask("e2e-inspect");
    const shown = await run("triage", "inspect", "--id", id);
    expect(shown.exitCode).toBe(0);
    expect(shown.stdout).toContain(`Result ID: ${id}\nQueue: e2e-inspect\nTask Path: tasks.example.run\nStatus: FAILED\nAttempts: 1/1\n`);
    expect(shown.stdout).toContain("Last Error: ValueError: boom");
    expect(shown.stdout).toContain("Logs URI: /var/log/reproq/task.log");
    expect(shown.stdout).toContain('    "task_path": "tasks.example.run"');
    expect(shown.stdout).toContain("Errors (1):");
    expect(shown.stdout).toContain("        Traceback (most recent call last):");

    const json = JSON.parse((await run("triage", "inspect", "--id", id, "--json")).stdout);
    expect(json).toMatchObject({ result_id: id, status: "FAILED", logs_uri: "/var/log/reproq/task.log" });

    const missing = await run("triage", "inspect", "--id", "99999999");
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr.trim()).toBe("error: task 99999999 not found");
    const ready = await insertTaskRow(db.sql);
    const notFailed = await run("triage", "inspect", "--id", ready);
    expect(notFailed.exitCode).toBe(1);
    expect(notFailed.stderr).toContain(`task ${ready} is READY, not FAILED`);
  });

  test("retry --id: Go wording, restores chain descendants, conflicts and non-FAILED rows exit 1", async () => {
    const [head, child] = await insertChain(db.sql, "w1", 2);
    await fail(head!);
    const blocked = await run("triage", "retry", "--id", child!);
    expect(blocked.exitCode).toBe(1);
    expect(blocked.stderr.trim()).toBe(`error: task ${child} waits for task #${head} (FAILED); retry #${head} to requeue both`);
    const retried = await run("triage", "retry", "--id", head!);
    expect(retried.exitCode).toBe(0);
    expect(retried.stdout).toBe(`Retried 1 task(s)\nRestored 1 dependent task(s) to WAITING: ${child}\n`);
    expect((await readTask(db.sql, child!)).status).toBe("WAITING");

    const again = await run("triage", "retry", "--id", head!);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain(`No failed tasks updated: task ${head} is READY, not FAILED`);

    const unknown = await run("triage", "retry", "--id", "99999999");
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toContain("task 99999999 not found");

    const failed = await failedTask("e2e-conflict");
    const active = await insertTaskRow(db.sql);
    await db.sql`update task_runs set spec_hash = (select spec_hash from task_runs where result_id = ${failed}::bigint) where result_id = ${active}::bigint`;
    const conflict = await run("triage", "retry", "--id", failed);
    expect(conflict.exitCode).toBe(1);
    expect(conflict.stderr.trim()).toBe(`error: task ${failed} is already queued as #${active}`);
    expect(conflict.stderr).not.toContain("duplicate key");
  });

  test("retry --all: counts with skips; `No failed tasks updated.` when nothing matches", async () => {
    const ids = [await failedTask("e2e-all"), await failedTask("e2e-all"), await failedTask("e2e-all")];
    const active = await insertTaskRow(db.sql);
    await db.sql`update task_runs set spec_hash = (select spec_hash from task_runs where result_id = ${ids[1]!}::bigint) where result_id = ${active}::bigint`;
    const result = await run("triage", "retry", "--all", "--queue", "e2e-all");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(`task ${ids[1]} is already queued as #${active}\nretried 2, skipped 1\n`);

    await db.sql`update task_runs set status = 'CANCELLED' where result_id = ${ids[1]!}::bigint`;
    await failedTask("e2e-all-2");
    expect((await run("triage", "retry", "--all", "--queue", "e2e-all-2")).stdout).toBe("Retried 1 task(s)\n");
    expect((await run("triage", "retry", "--all", "--queue", "e2e-none")).stdout).toBe("No failed tasks updated.\n");
  });

  test("discard: FAILED → CANCELLED with the reason; summary groups failures", async () => {
    const a = await failedTask("e2e-discard");
    const b = await failedTask("e2e-discard");
    const one = await run("triage", "discard", "--id", a, "--reason", "bad input");
    expect(one).toMatchObject({ exitCode: 0, stdout: "Discarded 1 task(s)\n" });
    expect(await readTask(db.sql, a)).toMatchObject({ status: "CANCELLED", last_error: "bad input" });
    const rest = await run("triage", "discard", "--all", "--queue", "e2e-discard");
    expect(rest.stdout).toBe("Discarded 1 task(s)\n");
    expect(await readTask(db.sql, b)).toMatchObject({ status: "CANCELLED", last_error: "discarded by operator" });
    expect((await run("triage", "discard", "--all", "--queue", "e2e-discard")).stdout).toBe("No failed tasks discarded.\n");
    expect((await run("triage", "discard", "--id", a)).exitCode).toBe(1);

    await db.sql`update task_runs set status = 'CANCELLED' where status = 'FAILED'`;
    expect((await run("triage", "summary")).stdout).toBe("No failed tasks.\n");
    await failedTask("e2e-summary", "KeyError");
    await failedTask("e2e-summary", "KeyError");
    const summary = await run("triage", "summary");
    const lines = summary.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("Task\tException\tCount\tFirstSeen\tLastSeen");
    expect(lines[1]!.split("\t").slice(0, 3)).toEqual(["tasks.example.run", "KeyError", "2"]);
    expect(JSON.parse((await run("triage", "summary", "--json")).stdout)).toEqual([
      expect.objectContaining({ task_path: "tasks.example.run", exception_class: "KeyError", count: 2 }),
    ]);
  });
});
