// Many workers racing, and a database outage while tasks run: no task lost, none run twice,
// limits never exceeded, nothing left RUNNING.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDsn } from "../../src/db/dsn.ts";
import { buildDsn, createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { EXECUTORS_DIR } from "../helpers/executors/index.ts";
import { startTcpProxy } from "../helpers/tcp-proxy.ts";
import { baseWorkerArgs, enqueue, startWorker, statusCounts, stopWorker, waitFor, type EnqueueRow } from "../helpers/worker.ts";
import { expectQuick } from "../helpers/timing.ts";
import { checkLedger, expectNoFaults, ledgerRows, readLedger, summarize } from "../helpers/ledger.ts";

setDefaultTimeout(180_000); // fault tests wait out leases, outages and slow polls

const databases: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

async function database(label: string): Promise<TestDatabase> {
  const db = await createTestDatabase({ flavour: "reproq", label });
  databases.push(db);
  return db;
}

/** A shell executor that consumes the payload, takes ~50 ms and succeeds (cheap on 2 cores). */
const SLEEPY = ["/bin/sh", join(EXECUTORS_DIR, "sleepy.sh")];

describe("4 workers × concurrency 8 over 2,000 tasks", () => {
  test("every task runs exactly once; concurrency and lock keys hold; a paused queue waits", async () => {
    const db = await database("race");
    const rows: EnqueueRow[] = [];
    for (let i = 0; i < 2000; i++) {
      const row: EnqueueRow = { queue: i % 2 === 0 ? "a" : "b" };
      if (i % 5 === 0) Object.assign(row, { concurrencyKey: `account:${i % 3}`, concurrencyLimit: 2 });
      if (i % 7 === 0) row.lockKey = `user:${i % 4}`;
      rows.push(row);
    }
    for (let i = 0; i < 50; i++) rows.push({ queue: "paused" });
    await db.sql`insert into reproq_queue_controls (queue_name, paused, paused_at, reason, created_at, updated_at)
                 values ('paused', true, now(), 'test', now(), now())`;
    await enqueue(db.sql, rows);

    let sampling = true;
    let maxConcurrency = 0;
    let maxLock = 0;
    let pausedTouched = 0;
    let samples = 0;
    const monitor = (async () => {
      while (sampling) {
        const [row] = await db.sql<{ conc: number; lock: number; paused: number }[]>`
          select coalesce((select max(n) from (select count(*)::int n from task_runs where status = 'RUNNING' and concurrency_key is not null group by concurrency_key) c), 0) as conc,
                 coalesce((select max(n) from (select count(*)::int n from task_runs where status = 'RUNNING' and lock_key is not null group by lock_key) l), 0) as lock,
                 (select count(*)::int from task_runs where queue_name = 'paused' and status <> 'READY') as paused`;
        maxConcurrency = Math.max(maxConcurrency, row?.conc ?? 0);
        maxLock = Math.max(maxLock, row?.lock ?? 0);
        pausedTouched = Math.max(pausedTouched, row?.paused ?? 0);
        samples++;
      }
    })();

    const args = [...baseWorkerArgs(db.dsn), "--executor", "command", "--executor-command", SLEEPY.join(","), "--queues", "a,b,paused", "--concurrency", "8"];
    const started = performance.now();
    const workers = [1, 2, 3, 4].map((n) => startWorker([...args, "--worker-id", `racer-${n}`]));
    await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === 2000, { timeoutMs: 240_000, intervalMs: 200, what: "2000 tasks done" });
    const seconds = (performance.now() - started) / 1000;
    sampling = false;
    await monitor;

    const [once] = await db.sql<{ bad: number; claims: number }[]>`
      select count(*) filter (where attempts <> 1 or jsonb_array_length(worker_ids) <> 1)::int as bad,
             sum(jsonb_array_length(worker_ids))::int as claims
      from task_runs where queue_name <> 'paused'`;
    expect(once).toEqual({ bad: 0, claims: 2000 });
    expect(maxConcurrency).toBeLessThanOrEqual(2);
    expect(maxLock).toBeLessThanOrEqual(1);
    expect(pausedTouched).toBe(0);
    expect(samples).toBeGreaterThan(10);
    console.log(`race: 2000 tasks on 4 workers in ${seconds.toFixed(1)} s (${Math.round(2000 / seconds)} tasks/s), ${samples} samples, max concurrency-key running ${maxConcurrency}, max lock-key running ${maxLock}`);

    await db.sql`update reproq_queue_controls set paused = false where queue_name = 'paused'`;
    await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === 2050, { timeoutMs: 60_000, what: "paused queue processed after resume" });
    expect((await Promise.all(workers.map((worker) => stopWorker(worker)))).every((code) => code === 0)).toBe(true);
    expect((await statusCounts(db.sql)).RUNNING).toBeUndefined();
  });
});

describe("database outage while tasks run", () => {
  test("no task lost: running tasks finish and are recorded once the database is back (ledger)", async () => {
    const db = await database("outage");
    const target = parseDsn(db.dsn, process.env);
    const proxy = await startTcpProxy({ host: target.host, port: target.port });
    const scratch = mkdtempSync(join(tmpdir(), "reproq-outage-"));
    try {
      const viaProxy = buildDsn({ ...target, host: "127.0.0.1", port: proxy.port });
      const ledger = join(scratch, "ledger");
      await enqueue(db.sql, Array.from({ length: 12 }, () => ({ kwargs: { mode: "ledger", first_seconds: 2, later_seconds: 2 } })));
      // Slow polling, so the last check below can only pass if LISTEN came back after the outage.
      const worker = startWorker([...baseWorkerArgs(viaProxy), "--concurrency", "4", "--heartbeat-seconds", "1", "--lease-seconds", "60", "--poll-min-backoff", "30s", "--poll-max-backoff", "30s"], { LEDGER_FILE: ledger, REPROQ_JOURNAL_DIR: join(scratch, "journal") });
      await waitFor(async () => (await statusCounts(db.sql)).RUNNING === 4, { what: "first tasks running" });
      proxy.cut(); // the "restart": every connection dropped, new ones refused
      await Bun.sleep(4_000); // the running tasks finish during the outage
      proxy.restore();
      await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === 12, { timeoutMs: 90_000, intervalMs: 200, what: "all tasks after the outage" });
      await Bun.sleep(1_000); // LISTEN re-established by now; the next wake-up must come from NOTIFY
      // Polling every 30 s would make each of these wait 0–30 s; three quick starts in a row mean NOTIFY.
      for (let done = 13; done <= 15; done++) {
        await enqueue(db.sql, [{ kwargs: { mode: "ledger", first_seconds: 0 } }]);
        const enqueuedAt = performance.now();
        await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === done, { timeoutMs: 40_000, intervalMs: 20, what: "a task after the outage" });
        expectQuick(performance.now() - enqueuedAt, 1_000, "a task woken by NOTIFY");
      }
      const code = await stopWorker(worker);
      if (code !== 0) console.log(worker.logs.slice(-15), worker.stderr());
      expect(code).toBe(0);
      const rows = await ledgerRows(db.sql);
      const report = checkLedger(readLedger(ledger), rows);
      console.log(`outage while tasks run: ${summarize(report)}`);
      expectNoFaults(report, rows, { doubles: true });
      expect(rows.map((row) => row.attempts)).toEqual(rows.map(() => 1)); // nothing was run twice
      const outageLines = worker.logs.filter((line) => typeof line.msg === "string" && (line.msg as string).includes("retrying until the database answers"));
      expect(outageLines.length).toBeGreaterThan(0);
      expect(outageLines.length).toBeLessThanOrEqual(4); // once per outage per activity, not per attempt
    } finally {
      await proxy.close();
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  test("SIGTERM during an outage still exits (a second signal cuts the result retries) with code 3; the journal writes the rows later, none run again (ledger)", async () => {
    const db = await database("outage_shutdown");
    const target = parseDsn(db.dsn, process.env);
    const proxy = await startTcpProxy({ host: target.host, port: target.port });
    const scratch = mkdtempSync(join(tmpdir(), "reproq-outage-shutdown-"));
    try {
      const viaProxy = buildDsn({ ...target, host: "127.0.0.1", port: proxy.port });
      const ledger = join(scratch, "ledger");
      // 6 run when the database goes away and finish during the outage; 4 wait READY.
      await enqueue(db.sql, Array.from({ length: 10 }, () => ({ kwargs: { mode: "ledger", first_seconds: 1, later_seconds: 1 } })));
      // Registry heartbeat 6 s: the cut-off worker would stop its own tasks 8 s after its last
      // renewal, after these 1 s tasks have finished.
      const leaseArgs = ["--lease-seconds", "3", "--heartbeat-seconds", "1", "--reclaim-interval-seconds", "1", "--registry-heartbeat-seconds", "6"];
      // By environment variable, as a deployment would set it.
      const env = { REPROQ_JOURNAL_DIR: join(scratch, "journal"), LEDGER_FILE: ledger };
      const worker = startWorker([...baseWorkerArgs(viaProxy), ...leaseArgs, "--concurrency", "6", "--worker-id", "cut-off"], env);
      await waitFor(async () => readLedger(ledger).filter((line) => line.word === "start").length === 6, { what: "6 tasks running" });
      proxy.cut();
      await waitFor(async () => readLedger(ledger).filter((line) => line.word === "end").length === 6, { what: "the tasks to finish during the outage" });
      const started = performance.now();
      worker.signal("SIGTERM");
      await Bun.sleep(2_000);
      worker.signal("SIGTERM");
      const timer = setTimeout(() => worker.signal("SIGKILL"), 40_000);
      const code = await worker.exited;
      clearTimeout(timer);
      if (code !== 3) console.log(JSON.stringify(worker.logs.slice(-12), null, 1), worker.stderr());
      expect(code).toBe(3); // results not written; they are in the journal
      expect(readdirSync(env.REPROQ_JOURNAL_DIR).filter((name) => name.endsWith(".jsonl")).length).toBe(1);
      // Bounded (it used to wait forever): 5 s for writes after the second signal, then a few
      // short, bounded clean-up steps against the unreachable database.
      expectQuick(performance.now() - started, 4_000, "a shutdown during an outage");
      expect((await statusCounts(db.sql)).RUNNING).toBe(6); // what the database still says
      proxy.restore();

      // The next start (another worker id, on the same journal directory), once the cut-off worker
      // is past its registry deadline (dead for anyone who looks), writes the six outcomes before
      // it claims or rescues anything, then runs the four that waited.
      await waitFor(async () => (await db.sql`select 1 from reproq_workers where worker_id = 'cut-off' and alive_until < now()`).length === 1, { timeoutMs: 20_000, what: "the cut-off worker's registry deadline to pass" });
      const next = startWorker([...baseWorkerArgs(db.dsn), ...leaseArgs, "--worker-id", "next"], env);
      await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === 10, { timeoutMs: 60_000, what: "written from the journal" });
      expect(await stopWorker(next)).toBe(0);
      const rows = await ledgerRows(db.sql);
      const report = checkLedger(readLedger(ledger), rows);
      console.log(`SIGTERM during an outage: ${summarize(report)}`);
      expectNoFaults(report, rows, { doubles: true });
      expect(report.runs).toHaveLength(10); // written from the journal, not run again
      expect(rows.map((row) => row.attempts)).toEqual(rows.map(() => 1));
    } finally {
      await proxy.close();
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
