// `reproq replay` through the compiled binary: Go's success wording, conflicts as one line
// (exit 1, no driver error), a task that is itself still active, ambiguous spec hashes (several
// runs, or a prefix of several hashes: candidates listed, exit 1, nothing inserted), --latest,
// upper-case hashes and prefixes, a positional id or hash, not found (exit 1), bad input (exit 2).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { runBinary } from "../helpers/binary.ts";
import { randomHash } from "../helpers/catalog.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { claimByHand, insertTaskRow } from "../helpers/tasks.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ flavour: "reproq", label: "e2e_replay" });
});
afterAll(() => db?.drop());

const run = (...args: string[]) => runBinary([...args, "--dsn", db.dsn]);

/** A finished row with this hash, finished `agoSeconds` before now (DB clock). */
async function finishedRow(hash: string, status: string, agoSeconds: number): Promise<string> {
  const id = await insertTaskRow(db.sql, { status });
  await db.sql`update task_runs set spec_hash = ${hash}, finished_at = now() - make_interval(secs => ${agoSeconds}::float8)
               where result_id = ${id}::bigint`;
  return id;
}

async function rowCount(): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs`;
  return row!.n;
}

const READY_COPY = /^Requeued task (\d+) \(spec_hash ([0-9a-f]{64})\) as new result_id (\d+)\n$/;

describe("reproq replay (binary)", () => {
  test("--help shows the flags; exactly one of --id/--spec-hash/ID, else exit 2", async () => {
    const help = await runBinary(["replay", "--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("--spec-hash");
    expect(help.stdout).toContain("--latest");
    expect(help.stdout).toContain("Result ID to replay");
    const cases = [[], ["--id", "1", "--spec-hash", "abcdef12"], ["--id", "0"], ["--id", "-3"], ["7", "--id", "7"], ["7", "--spec-hash", "abcdef12"]];
    for (const args of cases) {
      const result = await runBinary(["replay", ...args, "--dsn", "postgres://nobody@127.0.0.1:1/none"]);
      expect(result.exitCode, args.join(" ")).toBe(2);
      expect(result.stderr).toMatch(/Provide exactly one of --id, --spec-hash or a TASK argument|--id must be a positive integer/);
    }
  });

  test("bad hashes and --latest without a hash are usage errors (exit 2) before connecting", async () => {
    const cases: [string[], RegExp][] = [
      [["--spec-hash", "abc123"], /--spec-hash needs at least 8 hex characters, got "abc123"/],
      [["--spec-hash", "xyz12345678"], /--spec-hash must be hex digits \(0-9, a-f\), got "xyz12345678"/],
      [["--spec-hash", "a".repeat(65)], /--spec-hash is at most 64 hex characters/],
      [["--id", "5", "--latest"], /--latest applies to a spec hash/],
      [["zz"], /argument "zz" is neither a result id \(digits\) nor a spec hash/],
    ];
    for (const [args, message] of cases) {
      const result = await runBinary(["replay", ...args, "--dsn", "postgres://nobody@127.0.0.1:1/none"]);
      expect(result.exitCode, args.join(" ")).toBe(2);
      expect(result.stderr).toMatch(message);
    }
  });

  test("--id and a unique --spec-hash: Go's wording; the copy is READY", async () => {
    const source = await insertTaskRow(db.sql, { status: "SUCCESSFUL" });
    const byId = await run("replay", "--id", source);
    expect(byId.exitCode).toBe(0);
    const match = /^Requeued task (\d+) as new result_id (\d+)\n$/.exec(byId.stdout);
    expect(match?.[1]).toBe(source);
    const [copy] = await db.sql<{ status: string }[]>`select status from task_runs where result_id = ${match![2]!}::bigint`;
    expect(copy!.status).toBe("READY");

    const hash = randomHash();
    const only = await finishedRow(hash, "FAILED", 60);
    const byHash = await run("replay", "--spec-hash", hash);
    expect(byHash.exitCode).toBe(0);
    expect(byHash.stdout).toMatch(new RegExp(`^Requeued task ${only} \\(spec_hash ${hash}\\) as new result_id \\d+\\n$`));
  });

  test("two runs of one spec_hash: ambiguous, candidates listed, exit 1, nothing inserted; --latest picks the most recently finished", async () => {
    const hash = randomHash();
    const newerFinish = await finishedRow(hash, "FAILED", 60); // lower id, finished later
    const olderFinish = await finishedRow(hash, "SUCCESSFUL", 3600); // highest id, finished earlier
    const before = await rowCount();

    const ambiguous = await run("replay", "--spec-hash", hash);
    expect(ambiguous.exitCode).toBe(1);
    expect(ambiguous.stdout).toBe("");
    const lines = ambiguous.stderr.trimEnd().split("\n");
    expect(lines[0]).toBe(`error: spec_hash ${hash} matches 2 tasks; add --latest to replay the most recently finished one, or choose one with --id`);
    expect(lines[1]).toMatch(/^ {2}ID +STATUS +FINISHED$/);
    expect(lines[2]).toMatch(new RegExp(`^  ${newerFinish} +FAILED +\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$`));
    expect(lines[3]).toMatch(new RegExp(`^  ${olderFinish} +SUCCESSFUL +\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$`));
    expect(lines).toHaveLength(4);
    expect(await rowCount()).toBe(before);

    const latest = await run("replay", "--spec-hash", hash, "--latest");
    expect(latest.exitCode).toBe(0);
    const made = READY_COPY.exec(latest.stdout);
    expect(made?.[1]).toBe(newerFinish); // not the highest id
    expect(made?.[2]).toBe(hash);
    expect(await rowCount()).toBe(before + 1);

    // Now a READY copy holds the spec: --latest still picks a finished run and reports the copy.
    const conflict = await run("replay", "--spec-hash", hash, "--latest");
    expect(conflict.exitCode).toBe(1);
    expect(conflict.stderr.trim()).toBe(`error: task ${newerFinish} is already queued as #${made![3]}`);
    expect(conflict.stderr).not.toContain("duplicate key");
  });

  test("upper-case hashes and unique prefixes (≥ 8 hex characters) find the row; a positional hash or id works too", async () => {
    const hash = randomHash();
    const source = await finishedRow(hash, "SUCCESSFUL", 30);
    const upper = await run("replay", "--spec-hash", hash.toUpperCase());
    expect(upper.exitCode, upper.stderr).toBe(0);
    expect(READY_COPY.exec(upper.stdout)?.slice(1, 3)).toEqual([source, hash]);
    await db.sql`update task_runs set status = 'CANCELLED' where spec_hash = ${hash} and status = 'READY'`;

    const prefix = await run("replay", "--spec-hash", hash.slice(0, 8).toUpperCase(), "--latest");
    expect(prefix.exitCode, prefix.stderr).toBe(0);
    expect(READY_COPY.exec(prefix.stdout)?.[2]).toBe(hash);
    await db.sql`update task_runs set status = 'CANCELLED' where spec_hash = ${hash} and status = 'READY'`;

    const positionalHash = await run("replay", hash.slice(0, 12), "--latest");
    expect(positionalHash.exitCode, positionalHash.stderr).toBe(0);
    expect(READY_COPY.exec(positionalHash.stdout)?.[2]).toBe(hash);

    const other = await insertTaskRow(db.sql, { status: "FAILED" });
    const positionalId = await run("replay", other);
    expect(positionalId.exitCode, positionalId.stderr).toBe(0);
    expect(positionalId.stdout).toMatch(new RegExp(`^Requeued task ${other} as new result_id \\d+\\n$`));
  });

  test("a prefix matching two different hashes is ambiguous, even with --latest", async () => {
    const shared = "feedc0de";
    const first = `${shared}${randomHash().slice(8)}`;
    const second = `${shared}${randomHash().slice(8)}`;
    const a = await finishedRow(first, "SUCCESSFUL", 10);
    const b = await finishedRow(second, "FAILED", 20);
    const before = await rowCount();
    for (const extra of [[], ["--latest"]]) {
      const result = await run("replay", "--spec-hash", shared, ...extra);
      expect(result.exitCode).toBe(1);
      const lines = result.stderr.trimEnd().split("\n");
      expect(lines[0]).toBe(`error: spec_hash prefix ${shared} matches 2 different hashes; give more characters, or choose one with --id`);
      expect(lines[1]).toMatch(/^ {2}ID +STATUS +FINISHED +SPEC_HASH$/);
      expect(lines[2]).toMatch(new RegExp(`^  ${a} +SUCCESSFUL +\\S+Z +${first}$`));
      expect(lines[3]).toMatch(new RegExp(`^  ${b} +FAILED +\\S+Z +${second}$`));
    }
    expect(await rowCount()).toBe(before);
  });

  test("replaying a task that is itself still READY or RUNNING says so (not 'already queued as' itself)", async () => {
    const running = await insertTaskRow(db.sql);
    await claimByHand(db.sql, running, "w1");
    const result = await run("replay", "--id", running);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim()).toBe(`error: task ${running} is still RUNNING; nothing replayed (replay it once it has finished)`);

    const ready = await insertTaskRow(db.sql, { status: "READY" });
    const queued = await run("replay", ready);
    expect(queued.exitCode).toBe(1);
    expect(queued.stderr.trim()).toBe(`error: task ${ready} is still queued (READY); nothing replayed`);
  });

  test("unknown id or hash: exit 1, one line", async () => {
    const id = await run("replay", "--id", "99999999");
    expect(id.exitCode).toBe(1);
    expect(id.stderr.trim()).toBe("error: task 99999999 not found");
    const hash = await run("replay", "--spec-hash", "0".repeat(64));
    expect(hash.exitCode).toBe(1);
    expect(hash.stderr.trim()).toBe(`error: no task with spec_hash ${"0".repeat(64)}`);
    const prefix = await run("replay", "--spec-hash", "00000000");
    expect(prefix.exitCode).toBe(1);
    expect(prefix.stderr.trim()).toBe("error: no task with a spec_hash starting with 00000000");
  });

  test("a long candidate list is cut at 10 lines with a count of the rest", async () => {
    const hash = randomHash();
    for (let i = 0; i < 12; i++) await finishedRow(hash, "SUCCESSFUL", 100 + i);
    const result = await run("replay", "--spec-hash", hash);
    expect(result.exitCode).toBe(1);
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines[0]).toContain("matches 12 tasks");
    expect(lines).toHaveLength(1 + 1 + 10 + 1);
    expect(lines.at(-1)).toBe("  … and 2 more");
  });
});
