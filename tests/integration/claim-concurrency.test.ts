// Eight workers — eight separate pools, like eight processes — claim in a tight loop from 500 rows
// with concurrency_key (limit 2) groups, lock_key groups and rows with both, while a monitor
// samples the RUNNING rows per key continuously. Limits must hold at every sample, every row must
// be claimed exactly once, nothing may be lost.

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeDb, createDb, type Sql } from "../../src/db/client.ts";
import { taskClaimBatch } from "../../src/queue/claim.ts";
import type { TestDatabase } from "../helpers/db.ts";
import { claimSession, FLAVOURS, insertRows, openDatabase, type RowSpec } from "./claim-fixtures.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const WORKERS = 8;
const SLOTS = 4;
const CONCURRENCY_LIMIT = 2;

describe.each(FLAVOURS)("concurrent claimers (%s schema)", (flavour) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openDatabase(flavour);
  });
  afterAll(() => db?.drop());

  test.each([
    ["every claim a transaction", false],
    ["each worker with its claim route (one statement while its picks find no keyed rows)", true],
  ])("8 workers never exceed a concurrency_limit or run one lock_key twice; every row runs once: %s", async (_label, routed) => {
    await db.sql`TRUNCATE task_runs`;
    await insertRows(db.sql, buildRows());
    const pools = Array.from({ length: WORKERS + 1 }, () =>
      createDb({ dsn: db.dsn, env: {}, poolSize: 2, connectTimeoutMs: 10_000, prepare: true }));
    const monitorSql = pools[WORKERS]!;
    let done = false;
    const claimedBy = new Map<string, string>();
    const duplicates: string[] = [];
    const errors: unknown[] = [];

    const sessions: Sql[] = [];
    const worker = async (sql: Sql, workerId: string) => {
      const session = routed ? claimSession(db.dsn) : null;
      if (session) sessions.push(session);
      const route = session ? { session, keyed: false } : undefined;
      let inFlight = 0;
      const completions: Promise<void>[] = [];
      while (!done) {
        const free = SLOTS - inFlight;
        const batch = free > 0
          ? await taskClaimBatch(sql, { workerId, queues: ["q1", "q2"], limit: free, leaseSeconds: 60, priorityAgingFactor: 1 }, route)
          : [];
        for (const task of batch) {
          if (claimedBy.has(task.resultId)) duplicates.push(task.resultId);
          claimedBy.set(task.resultId, workerId);
          inFlight++;
          completions.push((async () => {
            await Bun.sleep(1 + Math.random() * 8); // the "run"
            await sql`UPDATE task_runs SET status = 'SUCCESSFUL', finished_at = NOW(), updated_at = NOW()
                      WHERE result_id = ${task.resultId} AND status = 'RUNNING' AND leased_by = ${workerId}`;
            inFlight--;
          })().catch((err) => void errors.push(err)));
        }
        if (batch.length === 0) await Bun.sleep(1);
      }
      await Promise.all(completions);
    };

    const samples = { count: 0, maxConcurrency: 0, maxLock: 0, maxRunning: 0 };
    const monitor = async () => {
      while (!done) {
        // One statement = one snapshot: the counts are a consistent instant of the table.
        const [row] = await monitorSql<{ conc: number; lock: number; running: number; left: number }[]>`
          SELECT (SELECT COALESCE(max(n), 0)::int FROM (SELECT count(*) AS n FROM task_runs
                    WHERE status = 'RUNNING' AND concurrency_key IS NOT NULL GROUP BY concurrency_key) c) AS conc,
                 (SELECT COALESCE(max(n), 0)::int FROM (SELECT count(*) AS n FROM task_runs
                    WHERE status = 'RUNNING' AND lock_key IS NOT NULL GROUP BY lock_key) l) AS lock,
                 (SELECT count(*)::int FROM task_runs WHERE status = 'RUNNING') AS running,
                 (SELECT count(*)::int FROM task_runs WHERE status <> 'SUCCESSFUL') AS left`;
        samples.count++;
        samples.maxConcurrency = Math.max(samples.maxConcurrency, row!.conc);
        samples.maxLock = Math.max(samples.maxLock, row!.lock);
        samples.maxRunning = Math.max(samples.maxRunning, row!.running);
        if (row!.left === 0) done = true;
      }
    };

    const deadline = setTimeout(() => (done = true), 60_000);
    try {
      await Promise.all([monitor(), ...pools.slice(0, WORKERS).map((sql, i) => worker(sql, `worker-${i}`))]);
    } finally {
      clearTimeout(deadline);
      await Promise.all([...pools, ...sessions].map((sql) => closeDb(sql, 1)));
    }

    expect(errors).toEqual([]);
    expect(duplicates).toEqual([]);
    expect(claimedBy.size).toBe(500);
    // The monitor really watched contention: it saw groups at their limit and parallel running rows,
    // so a limit broken for any sampled instant would have shown up.
    expect(samples.count).toBeGreaterThan(50);
    expect(samples.maxConcurrency).toBe(CONCURRENCY_LIMIT);
    expect(samples.maxLock).toBe(1);
    expect(samples.maxRunning).toBeGreaterThan(CONCURRENCY_LIMIT + 1);
    expect(new Set(claimedBy.values()).size).toBeGreaterThan(1);

    const [final] = await db.sql<{ rows: number; done: number; once: number }[]>`
      SELECT count(*)::int AS rows,
             count(*) FILTER (WHERE status = 'SUCCESSFUL')::int AS done,
             count(*) FILTER (WHERE attempts = 1 AND jsonb_array_length(worker_ids) = 1)::int AS once
      FROM task_runs`;
    expect(final).toEqual({ rows: 500, done: 500, once: 500 });
  }, 90_000);
});

/** 500 rows: 250 in 5 concurrency groups, 150 in 10 lock groups, 50 with both, 50 unkeyed. */
function buildRows(): RowSpec[] {
  const rows: RowSpec[] = [];
  const base = (i: number): RowSpec => ({ queue: i % 3 === 0 ? "q2" : "q1", priority: i % 3, ageSeconds: (i * 7) % 90 });
  for (let i = 0; i < 250; i++) rows.push({ ...base(i), concurrencyKey: `conc-${i % 5}`, concurrencyLimit: CONCURRENCY_LIMIT });
  for (let i = 0; i < 150; i++) rows.push({ ...base(i), lockKey: `lock-${i % 10}` });
  for (let i = 0; i < 50; i++) {
    rows.push({ ...base(i), lockKey: `both-${i % 5}`, concurrencyKey: `conc-${i % 5}`, concurrencyLimit: CONCURRENCY_LIMIT });
  }
  for (let i = 0; i < 50; i++) rows.push(base(i));
  return rows;
}
