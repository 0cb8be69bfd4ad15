// The metrics collector's database-wide counts, on both schemas.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { queuePause } from "../../src/queue/controls.ts";
import { workerRegister } from "../../src/queue/registry.ts";
import { statsConcurrencyBlocked, statsLiveWorkers, statsPausedQueues, statsTaskCounts } from "../../src/queue/stats.ts";
import { insertTaskRow, TASK_SCHEMAS, useTaskDatabase } from "../helpers/tasks.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test`

describe.each(TASK_SCHEMAS)("collector statistics (%s schema)", (schema) => {
  const sql = useTaskDatabase(schema);

  test("task counts by status cover every queue", async () => {
    for (const [status, queue, n] of [["READY", "default", 3], ["READY", "emails", 2], ["WAITING", "default", 1], ["RUNNING", "emails", 2], ["SUCCESSFUL", "default", 4], ["FAILED", "default", 1]] as const) {
      for (let i = 0; i < n; i++) await insertTaskRow(sql(), { status, queue, leasedBy: status === "RUNNING" ? "w1" : null, leaseInSeconds: status === "RUNNING" ? 60 : null });
    }
    expect(await statsTaskCounts(sql())).toEqual({ ready: 5, waiting: 1, running: 2 });
  });

  test("only workers seen within two minutes are live", async () => {
    const identity = (workerId: string, concurrency: number) => ({ workerId, hostname: "h", concurrency, queues: ["default"], version: "0.1.0" });
    await workerRegister(sql(), identity("live-a", 4));
    await workerRegister(sql(), identity("live-b", 6));
    await workerRegister(sql(), identity("dead", 50));
    await sql()`update reproq_workers set last_seen_at = now() - interval '10 minutes' where worker_id = 'dead'`;
    expect(await statsLiveWorkers(sql())).toEqual({ live: 2, concurrency: 10 });
  });

  test("paused queues", async () => {
    expect(await statsPausedQueues(sql())).toBe(0);
    await queuePause(sql(), { queueName: "emails", reason: "maintenance" });
    expect(await statsPausedQueues(sql())).toBe(1);
  });

  test("READY rows whose concurrency key is at its limit are blocked; others are not", async () => {
    const keyed = async (status: string, key: string, limit: number) => {
      const id = await insertTaskRow(sql(), { status, leasedBy: status === "RUNNING" ? "w1" : null, leaseInSeconds: status === "RUNNING" ? 60 : null });
      await sql()`update task_runs set concurrency_key = ${key}, concurrency_limit = ${limit} where result_id = ${id}`;
    };
    expect(await statsConcurrencyBlocked(sql())).toBe(0);
    await keyed("RUNNING", "user:1", 1);
    await keyed("READY", "user:1", 1); // blocked: 1 running ≥ limit 1
    await keyed("READY", "user:1", 1); // blocked
    await keyed("READY", "user:1", 2); // not blocked: 1 running < limit 2
    await keyed("READY", "user:1", 0); // no limit
    await keyed("READY", "user:2", 1); // nothing running under this key
    expect(await statsConcurrencyBlocked(sql())).toBe(2);
  });
});
