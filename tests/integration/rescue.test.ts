// Dead-worker rescue on both schemas: the alive_until deadline written by register/heartbeat, and
// workerRescueDead (requeue with worker_lost, exhaustion with propagation, live and legacy workers
// untouched, SKIP LOCKED between rescuers, registry row removed).

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Queryable } from "../../src/db/client.ts";
import { workerHeartbeat, workerRegister, type WorkerIdentity } from "../../src/queue/registry.ts";
import { workerRescueDead } from "../../src/queue/rescue.ts";
import { insertChain, insertChord, insertClaimed, isRecent, readTask, readWorkflowRun, TASK_SCHEMAS, taskRowText, useTaskDatabase } from "../helpers/tasks.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const RESCUER = "rescuer";

const identity = (workerId: string): WorkerIdentity => ({ workerId, hostname: "host-1", concurrency: 4, queues: ["default"], version: "0.1.0" });

describe.each(TASK_SCHEMAS)("dead-worker rescue (%s schema)", (schema) => {
  const sql = useTaskDatabase(schema);

  /** A registered worker whose deadline is `seconds` from now (negative: passed). */
  async function worker(workerId: string, seconds: number | null): Promise<void> {
    await workerRegister(sql(), { ...identity(workerId), aliveSeconds: seconds ?? null });
    if (seconds !== null && seconds < 0) {
      await sql()`update reproq_workers set last_seen_at = now() - interval '1 minute' where worker_id = ${workerId}`;
    }
    if (seconds === null) await sql()`update reproq_workers set last_seen_at = now() - interval '3 hours' where worker_id = ${workerId}`;
  }

  async function aliveIn(workerId: string): Promise<number | null | undefined> {
    const [row] = await sql()<{ alive_in: number | null }[]>`
      select extract(epoch from alive_until - now())::float8 as alive_in from reproq_workers where worker_id = ${workerId}`;
    return row?.alive_in;
  }

  async function registered(db: Queryable, workerId: string): Promise<boolean> {
    const [row] = await db<{ n: number }[]>`select count(*)::int as n from reproq_workers where worker_id = ${workerId}`;
    return row!.n === 1;
  }

  async function rescueAll() {
    const all = [];
    for (;;) {
      const batch = await workerRescueDead(sql(), { workerId: RESCUER, limit: 2 });
      if (batch.length === 0) return all;
      all.push(...batch);
    }
  }

  test("register and heartbeat set alive_until = NOW() + aliveSeconds on the DB clock; without it the column stays as it was", async () => {
    await workerRegister(sql(), { ...identity("w-deadline"), aliveSeconds: 45 });
    expect(await aliveIn("w-deadline")).toBeGreaterThan(40);
    await sql()`update reproq_workers set alive_until = now() - interval '1 second' where worker_id = 'w-deadline'`;
    expect(await workerHeartbeat(sql(), { ...identity("w-deadline"), aliveSeconds: 4.5 })).toBe(false);
    const renewed = (await aliveIn("w-deadline"))!;
    expect(renewed).toBeGreaterThan(3);
    expect(renewed).toBeLessThanOrEqual(4.5);
    await workerRegister(sql(), identity("w-legacy"));
    expect(await aliveIn("w-legacy")).toBeNull();
    await workerHeartbeat(sql(), identity("w-deadline"));
    expect(await aliveIn("w-deadline")).toBeLessThanOrEqual(4.5);
  });

  test("a dead worker's RUNNING rows come back (worker_lost, attempt counted); out of attempts they fail with propagation; its row goes", async () => {
    await worker("dead-1", -1);
    await worker(RESCUER, -5); // a rescuer never declares itself dead
    const [retry] = await insertClaimed(sql(), "dead-1", 1);
    const [exhausted] = await insertClaimed(sql(), "dead-1", 1, { attempts: 2, maxAttempts: 3 });
    const [cancelled] = await insertClaimed(sql(), "dead-1", 1, { cancelRequested: true });
    const chain = await insertChain(sql(), "dead-1", 2);
    await sql()`update task_runs set attempts = max_attempts where result_id = ${chain[0]!}::bigint`;
    const chord = await insertChord(sql(), "dead-1", 2);
    await sql()`update task_runs set attempts = max_attempts where result_id = any(${chord.group}::bigint[])`;
    const [own] = await insertClaimed(sql(), RESCUER, 1);
    const ownBefore = await taskRowText(sql(), own!);

    const rescued = await rescueAll();

    expect(rescued.map(({ workerId, requeued, failed }) => ({ workerId, requeued, failed }))).toEqual([{ workerId: "dead-1", requeued: 1, failed: 5 }]);
    expect(rescued[0]!.lastSeenAt).toBeInstanceOf(Date);
    const back = await readTask(sql(), retry!);
    expect(back).toMatchObject({ status: "READY", attempts: 1, leased_by: null, has_lease: false, last_error: null });
    expect(back.run_after_in!).toBeLessThanOrEqual(0);
    expect(back.errors).toHaveLength(1);
    const entry = back.errors[0]!;
    expect(entry).toMatchObject({ kind: "worker_lost", attempt: 1, worker_id: "dead-1" });
    expect(entry.message).toMatch(/^worker dead-1 stopped renewing its registry heartbeat \(last seen \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\) and was declared dead by worker rescuer$/);
    expect(entry.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    for (const id of [exhausted!, cancelled!, chain[0]!]) {
      const failed = await readTask(sql(), id);
      expect(failed).toMatchObject({ status: "FAILED", leased_by: null, has_lease: false });
      expect(failed.last_error).toStartWith("worker_lost: worker dead-1 stopped renewing");
      expect(isRecent(failed.failed_age) && isRecent(failed.finished_age)).toBe(true);
      expect(failed.errors.map((e) => e.kind)).toEqual(["worker_lost"]);
    }
    expect((await readTask(sql(), exhausted!)).attempts).toBe(3);
    const descendant = await readTask(sql(), chain[1]!);
    expect(descendant.status).toBe("FAILED");
    expect(descendant.errors.map((e) => e.kind)).toEqual(["dependency_failed"]);
    expect((await readWorkflowRun(sql(), chord.workflowId)).status).toBe("FAILED");
    expect((await readTask(sql(), chord.callback)).status).toBe("FAILED");

    expect(await registered(sql(), "dead-1")).toBe(false);
    expect(await registered(sql(), RESCUER)).toBe(true);
    expect(await taskRowText(sql(), own!)).toBe(ownBefore);
    expect(await rescueAll()).toEqual([]); // idempotent
    await worker(RESCUER, 30);
  });

  test("a live worker, and one without a deadline (Go, older reproq), are never declared dead", async () => {
    await worker("live-1", 30);
    await worker("legacy-1", null);
    const [live] = await insertClaimed(sql(), "live-1", 1);
    const [legacy] = await insertClaimed(sql(), "legacy-1", 1);
    const before = [await taskRowText(sql(), live!), await taskRowText(sql(), legacy!)];
    expect(await rescueAll()).toEqual([]);
    expect([await taskRowText(sql(), live!), await taskRowText(sql(), legacy!)]).toEqual(before);
    expect(await registered(sql(), "live-1")).toBe(true);
    expect(await registered(sql(), "legacy-1")).toBe(true);
  });

  test("a row renewed after its deadline was written (a Go or older worker reusing the id) is not declared dead", async () => {
    await worker("reused-1", -1);
    await sql()`update reproq_workers set last_seen_at = now() where worker_id = ${"reused-1"}`;
    const [task] = await insertClaimed(sql(), "reused-1", 1);
    const before = await taskRowText(sql(), task!);
    expect(await rescueAll()).toEqual([]);
    expect(await taskRowText(sql(), task!)).toBe(before);
    expect(await registered(sql(), "reused-1")).toBe(true);
  });

  test("a dead worker with no tasks only loses its row", async () => {
    await worker("dead-idle", -1);
    const rescued = await rescueAll();
    expect(rescued.map(({ workerId, requeued, failed }) => ({ workerId, requeued, failed }))).toEqual([{ workerId: "dead-idle", requeued: 0, failed: 0 }]);
    expect(await registered(sql(), "dead-idle")).toBe(false);
  });

  test("one rescuer at a time: a registry row locked by another rescuer is skipped, then handled once", async () => {
    await worker("dead-2", -1);
    const [id] = await insertClaimed(sql(), "dead-2", 1);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const other = sql().begin(async (tx) => {
      await tx`select 1 from reproq_workers where worker_id = 'dead-2' for update`;
      locked();
      await held;
    });
    await isLocked;
    expect(await workerRescueDead(sql(), { workerId: RESCUER, limit: 10 })).toEqual([]);
    expect((await readTask(sql(), id!)).status).toBe("RUNNING");
    release();
    await other;
    const [first, second] = await Promise.all([
      workerRescueDead(sql(), { workerId: RESCUER, limit: 10 }),
      workerRescueDead(sql(), { workerId: "rescuer-2", limit: 10 }),
    ]);
    expect([...first!, ...second!].map((w) => w.workerId)).toEqual(["dead-2"]);
    const row = await readTask(sql(), id!);
    expect(row.status).toBe("READY");
    expect(row.errors.map((e) => e.kind)).toEqual(["worker_lost"]);
  });
});
