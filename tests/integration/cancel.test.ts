// Cancel on both schemas, one test per starting status (Go scenario 63 for RUNNING).

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { taskCancel } from "../../src/queue/cancel.ts";
import { claimByHand, insertTaskRow, isRecent, readTask, taskRowText, TASK_SCHEMAS, useTaskDatabase } from "../helpers/tasks.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

describe.each(TASK_SCHEMAS)("cancel (%s schema)", (schema) => {
  const sql = useTaskDatabase(schema);

  test("Go scenario 63: RUNNING → cancel_requested, still RUNNING and leased; repeatable", async () => {
    const id = await insertTaskRow(sql());
    await claimByHand(sql(), id, "w1");
    expect(await taskCancel(sql(), { resultId: id })).toBe("RUNNING");
    expect(await readTask(sql(), id)).toMatchObject({ status: "RUNNING", cancel_requested: true, leased_by: "w1", finished_age: null });
    expect(await taskCancel(sql(), { resultId: id })).toBe("RUNNING");
  });

  test("a missing id changes nothing and returns null", async () => {
    expect(await taskCancel(sql(), { resultId: "987654321" })).toBeNull();
  });

  for (const status of ["READY", "WAITING"]) {
    test(`${status} → CANCELLED with finished_at NOW(); only that row`, async () => {
      const id = await insertTaskRow(sql(), { status, waitCount: status === "WAITING" ? 1 : 0 });
      const child = await insertTaskRow(sql(), { status: "WAITING", waitCount: 1, parentId: id });
      expect(await taskCancel(sql(), { resultId: id })).toBe(status);
      const row = await readTask(sql(), id);
      expect(row).toMatchObject({ status: "CANCELLED", cancel_requested: false, run_after_in: null });
      expect(isRecent(row.finished_age)).toBe(true);
      expect((await readTask(sql(), child)).status).toBe("WAITING");
    });
  }

  for (const status of ["SUCCESSFUL", "FAILED", "CANCELLED"]) {
    test(`${status} is not touched`, async () => {
      const id = await insertTaskRow(sql(), { status });
      const before = await taskRowText(sql(), id);
      expect(await taskCancel(sql(), { resultId: id })).toBeNull();
      expect(await taskRowText(sql(), id)).toBe(before);
    });
  }
});
