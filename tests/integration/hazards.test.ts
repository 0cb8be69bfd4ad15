// The database's hazards on a real server: a REPEATABLE READ snapshot held on another connection
// is named (pid, application, state, age) by the statement and by the worker's metrics; task_runs'
// dead rows are counted; a session blocked by an ACCESS EXCLUSIVE lock on task_runs names its
// blocker; pg_stat_statements that exists but is not preloaded falls back to the WAL position, and
// one that is preloaded (a private server started with it) gives statements and WAL per task.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { DbOperations } from "../../src/observability/db-operations.ts";
import { boundedReads } from "../../src/db/bounded.ts";
import { collectHazards, HAZARD_BOUNDS, TaskCostSampler } from "../../src/observability/hazards.ts";
import { Metrics } from "../../src/observability/metrics.ts";
import { dbHorizonHolderRead, dbTaskRunsLockWaitRead, dbTaskRunsVacuumRead } from "../../src/queue/hazards.ts";
import { closeDb, createDb } from "../../src/db/client.ts";
import { createTestDatabase, startEmbeddedServer, type TestDatabase } from "../helpers/db.ts";
import { HazardSessions } from "../helpers/hazards.ts";
import { parsePrometheusText } from "../helpers/prom.ts";
import { enqueue, waitFor } from "../helpers/worker.ts";

setDefaultTimeout(60_000);

let db: TestDatabase;
let sessions: HazardSessions;

beforeAll(async () => {
  db = await createTestDatabase({ flavour: "reproq", label: "hazards" });
  sessions = new HazardSessions(db.dsn);
});
afterAll(async () => {
  await sessions.close();
  await db.drop();
});



describe("xmin horizon holder", () => {
  test("a REPEATABLE READ snapshot on another connection is the holder, with its pid, application and state", async () => {
    const holder = await sessions.holdSnapshot("hazard-test-holder");
    try {
      await Bun.sleep(1_100);
      const found = await boundedReads(db.sql, HAZARD_BOUNDS, (tx) => dbHorizonHolderRead(tx));
      expect(found).not.toBeNull();
      expect(found!.kind).toBe("backend");
      expect(found!.pid).toBe(holder.pid);
      expect(found!.application).toBe("hazard-test-holder");
      expect(found!.state).toBe("idle in transaction");
      expect(found!.ageSeconds!).toBeGreaterThanOrEqual(1);
      expect(found!.query).toContain("pg_backend_pid");
    } finally {
      await holder.release();
    }
  });

  test("the worker's metrics name the single oldest holder and drop it once it ends", async () => {
    const older = await sessions.holdSnapshot("hazard-test-older");
    await Bun.sleep(300);
    const younger = await sessions.holdSnapshot("hazard-test-younger");
    const metrics = new Metrics({ processMetrics: false });
    try {
      await Bun.sleep(1_000);
      await collectHazards(db.sql, metrics);
      const text = await metrics.registry.metrics();
      const families = parsePrometheusText(text);
      const info = families.get("reproq_db_xmin_horizon_holder_info")!.samples;
      expect(info).toHaveLength(1);
      expect(info[0]!.labels).toEqual({ kind: "backend", pid: String(older.pid), application_name: "hazard-test-older", state: "idle in transaction" });
      expect(info[0]!.value).toBe(1);
      const age = families.get("reproq_db_xmin_horizon_age_seconds")!.samples[0]!.value;
      expect(age).toBeGreaterThanOrEqual(1);
      expect(age).toBeLessThan(60);
      expect(families.get("reproq_db_hazards_collect_success")!.samples[0]!.value).toBe(1);
    } finally {
      await older.release();
      await younger.release();
    }
    await collectHazards(db.sql, metrics);
    const after = parsePrometheusText(await metrics.registry.metrics());
    const remaining = after.get("reproq_db_xmin_horizon_holder_info")?.samples ?? [];
    expect(remaining.map((s) => s.labels.application_name)).not.toContain("hazard-test-older");
  });
});

describe("task_runs statistics", () => {
  test("dead rows left by deletes are counted", async () => {
    await enqueue(db.sql, Array.from({ length: 200 }, () => ({ taskPath: "tasks.noop" })));
    await db.sql`delete from task_runs`;
    const stats = await waitFor(async () => {
      const read = await dbTaskRunsVacuumRead(db.sql);
      return read && read.deadTuples >= 200 ? read : null;
    }, { what: "n_dead_tup to reach 200", timeoutMs: 20_000 });
    expect(stats.deadTuples).toBeGreaterThanOrEqual(200);
    await db.sql`vacuum task_runs`;
    const vacuumed = await waitFor(async () => {
      const read = await dbTaskRunsVacuumRead(db.sql);
      return read && read.vacuumAgeSeconds !== null ? read : null;
    }, { what: "last_vacuum to be set", timeoutMs: 20_000 });
    expect(vacuumed.vacuumAgeSeconds!).toBeLessThan(60);
    expect(vacuumed.lastVacuum).toBeInstanceOf(Date);
  });
});

describe("locks on task_runs", () => {
  test("a write waiting behind an ACCESS EXCLUSIVE lock names the lock's holder", async () => {
    const locker = await sessions.connect("hazard-test-locker").reserve();
    await locker`begin`;
    await locker`lock table task_runs in access exclusive mode`;
    const [lockerRow] = await locker<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const lockerPid = lockerRow!.pid;
    const writer = sessions.connect("hazard-test-writer");
    const blocked = writer`update task_runs set priority = priority where false`.catch(() => {});
    try {
      const wait = await waitFor(async () => dbTaskRunsLockWaitRead(db.sql), { what: "the blocked writer", timeoutMs: 10_000 });
      expect(wait.waiting).toBe(1);
      expect(wait.wantedMode).toBe("RowExclusiveLock");
      expect(wait.blockerPid).toBe(lockerPid);
      expect(wait.blockerApplication).toBe("hazard-test-locker");
      expect(wait.blockerState).toBe("idle in transaction");
      expect(wait.blockerMode).toBe("AccessExclusiveLock");
      // The hazard reads themselves take no lock on task_runs: they answer while it is held.
      const metrics = new Metrics({ processMetrics: false });
      await collectHazards(db.sql, metrics);
      const families = parsePrometheusText(await metrics.registry.metrics());
      expect(families.get("reproq_task_runs_lock_waiters")!.samples[0]!.value).toBe(1);
    } finally {
      await locker`rollback`;
      locker.release();
      await blocked;
    }
    expect(await dbTaskRunsLockWaitRead(db.sql)).toBeNull();
  });
});

describe("cost per task", () => {
  test("pg_stat_statements created but not preloaded: WAL per task comes from the WAL position", async () => {
    await db.sql`create extension if not exists pg_stat_statements`.catch(() => {});
    const metrics = new Metrics({ processMetrics: false });
    const ops = new DbOperations(metrics, 5);
    const sampler = new TaskCostSampler(db.sql, metrics, ops);
    await sampler.collect();
    await ops.run(null, () => db.sql`insert into reproq_queue_controls (queue_name, paused) values ('cost-test', false)`);
    metrics.tasksCompleted.inc({ queue: "default", status: "success" }, 2);
    await sampler.collect();
    const families = parsePrometheusText(await metrics.registry.metrics());
    const wal = families.get("reproq_database_wal_bytes_per_task")!.samples;
    expect(wal).toHaveLength(1);
    expect(wal[0]!.labels).toEqual({ source: "wal_lsn" });
    expect(wal[0]!.value).toBeGreaterThan(0);
    // Backends flush their commit counts to pg_stat_database lazily (up to 10 s later): present, not exact.
    expect(families.get("reproq_database_commits_per_task")!.samples[0]!.value).toBeGreaterThanOrEqual(0);
    // One operation of this worker (the insert; the sampler reads outside DbOperations) over two tasks.
    expect(families.get("reproq_worker_db_operations_per_task")!.samples[0]!.value).toBe(0.5);
  });
});

describe("pg_stat_statements preloaded (a private server)", () => {
  test("statements and WAL per task come from the worker's role in this database", async () => {
    const server = await startEmbeddedServer({ extraFlags: ["-c", "shared_preload_libraries=pg_stat_statements"] });
    const sql = createDb({ dsn: server.dsn, env: {}, poolSize: 2, connectTimeoutMs: 10_000, prepare: true });
    try {
      await sql`create extension pg_stat_statements`;
      await sql`create table cost_probe (n int)`;
      const metrics = new Metrics({ processMetrics: false });
      const ops = new DbOperations(metrics, 5);
      const sampler = new TaskCostSampler(sql, metrics, ops);
      await sampler.collect();
      for (let i = 0; i < 4; i++) await ops.run(null, () => sql`insert into cost_probe values (${i})`);
      metrics.tasksCompleted.inc({ queue: "default", status: "success" }, 2);
      await sampler.collect();
      const families = parsePrometheusText(await metrics.registry.metrics());
      const statements = families.get("reproq_database_role_statements_per_task")!.samples;
      expect(statements.map((s) => s.labels)).toEqual([{ source: "pg_stat_statements" }]);
      expect(statements[0]!.value).toBeGreaterThanOrEqual(2); // 4 inserts over 2 tasks, plus the sampler's own reads
      const wal = families.get("reproq_database_wal_bytes_per_task")!.samples;
      expect(wal.map((s) => s.labels)).toEqual([{ source: "pg_stat_statements" }]);
      expect(wal[0]!.value).toBeGreaterThan(0);
    } finally {
      await closeDb(sql);
      await server.stop();
    }
  }, 180_000);
});
