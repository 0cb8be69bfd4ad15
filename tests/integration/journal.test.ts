// The result journal against a real database: entries are written with the completion fence
// (worker, RUNNING, attempt), unreadable lines are kept aside, the journal is gone afterwards.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { appendJournal, journalPath, replayJournals } from "../../src/worker/journal.ts";
import { memoryLogger, type LogLine } from "../helpers/memory-logger.ts";
import { claimByHand, insertClaimed, readTask, useTaskDatabase } from "../helpers/tasks.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "reproq-journal-it-"));
  dirs.push(dir);
  return dir;
}

describe("result journal replay", () => {
  const sql = useTaskDatabase("reproq");

  test("writes fenced entries, skips a row claimed again since, keeps unreadable lines aside", async () => {
    const dir = tempDir();
    const [ok, failed, reclaimed] = await insertClaimed(sql(), "old-worker", 3);
    if (!ok || !failed || !reclaimed) throw new Error("rows not inserted");
    appendJournal(dir, "old-worker", [
      { kind: "success", completion: { resultId: ok, workerId: "old-worker", attempt: 1, returnJson: '{"n": 1}', logsUri: null, workflowId: null } },
      {
        kind: "failure",
        completion: { resultId: failed, workerId: "old-worker", attempt: 1, error: { kind: "app_error", message: "bad" }, disposition: { type: "terminal" }, lastError: "app_error: bad", logsUri: null },
      },
      { kind: "success", completion: { resultId: reclaimed, workerId: "old-worker", attempt: 1, returnJson: '"late"', logsUri: null, workflowId: null } },
    ]);
    writeFileSync(journalPath(dir, "old-worker"), "{not json\n", { flag: "a" });
    // Meanwhile the third row was requeued and claimed again by the same worker id (attempt 2).
    await sql()`update task_runs set status = 'READY', leased_by = null where result_id = ${reclaimed}::bigint`;
    await claimByHand(sql(), reclaimed, "old-worker");

    const lines: LogLine[] = [];
    await replayJournals({ sql: sql(), logger: memoryLogger(lines), dir, workerId: "new-worker", signal: new AbortController().signal });

    const [a, b, c] = await Promise.all([ok, failed, reclaimed].map((id) => readTask(sql(), id)));
    expect(a?.status).toBe("SUCCESSFUL");
    expect(a?.return_text).toBe('{"n": 1}');
    expect(b?.status).toBe("FAILED");
    expect(b?.last_error).toBe("app_error: bad");
    expect(b?.errors.map((e) => e.kind)).toEqual(["app_error"]);
    expect(c?.status).toBe("RUNNING"); // attempt 2 is not the journalled run
    expect(c?.attempts).toBe(2);
    expect(lines.find((l) => l.msg === "Replayed the result journal")?.attrs).toMatchObject({ written: 2, skipped: 1 });
    expect(lines.some((l) => l.level === "warn" && (l.attrs.result_ids as string[]).includes(reclaimed))).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(["reproq-journal-old-worker.jsonl.invalid"]);
    expect(readFileSync(join(dir, "reproq-journal-old-worker.jsonl.invalid"), "utf8")).toBe("{not json\n");
  });

  test("stopped before the database answers: the journal is put back for the next start", async () => {
    const dir = tempDir();
    const [id] = await insertClaimed(sql(), "w", 1);
    if (!id) throw new Error("row not inserted");
    appendJournal(dir, "w", [{ kind: "success", completion: { resultId: id, workerId: "w", attempt: 1, returnJson: null, logsUri: null } }]);
    const stopped = new AbortController();
    stopped.abort();
    const lines: LogLine[] = [];
    await replayJournals({ sql: sql(), logger: memoryLogger(lines), dir, workerId: "w2", signal: stopped.signal });
    expect(readdirSync(dir)).toEqual(["reproq-journal-w.jsonl"]);
    expect((await readTask(sql(), id)).status).toBe("RUNNING");
    expect(lines.some((l) => l.msg.startsWith("Result journal not replayed"))).toBe(true);
  });

  test("a journal left claimed by a replay that died is taken over and written", async () => {
    const dir = tempDir();
    const [id] = await insertClaimed(sql(), "w", 1);
    if (!id) throw new Error("row not inserted");
    appendJournal(dir, "w", [{ kind: "success", completion: { resultId: id, workerId: "w", attempt: 1, returnJson: '"kept"', logsUri: null } }]);
    // A worker claimed it for replay (the rename), then was killed before it finished.
    const path = journalPath(dir, "w");
    renameSync(path, `${path}.replaying-dead-replayer`);
    await replayJournals({ sql: sql(), logger: memoryLogger([]), dir, workerId: "w3", signal: new AbortController().signal });
    expect(await readTask(sql(), id)).toMatchObject({ status: "SUCCESSFUL", return_text: '"kept"' });
    expect(readdirSync(dir)).toEqual([]);
  });

  test("put back next to a journal written meanwhile: appended, nothing overwritten", async () => {
    const dir = tempDir();
    const [first, second] = await insertClaimed(sql(), "w", 2);
    if (!first || !second) throw new Error("rows not inserted");
    const path = journalPath(dir, "w");
    appendJournal(dir, "w", [{ kind: "success", completion: { resultId: first, workerId: "w", attempt: 1, returnJson: null, logsUri: null } }]);
    renameSync(path, `${path}.replaying-w4`); // this worker's own claim, from a run that died
    appendJournal(dir, "w", [{ kind: "success", completion: { resultId: second, workerId: "w", attempt: 1, returnJson: null, logsUri: null } }]);
    const stopped = new AbortController();
    stopped.abort();
    await replayJournals({ sql: sql(), logger: memoryLogger([]), dir, workerId: "w4", signal: stopped.signal });
    expect(readdirSync(dir)).toEqual(["reproq-journal-w.jsonl"]);
    const ids = readFileSync(path, "utf8").trim().split("\n").map((line) => String((JSON.parse(line) as { result_id: unknown }).result_id));
    expect(ids.sort()).toEqual([first, second].sort());
  });

  test("no directory: nothing to do, nothing logged", async () => {
    const lines: LogLine[] = [];
    await replayJournals({ sql: sql(), logger: memoryLogger(lines), dir: join(tempDir(), "absent"), workerId: "w", signal: new AbortController().signal });
    expect(lines).toEqual([]);
  });
});
