// A worker's JavaScript heap must not grow with the number of tasks it has run: whatever it keeps
// per task (maps, listeners, promises, metric label sets, loggers) has to be let go once the row
// is written. Runs the Worker in-process (bun-inprocess and command kinds), metrics and events on
// (as with an HTTP server), and compares live object counts after a full GC between a warm-up and
// a run several times as long.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { heapStats } from "bun:jsc";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Sql } from "../../src/db/client.ts";
import { createExecutor } from "../../src/executor/index.ts";
import { EventBroker } from "../../src/observability/events.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { Metrics } from "../../src/observability/metrics.ts";
import { Worker } from "../../src/worker/runtime.ts";
import { Telemetry } from "../../src/worker/telemetry.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { testEnv, workerConfig } from "../helpers/executors/index.ts";
import { waitFor } from "../helpers/worker.ts";

setDefaultTimeout(120_000); // also when run as plain `bun test` (its default is 5 s)

const tasksDir = mkdtempSync(join(tmpdir(), "reproq-memory-tasks-"));
writeFileSync(join(tasksDir, "mem.ts"), "export function noop() {\n  return null;\n}\n");
afterAll(() => {
  rmSync(tasksDir, { recursive: true, force: true });
});

/** `count` READY no-op rows, each with its own spec (distinct args) and hash, in one statement. */
async function enqueueNoops(sql: Sql, count: number): Promise<void> {
  await sql`
    insert into task_runs (backend_alias, queue_name, priority, spec_json, spec_hash, task_path, status, enqueued_at,
      attempts, max_attempts, timeout_seconds, concurrency_limit, wait_count, worker_ids, errors_json, metadata_json,
      created_at, updated_at, cancel_requested)
    select 'default', 'default', 0, jsonb_build_object('task_path', 'mem.noop', 'args', jsonb_build_array(i), 'kwargs', '{}'::jsonb),
      md5(random()::text || i) || md5(i::text), 'mem.noop', 'READY', clock_timestamp(), 0, 1, 900, 0, 0,
      '[]'::jsonb, '[]'::jsonb, '{}'::jsonb, now(), now(), false
    from generate_series(1, ${count}) as i`;
}

async function drained(sql: Sql, total: number): Promise<void> {
  await waitFor(async () => {
    const [row] = await sql<{ done: number }[]>`select count(*)::int as done from task_runs where status = 'SUCCESSFUL'`;
    return (row?.done ?? 0) >= total;
  }, { timeoutMs: 90_000, intervalMs: 100, what: `${total} tasks done` });
  await Bun.sleep(200); // let the last tasks' bookkeeping finish
}

function liveObjects(): { total: number; promises: number; functions: number } {
  Bun.gc(true);
  const stats = heapStats();
  return { total: stats.objectCount, promises: stats.objectTypeCounts.Promise ?? 0, functions: stats.objectTypeCounts.Function ?? 0 };
}

const KINDS = [
  // bun-inprocess: the whole pipeline with no process in between, so the most tasks per second.
  { kind: "bun-inprocess", warm: 300, total: 3_000, config: { tasksDir } },
  // command: a process per task (the executor's pipes, lifeline and timers).
  { kind: "command", warm: 200, total: 1_200, config: { executorCommand: ["/bin/sh", "-c", `cat > /dev/null; echo '{"ok": true}'`] } },
] as const;

async function workerRun(db: TestDatabase, { kind, warm, total, config }: (typeof KINDS)[number]): Promise<void> {
  const worker = workerConfig({
    executor: kind, ...config, concurrency: 8, claimBatchSize: 8, allowedTaskModules: ["mem."], pollMinBackoffMs: 20, pollMaxBackoffMs: 200,
  });
  const runtime = new Worker({
    sql: db.sql,
    worker,
    executor: createExecutor({ worker, env: testEnv() }),
    logger: silentLogger,
    identity: { workerId: worker.workerId, hostname: "test", concurrency: worker.concurrency, queues: worker.queues, version: "test" },
    telemetry: new Telemetry({ metrics: new Metrics(), events: new EventBroker(), workerId: worker.workerId, role: "worker", poolSize: 10 }),
  });
  const running = runtime.run();
  try {
    await enqueueNoops(db.sql, warm);
    await drained(db.sql, warm);
    const before = liveObjects();
    await enqueueNoops(db.sql, total - warm);
    await drained(db.sql, total);
    const after = liveObjects();
    // Hundreds more tasks: a leak of even one promise or closure per task shows as hundreds.
    const grown = { promises: after.promises - before.promises, functions: after.functions - before.functions, objects: after.total - before.total };
    expect(grown).toMatchObject({ promises: grown.promises < 300 ? grown.promises : "< 300" });
    expect(grown).toMatchObject({ functions: grown.functions < 300 ? grown.functions : "< 300" });
    expect(grown).toMatchObject({ objects: grown.objects < 3_000 ? grown.objects : "< 3000" });
  } finally {
    runtime.requestShutdown();
    await running;
  }
}

test.each(KINDS)("$kind: live objects stay flat from $warm to $total tasks (nothing kept per task)", async (run) => {
  const db = await createTestDatabase({ flavour: "reproq", label: `memory_${run.kind.replace("-", "_")}` });
  try {
    await workerRun(db, run);
  } finally {
    await db.drop();
  }
});
