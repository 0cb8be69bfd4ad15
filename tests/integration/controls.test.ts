// Queue controls and the queue overview (src/queue/controls.ts) on both schemas. Django's
// reproq_queue_controls has no column defaults, so an upsert missing a column fails there.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { queueOverview, queuePause, queueResume } from "../../src/queue/controls.ts";
import { workerRegister } from "../../src/queue/registry.ts";
import { TASK_SCHEMAS, insertTaskRow, useTaskDatabase } from "../helpers/tasks.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

describe.each(TASK_SCHEMAS)("queue controls (%s schema)", (schema) => {
  const sql = useTaskDatabase(schema);

  async function control(queueName: string) {
    const [row] = await sql()<{ paused: boolean; reason: string | null; paused_at: Date | null; created_age: number; updated_age: number }[]>`
      select paused, reason, paused_at,
             extract(epoch from now() - created_at)::float8 as created_age,
             extract(epoch from now() - updated_at)::float8 as updated_age
      from reproq_queue_controls where queue_name = ${queueName}`;
    return row;
  }

  test("pause inserts a row with every column; re-pause keeps paused_at, replaces the reason", async () => {
    const first = await queuePause(sql(), { queueName: "emails", reason: "smtp down" });
    expect(first).toMatchObject({ queueName: "emails", paused: true, reason: "smtp down" });
    expect(first.pausedAt).toBeInstanceOf(Date);
    const stored = await control("emails");
    expect(stored).toMatchObject({ paused: true, reason: "smtp down" });
    expect(stored!.created_age).toBeLessThan(5);

    await sql()`update reproq_queue_controls set paused_at = paused_at - interval '1 hour' where queue_name = 'emails'`;
    const again = await queuePause(sql(), { queueName: "emails", reason: null });
    expect(again.reason).toBeNull();
    expect(Date.now() - again.pausedAt!.getTime()).toBeGreaterThan(3_000_000);
  });

  test("resume clears the pause; resuming an unknown queue inserts an unpaused row", async () => {
    await queuePause(sql(), { queueName: "reports", reason: "maintenance" });
    const resumed = await queueResume(sql(), { queueName: "reports" });
    expect(resumed).toEqual({ queueName: "reports", paused: false, pausedAt: null, reason: null });
    expect(await queueResume(sql(), { queueName: "never-seen" })).toMatchObject({ paused: false });
    expect(await control("never-seen")).toMatchObject({ paused: false, reason: null, paused_at: null });
  });

  test("overview lists queues from tasks, controls and workers with per-status counts", async () => {
    for (const status of ["READY", "READY", "RUNNING", "WAITING", "FAILED", "SUCCESSFUL", "CANCELLED"]) {
      await insertTaskRow(sql(), { queue: "ov-main", status });
    }
    await sql()`update task_runs set enqueued_at = now() - interval '90 seconds' where queue_name = 'ov-main' and status = 'READY'`;
    await insertTaskRow(sql(), { queue: "ov-done", status: "SUCCESSFUL" });
    await queuePause(sql(), { queueName: "ov-paused-empty", reason: "why not" });
    await workerRegister(sql(), { workerId: "w-ov", hostname: "h", concurrency: 1, queues: ["ov-main", "ov-worker-only"], version: "t" });

    const rows = await queueOverview(sql());
    const byName = Object.fromEntries(rows.map((row) => [row.queueName, row]));
    expect(byName["ov-main"]).toMatchObject({ ready: 2, running: 1, waiting: 1, failed: 1, successful: 1, cancelled: 1, paused: false, reason: null });
    expect(byName["ov-main"]!.oldestReadySeconds).toBeGreaterThanOrEqual(89);
    expect(byName["ov-main"]!.oldestReadySeconds).toBeLessThan(120);
    expect(byName["ov-done"]).toMatchObject({ ready: 0, successful: 1, oldestReadySeconds: null });
    expect(byName["ov-paused-empty"]).toMatchObject({ ready: 0, paused: true, reason: "why not" });
    expect(byName["ov-worker-only"]).toMatchObject({ ready: 0, running: 0, paused: false });
    const names = rows.map((row) => row.queueName);
    expect(names).toEqual([...names].sort());
    expect(new Set(names).size).toBe(names.length);
  });
});
