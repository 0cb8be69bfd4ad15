// The worker side of dead-worker detection (src/worker/liveness.ts) against a real Postgres: a
// worker that cannot renew its registry row stops its own tasks before its deadline, a renewal
// lifts that, a rescue round declares a dead worker dead, and a schema without alive_until (Go's,
// before `reproq migrate`) keeps working without any of it.

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { DbOperations } from "../../src/observability/db-operations.ts";
import type { WorkerIdentity } from "../../src/queue/registry.ts";
import { Liveness, livenessTimings } from "../../src/worker/liveness.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { memoryLogger, type LogLine } from "../helpers/memory-logger.ts";
import { insertClaimed, readTask } from "../helpers/tasks.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const databases: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

const identity = (workerId: string): WorkerIdentity => ({ workerId, hostname: "host-1", concurrency: 2, queues: ["default"], version: "0.1.0" });

function liveness(db: TestDatabase, workerId: string, lines: LogLine[], onLost: () => void, heartbeatSeconds = 1): Liveness {
  return new Liveness({
    sql: db.sql,
    logger: memoryLogger(lines),
    identity: identity(workerId),
    db: new DbOperations(null, 1),
    heartbeatSeconds,
    deadWorkerHeartbeats: 1.5,
    onLost,
  });
}

async function database(flavour: "reproq" | "go"): Promise<TestDatabase> {
  const db = await createTestDatabase({ flavour, label: `liveness_${flavour}` });
  databases.push(db);
  return db;
}

test("timings: dead after N·H, checked every H/6, own tasks stopped H/6 before the deadline", () => {
  expect(livenessTimings(30, 1.5)).toEqual({ deadAfterMs: 45_000, checkMs: 5_000, stopOwnTasksAfterMs: 40_000 });
  // With the defaults a killed worker is rescued at most 50 s after its last renewal: under two heartbeats.
  const { deadAfterMs, checkMs } = livenessTimings(30, 1.5);
  expect(deadAfterMs + checkMs).toBeLessThan(2 * 30_000);
});

describe("with alive_until (reproq schema)", () => {
  test("no renewal: tasks stopped once, after N·H − H/6; a renewal lifts it", async () => {
    const db = await database("reproq");
    const lines: LogLine[] = [];
    let lost = 0;
    const live = liveness(db, "w-alone", lines, () => lost++);
    const registeredAt = performance.now();
    await live.register(new AbortController().signal);
    try {
      // Nothing renews the row: heartbeat 1 s, dead after 1.5 s, own tasks stopped after ~1.33 s.
      while (lost === 0 && performance.now() - registeredAt < 5_000) await Bun.sleep(10);
      const stoppedAfter = performance.now() - registeredAt;
      expect(lost).toBe(1);
      expect(stoppedAfter).toBeGreaterThan(1_250);
      expect(stoppedAfter).toBeLessThan(1_500 + 500);
      expect(live.lost).toBe(true);
      expect(lines.find((line) => line.level === "error")?.msg).toBe("Lost the registry heartbeat; stopping running tasks before other workers declare this worker dead");
      await Bun.sleep(300);
      expect(lost).toBe(1);

      await live.heartbeatRound(new AbortController().signal)();
      expect(live.lost).toBe(false);
      expect(lines.some((line) => line.msg === "Registry heartbeat renewed; claiming tasks again")).toBe(true);
      const [row] = await db.sql<{ alive_in: number }[]>`select extract(epoch from alive_until - now())::float8 as alive_in from reproq_workers where worker_id = 'w-alone'`;
      expect(row!.alive_in).toBeGreaterThan(1);
    } finally {
      live.stop();
    }
  });

  test("a rescue round declares a worker past its deadline dead, requeues its rows and says so", async () => {
    const db = await database("reproq");
    const lines: LogLine[] = [];
    const victim = liveness(db, "w-victim", [], () => {});
    await victim.register(new AbortController().signal);
    victim.stop(); // the victim "dies": no more renewals
    const [id] = await insertClaimed(db.sql, "w-victim", 1);
    const rescuer = liveness(db, "w-rescuer", lines, () => {});
    await rescuer.register(new AbortController().signal);
    try {
      await rescuer.rescueRound()();
      expect((await readTask(db.sql, id!)).status).toBe("RUNNING"); // not dead yet
      await Bun.sleep(1_600);
      await rescuer.rescueRound()();
      expect((await readTask(db.sql, id!)).status).toBe("READY");
      const logged = lines.find((line) => line.msg === "Declared a worker dead; its running tasks were requeued");
      expect(logged?.attrs).toMatchObject({ dead_worker_id: "w-victim", requeued: 1, failed: 0 });
    } finally {
      rescuer.stop();
    }
  });
});

describe("starting under the id of a previous run (a restart after a crash)", () => {
  test("a run that died: wait for its deadline, requeue its rows, then register", async () => {
    const db = await database("reproq");
    const previous = liveness(db, "w-same", [], () => {});
    await previous.register(new AbortController().signal);
    previous.stop(); // crashed: no more renewals, no deregistration
    const [id] = await insertClaimed(db.sql, "w-same", 1);
    const lines: LogLine[] = [];
    const next = liveness(db, "w-same", lines, () => {});
    let ticks = 0;
    const started = performance.now();
    try {
      await next.register(new AbortController().signal, () => ticks++);
      expect(performance.now() - started).toBeGreaterThan(1_000); // the previous deadline was ~1.5 s away
      expect(ticks).toBeGreaterThan(0);
      const row = await readTask(db.sql, id!);
      expect(row.status).toBe("READY");
      expect(row.errors.map((e) => e.kind)).toEqual(["worker_lost"]);
      expect(next.registered).toBe(true);
      const [registry] = await db.sql<{ alive_in: number }[]>`select extract(epoch from alive_until - now())::float8 as alive_in from reproq_workers where worker_id = 'w-same'`;
      expect(registry!.alive_in).toBeGreaterThan(0);
      expect(lines.map((line) => line.msg)).toEqual([
        "This worker id is still registered by a run that did not deregister; waiting for its deadline before taking over",
        "Requeued the tasks of this worker id's previous run",
      ]);
    } finally {
      next.stop();
    }
  });

  test("a live worker with the same id: reported, its rows left alone", async () => {
    const db = await database("reproq");
    const other = liveness(db, "w-dup", [], () => {});
    await other.register(new AbortController().signal);
    const [id] = await insertClaimed(db.sql, "w-dup", 1);
    const beating = new AbortController();
    const beat = other.heartbeatRound(beating.signal);
    const heartbeats = (async () => {
      while (!beating.signal.aborted) {
        await Bun.sleep(300);
        await beat();
      }
    })();
    const lines: LogLine[] = [];
    const next = liveness(db, "w-dup", lines, () => {});
    try {
      await next.register(new AbortController().signal);
      expect(lines.some((line) => line.level === "error" && line.msg.startsWith("Another live worker uses this worker id"))).toBe(true);
      expect((await readTask(db.sql, id!)).status).toBe("RUNNING");
    } finally {
      beating.abort();
      await heartbeats;
      other.stop();
      next.stop();
    }
  });

  test("stopped while waiting: the previous run's row is left as it was", async () => {
    const db = await database("reproq");
    const previous = liveness(db, "w-stop", [], () => {});
    await previous.register(new AbortController().signal);
    previous.stop();
    const next = liveness(db, "w-stop", [], () => {});
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 200);
    await next.register(stop.signal);
    expect(next.registered).toBe(false);
    next.stop();
  });
});

describe("without alive_until (a Go schema before reproq migrate)", () => {
  test("registers and heartbeats as before, warns once, rescues nothing and never stops its own tasks", async () => {
    const db = await database("go");
    await db.sql`insert into reproq_workers (worker_id, hostname, concurrency, queues, started_at, last_seen_at, version)
                 values ('w-old', 'h', 1, '[]', now() - interval '1 hour', now() - interval '1 hour', '0.0.1')`;
    const lines: LogLine[] = [];
    let lost = 0;
    const live = liveness(db, "w-go", lines, () => lost++);
    try {
      await live.register(new AbortController().signal);
      await live.heartbeatRound(new AbortController().signal)();
      await live.rescueRound()();
      await Bun.sleep(1_600); // past the deadline it would have had
      expect(lost).toBe(0);
      expect(live.lost).toBe(false);
      const workers = await db.sql<{ worker_id: string; seen_age: number }[]>`
        select worker_id, extract(epoch from now() - last_seen_at)::float8 as seen_age from reproq_workers order by worker_id`;
      expect(workers.map((w) => w.worker_id)).toEqual(["w-go", "w-old"]);
      expect(workers[0]!.seen_age).toBeLessThan(5);
      const warnings = lines.filter((line) => line.level === "warn");
      expect(warnings.map((line) => line.msg)).toEqual([
        "reproq_workers has no alive_until column (run `reproq migrate`): dead workers are not detected; their tasks wait for their leases to expire",
      ]);
    } finally {
      live.stop();
    }
  });
});
