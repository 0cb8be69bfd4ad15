// taskCompleteSuccessMany on both schemas: every column it writes (and the ones it must not),
// fencing, and a batch of 50 in one call. Chains and chords: workflow*.test.ts.

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { taskCompleteSuccessMany } from "../../src/queue/complete.ts";
import {
  claimByHand,
  insertClaimed,
  insertTaskRow,
  isRecent,
  readTask,
  TASK_SCHEMAS,
  taskRowText,
  useTaskDatabase,
} from "../helpers/tasks.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const W = "worker-a";

describe.each(TASK_SCHEMAS)("taskCompleteSuccessMany (%s schema)", (schema) => {
  const sql = useTaskDatabase(schema);

  test("writes SUCCESSFUL, finished_at, return_json and clears error and lease columns", async () => {
    const id = await insertTaskRow(sql(), { metadata: { progress: 50, note: "executor-owned" }, logsUri: "/old.log" });
    await claimByHand(sql(), id, W);
    await sql()`update task_runs set last_error = 'old', failed_at = now() where result_id = ${id}::bigint`;
    const before = await readTask(sql(), id);

    const outcome = await taskCompleteSuccessMany(sql(), [{ resultId: id, workerId: W, returnJson: '{"b": [1, 2], "a": "x"}', logsUri: "/new.log" }]);

    expect(outcome).toEqual({ written: [id], fenced: [] });
    const row = await readTask(sql(), id);
    expect(row.status).toBe("SUCCESSFUL");
    expect(isRecent(row.finished_age)).toBe(true);
    expect(JSON.parse(row.return_text!)).toEqual({ a: "x", b: [1, 2] });
    expect(row.last_error).toBeNull();
    expect(row.failed_age).toBeNull();
    expect(row.leased_by).toBeNull();
    expect(row.has_lease).toBe(false);
    expect(row.logs_uri).toBe("/new.log");
    expect(row.attempts).toBe(1);
    expect(isRecent(row.updated_age)).toBe(true);
    expect(row.metadata_text).toBe(before.metadata_text); // never touched: the executor owns it
  });

  test("a missing return is SQL NULL, an explicit null is jsonb null", async () => {
    const [absent, explicit] = await insertClaimed(sql(), W, 2);
    await taskCompleteSuccessMany(sql(), [
      { resultId: absent!, workerId: W, returnJson: null, logsUri: null },
      { resultId: explicit!, workerId: W, returnJson: "null", logsUri: null },
    ]);
    const [rows] = await sql()<{ absent_is_sql_null: boolean; explicit_type: string | null }[]>`
      select (select return_json is null from task_runs where result_id = ${absent!}::bigint) as absent_is_sql_null,
             (select jsonb_typeof(return_json) from task_runs where result_id = ${explicit!}::bigint) as explicit_type`;
    expect(rows).toEqual({ absent_is_sql_null: true, explicit_type: "null" });
  });

  test("logs_uri is kept when the completion has none", async () => {
    const id = await insertTaskRow(sql(), { logsUri: "/kept.log" });
    await claimByHand(sql(), id, W);
    await taskCompleteSuccessMany(sql(), [{ resultId: id, workerId: W, returnJson: "1", logsUri: null }]);
    expect((await readTask(sql(), id)).logs_uri).toBe("/kept.log");
  });

  test("a return with \\u0000 (valid JSON, refused by jsonb) is stored repaired instead of failing the batch", async () => {
    const [bad, good] = await insertClaimed(sql(), W, 2);
    const outcome = await taskCompleteSuccessMany(sql(), [
      { resultId: bad!, workerId: W, returnJson: '{"s": "a\\u0000b"}', logsUri: null },
      { resultId: good!, workerId: W, returnJson: '"ok"', logsUri: null },
    ]);
    expect(outcome.written.sort()).toEqual([bad!, good!].sort());
    expect(JSON.parse((await readTask(sql(), bad!)).return_text!)).toEqual({ s: "a\uFFFDb" });
  });

  test("fencing: another worker's row, a row no longer RUNNING and an unknown id are fenced and unchanged", async () => {
    const [foreign] = await insertClaimed(sql(), "worker-b", 1);
    const ready = await insertTaskRow(sql(), { status: "READY", leasedBy: W });
    const [mine] = await insertClaimed(sql(), W, 1);
    const beforeForeign = await taskRowText(sql(), foreign!);
    const beforeReady = await taskRowText(sql(), ready);

    const outcome = await taskCompleteSuccessMany(sql(), [
      { resultId: foreign!, workerId: W, returnJson: "1", logsUri: null },
      { resultId: ready, workerId: W, returnJson: "1", logsUri: null },
      { resultId: mine!, workerId: W, returnJson: "1", logsUri: null },
      { resultId: "999999999", workerId: W, returnJson: "1", logsUri: null },
    ]);

    expect(outcome.written).toEqual([mine!]);
    expect(outcome.fenced).toEqual([foreign!, ready, "999999999"]);
    expect(await taskRowText(sql(), foreign!)).toBe(beforeForeign);
    expect(await taskRowText(sql(), ready)).toBe(beforeReady);
  });

  test("completing twice: the second call is fenced and changes nothing", async () => {
    const [id] = await insertClaimed(sql(), W, 1);
    await taskCompleteSuccessMany(sql(), [{ resultId: id!, workerId: W, returnJson: "1", logsUri: null }]);
    const after = await taskRowText(sql(), id!);
    expect(await taskCompleteSuccessMany(sql(), [{ resultId: id!, workerId: W, returnJson: "2", logsUri: null }])).toEqual({
      written: [],
      fenced: [id!],
    });
    expect(await taskRowText(sql(), id!)).toBe(after);
  });

  test("a batch of 50 successes is written by one call", async () => {
    const ids = await insertClaimed(sql(), W, 50);
    const outcome = await taskCompleteSuccessMany(
      sql(),
      ids.map((id, i) => ({ resultId: id, workerId: W, returnJson: JSON.stringify({ i }), logsUri: null })),
    );
    expect(outcome.written).toEqual(ids);
    expect(outcome.fenced).toEqual([]);
    const rows = await sql()<{ result_id: string; status: string; i: number }[]>`
      select result_id, status, (return_json ->> 'i')::int as i from task_runs
      where result_id = any(${ids}::bigint[]) order by result_id`;
    expect(rows.every((r) => r.status === "SUCCESSFUL")).toBe(true);
    expect(rows.map((r) => r.i)).toEqual(ids.map((_, i) => i));
  });

  test("an empty batch does nothing", async () => {
    expect(await taskCompleteSuccessMany(sql(), [])).toEqual({ written: [], fenced: [] });
  });
});
