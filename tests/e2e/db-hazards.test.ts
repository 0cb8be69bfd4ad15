// The database's hazards as an operator meets them, with the compiled binary and a real database:
// /healthz turns 503 while an ACCESS EXCLUSIVE lock on task_runs holds a finished task's result
// write (SELECT 1 still answers), recovers when the lock is released, and the results are then
// recorded; /metrics and `reproq doctor` name a REPEATABLE READ snapshot held on another connection.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { runBinary } from "../helpers/binary.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { HazardSessions } from "../helpers/hazards.ts";
import { freePort } from "../helpers/net.ts";
import { parsePrometheusText } from "../helpers/prom.ts";
import { baseWorkerArgs, enqueue, startWorker, statusCounts, stopWorker, waitFor, type WorkerProcess } from "../helpers/worker.ts";

setDefaultTimeout(90_000);

let db: TestDatabase;
let sessions: HazardSessions;

beforeAll(async () => {
  db = await createTestDatabase({ flavour: "reproq", label: "db_hazards" });
  sessions = new HazardSessions(db.dsn);
});
afterAll(async () => {
  await sessions.close();
  await db.drop();
});


async function startServing(env: Record<string, string> = {}, concurrency = 4): Promise<{ worker: WorkerProcess; base: string }> {
  const port = await freePort();
  const worker = startWorker([...baseWorkerArgs(db.dsn), "--metrics-addr", `127.0.0.1:${port}`, "--metrics-collect-interval", "300ms", "--concurrency", String(concurrency)], env);
  await waitFor(async () => worker.logs.some((line) => line.msg === "Serving health and metrics"), { what: "the HTTP server", timeoutMs: 20_000 });
  return { worker, base: `http://127.0.0.1:${port}` };
}

async function health(base: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${base}/healthz?verbose=1`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("/healthz and a lock on task_runs", () => {
  test("an idle worker whose claims wait behind the lock: 503 claims_stalled, then 200", async () => {
    const { worker, base } = await startServing({ REPROQ_HEALTH_STALL_TIMEOUT: "1s" });
    try {
      await waitFor(async () => (await health(base)).status === 200, { what: "a healthy worker", timeoutMs: 15_000 });
      const locker = await sessions.connect("hazard-e2e-claim-locker").reserve();
      await locker`begin`;
      await locker`lock table task_runs in access exclusive mode`;
      try {
        const unhealthy = await waitFor(async () => {
          const answer = await health(base);
          return answer.status === 503 ? answer : null;
        }, { what: "/healthz to report the stalled claims", timeoutMs: 20_000, intervalMs: 250 });
        expect(unhealthy.body.reasons).toEqual(["claims_stalled"]);
        expect((unhealthy.body.claims as { stalled_ms: number }).stalled_ms).toBeGreaterThan(1_000);
      } finally {
        await locker`rollback`;
        locker.release();
      }
      await waitFor(async () => (await health(base)).status === 200, { what: "/healthz to recover", timeoutMs: 20_000 });
    } finally {
      expect(await stopWorker(worker)).toBe(0);
    }
  });

  test("503 with result_writes_stalled while the lock holds finished results; 200 and every result recorded after", async () => {
    // Set through the environment so an older binary (no such flag) still runs and shows the old
    // behaviour. Three slots for three tasks.
    const { worker, base } = await startServing({ REPROQ_HEALTH_STALL_TIMEOUT: "2s" }, 3);
    try {
      await waitFor(async () => (await health(base)).status === 200, { what: "a healthy worker", timeoutMs: 15_000 });
      const ids = await enqueue(db.sql, Array.from({ length: 3 }, () => ({ taskPath: "tasks.sleepy", kwargs: { mode: "sleep", seconds: 1.5 } })));
      await waitFor(async () => (await statusCounts(db.sql)).RUNNING === 3, { what: "three RUNNING tasks", timeoutMs: 20_000 });

      const locker = await sessions.connect("hazard-e2e-locker").reserve();
      await locker`begin`;
      await locker`lock table task_runs in access exclusive mode`;
      const lockedAt = performance.now();
      let unhealthy: { status: number; body: Record<string, unknown> };
      try {
        unhealthy = await waitFor(async () => {
          const answer = await health(base);
          return answer.status === 503 ? answer : null;
        }, { what: "/healthz to report the stalled result writes", timeoutMs: 30_000, intervalMs: 250 });
        // The tasks finish after ~1.5 s and the threshold is 2 s: not before 3 s under the lock.
        expect(performance.now() - lockedAt).toBeGreaterThan(2_500);
        expect(unhealthy.body.status).toBe("unhealthy");
        // The slots free up when the tasks return, so a claim now waits behind the lock too.
        expect(unhealthy.body.reasons).toContain("result_writes_stalled");
        expect((unhealthy.body.database as { ok: boolean }).ok).toBe(true);
        const writes = unhealthy.body.result_writes as { ok: boolean; pending: number; stalled_ms: number };
        expect(writes.ok).toBe(false);
        expect(writes.pending).toBeGreaterThanOrEqual(1);
        expect(writes.stalled_ms).toBeGreaterThan(2_000);
        // The plain answer too (what a load balancer sees).
        const plain = await fetch(`${base}/healthz`);
        expect(plain.status).toBe(503);
        expect(await plain.text()).toBe("unhealthy");
        // /metrics still answers and counts the waiters.
        const families = parsePrometheusText(await (await fetch(`${base}/metrics`)).text());
        await waitFor(async () => {
          const fresh = parsePrometheusText(await (await fetch(`${base}/metrics`)).text());
          return (fresh.get("reproq_task_runs_lock_waiters")?.samples[0]?.value ?? 0) >= 1;
        }, { what: "reproq_task_runs_lock_waiters ≥ 1", timeoutMs: 10_000 });
        expect(families.has("reproq_db_xmin_horizon_age_seconds")).toBe(true);
      } finally {
        await locker`rollback`;
        locker.release();
      }
      const healthy = await waitFor(async () => {
        const answer = await health(base);
        return answer.status === 200 ? answer : null;
      }, { what: "/healthz to recover", timeoutMs: 20_000, intervalMs: 250 });
      expect(healthy.body.reasons).toBeUndefined();
      await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === 3, { what: "every result recorded", timeoutMs: 20_000 });
      const rows = await db.sql<{ status: string; attempts: number }[]>`select status, attempts from task_runs where result_id in ${db.sql(ids)}`;
      expect(rows.map((row) => [row.status, row.attempts])).toEqual([["SUCCESSFUL", 1], ["SUCCESSFUL", 1], ["SUCCESSFUL", 1]]);
    } finally {
      expect(await stopWorker(worker)).toBe(0);
    }
  });
});


describe("a held snapshot", () => {
  test("/metrics names its pid, application and state", async () => {
    const holder = await sessions.holdSnapshot("hazard-e2e-snapshot");
    const { worker, base } = await startServing();
    try {
      const line = await waitFor(async () => {
        const text = await (await fetch(`${base}/metrics`)).text();
        return text.split("\n").find((l) => l.startsWith("reproq_db_xmin_horizon_holder_info{") && l.includes(`pid="${holder.pid}"`)) ?? null;
      }, { what: "the holder series", timeoutMs: 20_000 });
      expect(line).toBe(`reproq_db_xmin_horizon_holder_info{kind="backend",pid="${holder.pid}",application_name="hazard-e2e-snapshot",state="idle in transaction"} 1`);
      const families = parsePrometheusText(await (await fetch(`${base}/metrics`)).text());
      expect(families.get("reproq_db_xmin_horizon_age_seconds")!.samples[0]!.value).toBeGreaterThan(0);
      expect(families.get("reproq_db_hazards_collect_success")!.samples[0]!.value).toBe(1);
      expect(families.get("reproq_task_runs_dead_tuples")!.type).toBe("gauge");
    } finally {
      expect(await stopWorker(worker)).toBe(0);
      await holder.release();
    }
  });

  test("`reproq doctor` names the holder (pid, application, state, age) and task_runs' vacuum state", async () => {
    const holder = await sessions.holdSnapshot("hazard-e2e-doctor");
    try {
      await Bun.sleep(1_100);
      const result = await runBinary(["doctor", "--dsn", db.dsn]);
      const line = result.stdout.split("\n").find((l) => l.includes("xmin horizon")) ?? "";
      expect(line).toContain(`pid ${holder.pid}`);
      expect(line).toContain(`application "hazard-e2e-doctor"`);
      expect(line).toContain("idle in transaction");
      expect(line).toMatch(/transaction open \d+ s/);
      expect(line).toMatch(/query started \d{4}-\d\d-\d\dT/);
      expect(result.stdout).toMatch(/task_runs vacuum: .*dead rows/);
      const json = JSON.parse((await runBinary(["doctor", "--json", "--dsn", db.dsn])).stdout) as { checks: { name: string; status: string; detail: string }[] };
      const check = json.checks.find((c) => c.name === "xmin horizon")!;
      expect(check.status).toBe("ok"); // 1 s old: under the warning threshold
      expect(check.detail).toContain(`pid ${holder.pid}`);
    } finally {
      await holder.release();
    }
  });
});
