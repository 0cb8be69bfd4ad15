// The metrics collector's database-wide counts, on both schemas.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import postgres from "postgres";
import { queuePause } from "../../src/queue/controls.ts";
import { workerRegister } from "../../src/queue/registry.ts";
import { statsConcurrencyBlocked, statsLiveWorkers, statsPausedQueues, statsTaskCounts } from "../../src/queue/stats.ts";
import { insertTaskRow, TASK_SCHEMAS, useTaskDatabase } from "../helpers/tasks.ts";

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  Plans?: PlanNode[];
}

function* walk(node: PlanNode): Generator<PlanNode> {
  yield node;
  for (const child of node.Plans ?? []) yield* walk(child);
}

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

  test("the blocked count never reads the READY backlog: index probes per running key only", async () => {
    // 20,000 unkeyed READY rows (the backlog) and a few keyed ones.
    await sql()`
      insert into task_runs (backend_alias, queue_name, priority, spec_json, spec_hash, task_path, status, enqueued_at,
        attempts, max_attempts, timeout_seconds, concurrency_limit, wait_count, worker_ids, errors_json, metadata_json,
        created_at, updated_at, cancel_requested)
      select 'default', 'bulk', 0, '{}'::jsonb, md5(i::text) || md5(i::text || 'x'), 'tasks.bulk', 'READY', now(), 0, 3, 900, 0, 0,
        '[]'::jsonb, '[]'::jsonb, '{}'::jsonb, now(), now(), false
      from generate_series(1, 20000) as i`;
    await sql()`analyze task_runs`;
    const expected = await statsConcurrencyBlocked(sql()); // keyed rows from the previous test
    expect(expected).toBe(2);
    let captured = "";
    const { host, port, database, user, pass } = sql().options;
    const capture = postgres({
      host: host[0], port: port[0], database, user, pass: pass ?? undefined, max: 1, onnotice: () => {},
      debug: (_connection, query) => {
        if (query.includes("LATERAL")) captured = query;
      },
    });
    try {
      expect(await statsConcurrencyBlocked(capture)).toBe(2);
      const [row] = await capture.unsafe(`EXPLAIN (FORMAT JSON) ${captured}`);
      const plan = (row!["QUERY PLAN"] as { Plan: PlanNode }[])[0]!.Plan;
      const scans = [...walk(plan)].filter((node) => node["Relation Name"] === "task_runs").map((node) => node["Node Type"]);
      expect(scans.length).toBeGreaterThan(0);
      expect(scans).not.toContain("Seq Scan");
      expect(scans).not.toContain("Bitmap Heap Scan");
    } finally {
      await capture.end({ timeout: 1 });
    }
  });
});

