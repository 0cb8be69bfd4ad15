// The worker registry on both schemas; Django's reproq_workers has no defaults and NOT NULL
// hostname/concurrency, so an insert that leaves any column out fails there.

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { workerDeregister, workerHeartbeat, workerRegister, type WorkerIdentity } from "../../src/queue/registry.ts";
import { TASK_SCHEMAS, useTaskDatabase } from "../helpers/tasks.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

describe.each(TASK_SCHEMAS)("worker registry (%s schema)", (schema) => {
  const sql = useTaskDatabase(schema);
  const identity = (workerId: string): WorkerIdentity => ({
    workerId,
    hostname: "host-1",
    concurrency: 4,
    queues: ["default", "emails"],
    version: "0.1.0",
  });

  async function readWorker(workerId: string) {
    const rows = await sql()<
      { hostname: string; concurrency: number; queues: unknown; version: string; started_age: number; seen_age: number }[]
    >`
      select hostname, concurrency, queues, version,
             extract(epoch from now() - started_at)::float8 as started_age,
             extract(epoch from now() - last_seen_at)::float8 as seen_age
      from reproq_workers where worker_id = ${workerId}`;
    return rows[0];
  }

  async function age(workerId: string, seconds: number) {
    await sql()`
      update reproq_workers set started_at = started_at - make_interval(secs => ${seconds}::float8),
                                last_seen_at = last_seen_at - make_interval(secs => ${seconds}::float8)
      where worker_id = ${workerId}`;
  }

  test("register inserts every column", async () => {
    await workerRegister(sql(), identity("w-register"));
    const row = await readWorker("w-register");
    expect(row).toMatchObject({ hostname: "host-1", concurrency: 4, queues: ["default", "emails"], version: "0.1.0" });
    expect(row!.started_age).toBeLessThan(5);
    expect(row!.seen_age).toBeLessThan(5);
  });

  test("re-registering the same worker_id updates the row and refreshes started_at", async () => {
    await workerRegister(sql(), identity("w-again"));
    await age("w-again", 3600);
    await workerRegister(sql(), { ...identity("w-again"), hostname: "host-2", concurrency: 8, queues: ["q"], version: "0.2.0" });
    const row = await readWorker("w-again");
    expect(row).toMatchObject({ hostname: "host-2", concurrency: 8, queues: ["q"], version: "0.2.0" });
    expect(row!.started_age).toBeLessThan(5);
    expect(row!.seen_age).toBeLessThan(5);
  });

  test("heartbeat moves last_seen_at only", async () => {
    await workerRegister(sql(), identity("w-beat"));
    await age("w-beat", 3600);
    expect(await workerHeartbeat(sql(), identity("w-beat"))).toBe(false);
    const row = await readWorker("w-beat");
    expect(row!.seen_age).toBeLessThan(5);
    expect(row!.started_age).toBeGreaterThan(3590);
  });

  test("heartbeat re-creates a deleted row", async () => {
    await workerRegister(sql(), identity("w-deleted"));
    await sql()`delete from reproq_workers where worker_id = 'w-deleted'`;
    expect(await workerHeartbeat(sql(), identity("w-deleted"))).toBe(true);
    expect(await readWorker("w-deleted")).toMatchObject({ hostname: "host-1", concurrency: 4, queues: ["default", "emails"] });
  });

  test("deregister deletes the row and is idempotent", async () => {
    await workerRegister(sql(), identity("w-bye"));
    await workerRegister(sql(), identity("w-stays"));
    expect(await workerDeregister(sql(), { workerId: "w-bye" })).toBe(true);
    expect(await workerDeregister(sql(), { workerId: "w-bye" })).toBe(false);
    expect(await readWorker("w-bye")).toBeUndefined();
    expect(await readWorker("w-stays")).toBeDefined();
  });
});
