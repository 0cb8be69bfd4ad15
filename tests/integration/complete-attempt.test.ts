// A late result of an earlier run must never land on a later run of the same row by the same
// worker (an outage longer than the lease: reclaimed, then claimed again by this worker).
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { taskCompleteFailure, taskCompleteSuccessMany } from "../../src/queue/complete.ts";
import { claimByHand, insertTaskRow, readTask, TASK_SCHEMAS, useTaskDatabase } from "../helpers/tasks.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const W = "w-attempt";

describe.each(TASK_SCHEMAS)("attempt fence (%s schema)", (schema) => {
  const sql = useTaskDatabase(schema);

  test("a success or failure carrying an older attempt is fenced; the current attempt is written", async () => {
    const id = await insertTaskRow(sql());
    await claimByHand(sql(), id, W); // attempt 1 …
    await sql()`update task_runs set status = 'READY', leased_by = null where result_id = ${id}::bigint`; // … reclaimed
    await claimByHand(sql(), id, W); // attempt 2, same worker

    const stale = await taskCompleteSuccessMany(sql(), [{ resultId: id, workerId: W, attempt: 1, returnJson: "1", logsUri: null }]);
    expect(stale).toEqual({ written: [], fenced: [id] });
    expect(await taskCompleteFailure(sql(), {
      resultId: id, workerId: W, attempt: 1, error: { kind: "app_error", message: "late" }, disposition: { type: "terminal" }, lastError: "late", logsUri: null,
    })).toBe(false);
    expect((await readTask(sql(), id)).status).toBe("RUNNING");

    const current = await taskCompleteSuccessMany(sql(), [{ resultId: id, workerId: W, attempt: 2, returnJson: "2", logsUri: null }]);
    expect(current).toEqual({ written: [id], fenced: [] });
    expect((await readTask(sql(), id)).status).toBe("SUCCESSFUL");
  });
});
