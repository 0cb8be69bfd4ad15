// Replay on both schemas: a full READY copy (every NOT NULL column written; Django's schema has no
// defaults), spec_hash resolution (Go scenario 66 made explicit: several runs or several hashes are
// ambiguous; "latest" is the most recently finished run), and conflicts reported with the active id
// and the source's status instead of a duplicate-key error.

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Queryable } from "../../src/db/client.ts";
import { replayTask, resolveSpecHash, taskReplayInsert } from "../../src/queue/replay.ts";
import { claimByHand, insertTaskRow, TASK_SCHEMAS, useTaskDatabase } from "../helpers/tasks.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

async function setRow(sql: Queryable, resultId: string, hash: string, status: string): Promise<void> {
  await sql`update task_runs set spec_hash = ${hash}, status = ${status} where result_id = ${resultId}::bigint`;
}

async function finishAgo(sql: Queryable, resultId: string, seconds: number): Promise<void> {
  await sql`update task_runs set finished_at = now() - make_interval(secs => ${seconds}::float8) where result_id = ${resultId}::bigint`;
}

async function countRows(sql: Queryable): Promise<number> {
  const [row] = await sql<{ count: number }[]>`select count(*)::int as count from task_runs`;
  return row!.count;
}

describe.each(TASK_SCHEMAS)("replay (%s schema)", (schema) => {
  const sql = useTaskDatabase(schema);

  test("by id: a fresh READY copy with the source's spec, queue and limits and clean run state", async () => {
    const source = await insertTaskRow(sql(), { queue: "replays", status: "FAILED", attempts: 3, maxAttempts: 5, metadata: { progress: 1 }, logsUri: "/x.log" });
    await sql()`update task_runs set priority = 7, lock_key = 'lk', concurrency_key = 'ck', concurrency_limit = 2,
      errors_json = '[{"kind":"app_error"}]', worker_ids = '["w"]', parent_id = null, expires_at = now() + interval '1 day'
      where result_id = ${source}::bigint`;
    const outcome = await replayTask(sql(), { resultId: source });
    expect(outcome.sourceId).toBe(source);
    expect(outcome.activeId).toBeNull();
    const [copy] = await sql()<Record<string, unknown>[]>`
      select t.*, t.spec_hash = s.spec_hash as same_hash, t.spec_json = s.spec_json as same_spec,
             abs(extract(epoch from now() - t.enqueued_at)) < 30 as fresh
      from task_runs t, task_runs s where t.result_id = ${outcome.newId}::bigint and s.result_id = ${source}::bigint`;
    expect(copy).toMatchObject({
      status: "READY", queue_name: "replays", priority: 7, attempts: 0, max_attempts: 5, timeout_seconds: 900,
      lock_key: "lk", concurrency_key: "ck", concurrency_limit: 2, wait_count: 0, worker_ids: [], errors_json: [],
      metadata_json: {}, return_json: null, last_error: null, logs_uri: null, parent_id: null, workflow_id: null,
      expires_at: null, run_after: null, cancel_requested: false, backend_alias: "default", task_path: "tasks.example.run",
      same_hash: true, same_spec: true, fresh: true,
    });
  });

  test("Go scenario 66, made explicit: two runs of one hash are ambiguous; latest = most recently finished, not highest id", async () => {
    const hash = "a".repeat(30); // CHAR(64) pads it; the lookup compares in SQL
    const finishedLater = await insertTaskRow(sql());
    const finishedEarlier = await insertTaskRow(sql());
    await setRow(sql(), finishedLater, hash, "FAILED");
    await setRow(sql(), finishedEarlier, hash, "SUCCESSFUL");
    await finishAgo(sql(), finishedLater, 60);
    await finishAgo(sql(), finishedEarlier, 3600);

    const ambiguous = await resolveSpecHash(sql(), { hashPrefix: hash, latest: false });
    expect(ambiguous).toMatchObject({ kind: "ambiguous", reason: "runs", total: 2, hashes: 1 });
    if (ambiguous.kind !== "ambiguous") throw new Error("unreachable");
    expect(ambiguous.candidates.map((c) => [c.resultId, c.status, c.specHash])).toEqual([
      [finishedLater, "FAILED", hash],
      [finishedEarlier, "SUCCESSFUL", hash],
    ]);
    expect(ambiguous.candidates[0]!.finishedAt).toBeInstanceOf(Date);

    const latest = await resolveSpecHash(sql(), { hashPrefix: hash, latest: true });
    expect(latest).toMatchObject({ kind: "found", candidate: { resultId: finishedLater, specHash: hash } });
    const outcome = await replayTask(sql(), { resultId: finishedLater });
    const [copy] = await sql()<{ status: string; hash: string }[]>`select status, rtrim(spec_hash) as hash from task_runs where result_id = ${outcome.newId}::bigint`;
    expect(copy).toEqual({ status: "READY", hash });

    expect(await resolveSpecHash(sql(), { hashPrefix: "f".repeat(64), latest: true })).toEqual({ kind: "none" });
    expect(await replayTask(sql(), { resultId: "999999999" })).toEqual({ sourceId: null, sourceStatus: null, newId: null, activeId: null });
  });

  test("a unique prefix finds its row; a prefix of two hashes is ambiguous even with latest (each hash listed)", async () => {
    const hashes = ["c0ffee00", "c0ffee01"].map((p) => p + "0".repeat(56));
    const ids: string[] = [];
    for (const [index, hash] of [hashes[0]!, hashes[0]!, hashes[1]!].entries()) {
      const id = await insertTaskRow(sql());
      await setRow(sql(), id, hash, "SUCCESSFUL");
      await finishAgo(sql(), id, 10 + index);
      ids.push(id);
    }
    expect(await resolveSpecHash(sql(), { hashPrefix: "c0ffee01", latest: false })).toMatchObject({ kind: "found", candidate: { resultId: ids[2], specHash: hashes[1] } });
    for (const latest of [false, true]) {
      const both = await resolveSpecHash(sql(), { hashPrefix: "c0ffee0", latest });
      expect(both).toMatchObject({ kind: "ambiguous", reason: "hashes", total: 3, hashes: 2 });
      if (both.kind !== "ambiguous") throw new Error("unreachable");
      // The newest run of each hash comes first, so every hash shows even in a cut list.
      expect(both.candidates.slice(0, 2).map((c) => c.specHash).sort()).toEqual([...hashes].sort());
    }
  });

  test("running and waiting rows are candidates too (listed last: no finished_at)", async () => {
    const hash = "d".repeat(64);
    const done = await insertTaskRow(sql());
    await setRow(sql(), done, hash, "SUCCESSFUL");
    await finishAgo(sql(), done, 5);
    const waiting = await insertTaskRow(sql(), { status: "WAITING" });
    await sql()`update task_runs set spec_hash = ${hash} where result_id = ${waiting}::bigint`;
    const result = await resolveSpecHash(sql(), { hashPrefix: hash, latest: false });
    if (result.kind !== "ambiguous") throw new Error(`expected ambiguous, got ${result.kind}`);
    expect(result.candidates.map((c) => [c.resultId, c.finishedAt])).toEqual([[done, expect.any(Date)], [waiting, null]]);
    expect(await resolveSpecHash(sql(), { hashPrefix: hash, latest: true })).toMatchObject({ kind: "found", candidate: { resultId: done } });
  });

  test("conflict: replaying while the spec is READY or RUNNING names the active row and inserts nothing", async () => {
    const running = await insertTaskRow(sql());
    await claimByHand(sql(), running, "w1");
    const before = await countRows(sql());
    expect(await taskReplayInsert(sql(), { resultId: running })).toEqual({ sourceId: running, sourceStatus: "RUNNING", newId: null, activeId: running });

    const done = await insertTaskRow(sql());
    const hash = "b".repeat(64);
    await setRow(sql(), done, hash, "SUCCESSFUL");
    const first = await replayTask(sql(), { resultId: done });
    expect(first.newId).not.toBeNull();
    expect(await replayTask(sql(), { resultId: done })).toEqual({ sourceId: done, sourceStatus: "SUCCESSFUL", newId: null, activeId: first.newId });
    expect(await countRows(sql())).toBe(before + 2); // the `done` row and its one copy
  });

  test("concurrent replays of one spec: exactly one copy, the others report it", async () => {
    const source = await insertTaskRow(sql(), { status: "SUCCESSFUL" });
    const outcomes = await Promise.all(Array.from({ length: 4 }, () => replayTask(sql(), { resultId: source })));
    const made = outcomes.filter((o) => o.newId !== null);
    expect(made.length).toBe(1);
    for (const o of outcomes.filter((x) => x.newId === null)) expect(o.activeId).toBe(made[0]!.newId);
  });
});
