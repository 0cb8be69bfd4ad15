// Leases on both schemas: heartbeat renewal and its fence, the cancellation poll, and reclaim of
// expired leases (requeue, exhaustion with propagation, NULL leases, SKIP LOCKED between reclaimers).

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { taskCancelRequestedMany, taskHeartbeatMany, taskReclaimExpired } from "../../src/queue/lease.ts";
import {
  claimByHand,
  insertChain,
  insertChord,
  insertClaimed,
  insertTaskRow,
  isRecent,
  readTask,
  readWorkflowRun,
  TASK_SCHEMAS,
  taskRowText,
  useTaskDatabase,
} from "../helpers/tasks.ts";
import { expectQuick } from "../helpers/timing.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const W = "worker-a";

describe.each(TASK_SCHEMAS)("leases (%s schema)", (schema) => {
  const sql = useTaskDatabase(schema);

  /** Moves leased_until to NOW() + seconds (negative: expired). */
  async function setLease(ids: readonly string[], seconds: number | null): Promise<void> {
    await sql()`
      update task_runs set leased_until = case when ${seconds}::float8 is null then null
                                               else now() + make_interval(secs => ${seconds}::float8) end
      where result_id = any(${ids}::bigint[])`;
  }

  /** Reclaims everything expired, in batches of `limit`, as the reclaimer service does. */
  async function reclaimAll(leaseSeconds = 300, limit = 100) {
    const total = { requeued: 0, failed: 0 };
    for (;;) {
      const batch = await taskReclaimExpired(sql(), { leaseSeconds, limit });
      if (batch.requeued + batch.failed === 0) return total;
      total.requeued += batch.requeued;
      total.failed += batch.failed;
    }
  }

  describe("taskHeartbeatMany", () => {
    test("renews only this worker's RUNNING rows, on the DB clock, and reports cancel_requested", async () => {
      const [a, b] = await insertClaimed(sql(), W, 2);
      const [foreign] = await insertClaimed(sql(), "worker-b", 1);
      const done = await insertTaskRow(sql(), { status: "SUCCESSFUL", leasedBy: W, leaseInSeconds: 5 });
      await setLease([a!, b!], 5);
      await sql()`update task_runs set cancel_requested = true where result_id = ${b!}::bigint`;
      const foreignBefore = await taskRowText(sql(), foreign!);

      const renewed = await taskHeartbeatMany(sql(), { resultIds: [a!, b!, foreign!, done], workerId: W, leaseSeconds: 600 });

      renewed.sort((x, y) => Number(x.resultId) - Number(y.resultId));
      expect(renewed).toEqual([
        { resultId: a!, cancelRequested: false },
        { resultId: b!, cancelRequested: true },
      ]);
      for (const id of [a!, b!]) {
        const lease = (await readTask(sql(), id)).lease_in!;
        expect(lease).toBeGreaterThan(590);
        expect(lease).toBeLessThanOrEqual(600);
      }
      expect(await taskRowText(sql(), foreign!)).toBe(foreignBefore);
      expect((await readTask(sql(), done)).lease_in!).toBeLessThan(10);
    });

    test("a lost lease (reclaimed, re-claimed by another worker) is missing from the result", async () => {
      const [id] = await insertClaimed(sql(), W, 1);
      await setLease([id!], -10);
      await reclaimAll();
      expect(await taskHeartbeatMany(sql(), { resultIds: [id!], workerId: W, leaseSeconds: 60 })).toEqual([]);
      await claimByHand(sql(), id!, "worker-b");
      expect(await taskHeartbeatMany(sql(), { resultIds: [id!], workerId: W, leaseSeconds: 60 })).toEqual([]);
      expect((await readTask(sql(), id!)).leased_by).toBe("worker-b");
    });

    test("an expired lease not yet reclaimed is still renewed", async () => {
      const [id] = await insertClaimed(sql(), W, 1);
      await setLease([id!], -10);
      expect(await taskHeartbeatMany(sql(), { resultIds: [id!], workerId: W, leaseSeconds: 60 })).toEqual([
        { resultId: id!, cancelRequested: false },
      ]);
      expect((await readTask(sql(), id!)).lease_in!).toBeGreaterThan(50);
    });
  });

  test("taskCancelRequestedMany returns only this worker's RUNNING rows with cancel_requested", async () => {
    const [a, b] = await insertClaimed(sql(), W, 2);
    const [foreign] = await insertClaimed(sql(), "worker-b", 1);
    const queued = await insertTaskRow(sql(), { cancelRequested: true });
    await sql()`update task_runs set cancel_requested = true where result_id = any(${[b!, foreign!]}::bigint[])`;
    expect(await taskCancelRequestedMany(sql(), { resultIds: [a!, b!, foreign!, queued], workerId: W })).toEqual([b!]);
    expect(await taskCancelRequestedMany(sql(), { resultIds: [], workerId: W })).toEqual([]);
  });

  describe("taskReclaimExpired", () => {
    test("an expired lease with attempts left goes back to READY now; a fresh lease is untouched", async () => {
      const [expired, fresh] = await insertClaimed(sql(), W, 2);
      await setLease([expired!], -1);
      const freshBefore = await taskRowText(sql(), fresh!);

      expect(await reclaimAll()).toEqual({ requeued: 1, failed: 0 });

      const row = await readTask(sql(), expired!);
      expect(row.status).toBe("READY");
      expect(row.attempts).toBe(1); // the crashed run consumed its attempt
      expect(Math.abs(row.run_after_in!)).toBeLessThan(5);
      expect(row.leased_by).toBeNull();
      expect(row.has_lease).toBe(false);
      expect(row.last_error).toBeNull();
      expect(row.finished_age).toBeNull();
      expect(row.errors).toEqual([
        { kind: "lease_expiry", message: "Worker heartbeat lost or process crashed", at: expect.stringMatching(/Z$/) },
      ]);
      expect(await taskRowText(sql(), fresh!)).toBe(freshBefore);
    });

    test("an expired lease whose cancellation was requested is FAILED, not run again", async () => {
      const [id] = await insertClaimed(sql(), W, 1);
      await sql()`update task_runs set cancel_requested = true where result_id = ${id!}::bigint`;
      await setLease([id!], -1);
      expect(await reclaimAll()).toEqual({ requeued: 0, failed: 1 });
      const row = await readTask(sql(), id!);
      expect(row.status).toBe("FAILED");
      expect(row.last_error).toBe("lease_expiry: Worker heartbeat lost or process crashed");
    });

    test("an expired lease with no attempts left is FAILED (lease_expiry) and fails its chord callback and chain", async () => {
      const { workflowId, callback, group } = await insertChord(sql(), W, 2);
      const chain = await insertChain(sql(), W, 3);
      await sql()`update task_runs set attempts = max_attempts where result_id = any(${[group[0]!, chain[0]!]}::bigint[])`;
      await setLease([group[0]!, chain[0]!], -1);

      expect(await reclaimAll()).toEqual({ requeued: 0, failed: 2 });

      const member = await readTask(sql(), group[0]!);
      expect(member.status).toBe("FAILED");
      expect(member.last_error).toBe("lease_expiry: Worker heartbeat lost or process crashed");
      expect(isRecent(member.finished_age) && isRecent(member.failed_age)).toBe(true);
      expect(member.errors.map((e) => e.kind)).toEqual(["lease_expiry"]);
      expect(await readWorkflowRun(sql(), workflowId)).toEqual({ status: "FAILED", success_count: 0, failure_count: 1 });
      const cb = await readTask(sql(), callback);
      expect(cb.status).toBe("FAILED");
      expect(cb.errors[0]).toMatchObject({ kind: "workflow_failed", failed_result_id: Number(group[0]) });
      for (const id of chain.slice(1)) {
        const row = await readTask(sql(), id);
        expect(row.status).toBe("FAILED");
        expect(row.errors[0]!.kind).toBe("dependency_failed");
      }
      expect((await readTask(sql(), group[1]!)).status).toBe("RUNNING"); // its lease is fresh
    });

    test("a NULL lease is reclaimed once its last claim is older than the lease length, not before", async () => {
      const old = await insertTaskRow(sql(), { status: "RUNNING", leasedBy: W, leaseInSeconds: null, lastAttemptedInSeconds: -600, attempts: 1 });
      const recent = await insertTaskRow(sql(), { status: "RUNNING", leasedBy: W, leaseInSeconds: null, lastAttemptedInSeconds: -30, attempts: 1 });
      expect(await reclaimAll(300)).toEqual({ requeued: 1, failed: 0 });
      expect((await readTask(sql(), old)).status).toBe("READY");
      expect((await readTask(sql(), recent)).status).toBe("RUNNING");
    });

    test("works in batches of `limit`", async () => {
      const ids = await insertClaimed(sql(), W, 5);
      await setLease(ids, -1);
      expect(await taskReclaimExpired(sql(), { leaseSeconds: 300, limit: 2 })).toEqual({ requeued: 2, failed: 0 });
      expect(await reclaimAll(300, 2)).toEqual({ requeued: 3, failed: 0 });
    });

    test("SKIP LOCKED: rows locked elsewhere are skipped without waiting", async () => {
      const [locked, free] = await insertClaimed(sql(), W, 2);
      await setLease([locked!, free!], -1);
      const holder = await sql().reserve();
      try {
        await holder`begin`;
        await holder`select 1 from task_runs where result_id = ${locked!}::bigint for update`;
        const started = performance.now();
        expect(await taskReclaimExpired(sql(), { leaseSeconds: 300, limit: 100 })).toEqual({ requeued: 1, failed: 0 });
        expectQuick(performance.now() - started, 1_000, "a reclaim beside a locked row"); // waiting would never end
        await holder`rollback`;
      } finally {
        holder.release();
      }
      expect((await readTask(sql(), free!)).status).toBe("READY");
      expect(await reclaimAll()).toEqual({ requeued: 1, failed: 0 });
    });

    test("concurrent reclaimers never process a row twice", async () => {
      const ids = await insertClaimed(sql(), W, 120);
      await setLease(ids, -1);
      const totals = await Promise.all([1, 2, 3, 4].map(() => reclaimAll(300, 7)));
      expect(totals.reduce((n, t) => n + t.requeued + t.failed, 0)).toBe(120);
      const [check] = await sql()<{ ready: number; single_entry: number }[]>`
        select count(*) filter (where status = 'READY')::int as ready,
               count(*) filter (where jsonb_array_length(errors_json) = 1)::int as single_entry
        from task_runs where result_id = any(${ids}::bigint[])`;
      expect(check).toEqual({ ready: 120, single_entry: 120 });
    });
  });
});
