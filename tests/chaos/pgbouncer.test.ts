// Two workers with DEFAULT flags (no --no-prepare / --no-listen) behind one PgBouncer in
// transaction pooling mode with a small server pool, so every statement may land on a server
// connection another client used last. 400 ledger tasks, then SIGTERM with tasks running: 0 lost,
// 0 run twice at the same time, 0 left RUNNING, 0 stored wrongly (no row run that the database
// shows was never claimed, no success stored as a failure), and both workers exit promptly.
// PgBouncer comes from Debian's package (scripts/test-setup.ts installs it as root).
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { checkLedger, cleanUpScene, expectNoFaults, ledgerRows, PidWatcher, readLedger, summarize } from "../helpers/ledger.ts";
import { startPgBouncer, type PgBouncer } from "../helpers/pgbouncer.ts";
import { describeWithTools } from "../helpers/tools.ts";
import { baseWorkerArgs, enqueue, startWorker, statusCounts, stopWorker, waitFor, type WorkerProcess } from "../helpers/worker.ts";

setDefaultTimeout(180_000);

const TASKS = 400;
const BUSY = 16;
const scratch = mkdtempSync(join(tmpdir(), "reproq-chaos-pgbouncer-"));
const ledger = join(scratch, "ledger");
const workers: WorkerProcess[] = [];
let db: TestDatabase | undefined;
let bouncer: PgBouncer | undefined;

afterAll(async () => {
  await cleanUpScene({ workers, ledgers: [ledger], databases: [db], scratch });
  await bouncer?.stop();
});

describeWithTools(["pgbouncer"], "PgBouncer transaction mode, default flags, two workers on a 4-connection pool (ledger)", () => {
  test(`${TASKS} tasks and a SIGTERM with tasks running: none lost, none run twice at once, none left RUNNING, none stored wrongly`, async () => {
    db = await createTestDatabase({ flavour: "reproq", label: "chaos_pgbouncer" });
    bouncer = await startPgBouncer("transaction", { poolSize: 4 });
    const watcher = new PidWatcher(ledger);
    await enqueue(db.sql, Array.from({ length: TASKS }, (_, n) => {
      const seconds = (n % 7) * 0.04;
      return { kwargs: { mode: "ledger", first_seconds: seconds, later_seconds: seconds } };
    }));
    const env = { LEDGER_FILE: ledger, REPROQ_JOURNAL_DIR: join(scratch, "journal") };
    const args = (id: string) => [...baseWorkerArgs(bouncer!.dsnFor(db!.name)), "--worker-id", id, "--concurrency", "8"];
    workers.push(startWorker(args("pooled-1"), env), startWorker(args("pooled-2"), env));
    const started = performance.now();
    // A stall is reported after the ledger check below, which says more about what went wrong.
    const stalled = await waitFor(async () => (await statusCounts(db!.sql)).SUCCESSFUL === TASKS || workers.some((w) => w.proc.exitCode !== null), { timeoutMs: 90_000, intervalMs: 250, what: `${TASKS} SUCCESSFUL rows` })
      .then(() => null, (error: Error) => error);
    const seconds = (performance.now() - started) / 1000;
    for (const worker of workers) expect(worker.proc.exitCode, `${worker.stderr()}\n${JSON.stringify(worker.logs.slice(-5))}`).toBeNull();

    // SIGTERM while tasks run: they finish and are recorded; both workers exit promptly.
    if (stalled === null) {
      await enqueue(db.sql, Array.from({ length: BUSY }, () => ({ kwargs: { mode: "ledger", first_seconds: 1.5, later_seconds: 0 } })));
      await waitFor(async () => ((await statusCounts(db!.sql)).RUNNING ?? 0) >= 8, { timeoutMs: 30_000, what: "busy tasks RUNNING" });
    }
    const stopping = performance.now();
    const codes = await Promise.all(workers.map((worker) => stopWorker(worker, 30_000)));
    const stopMs = performance.now() - stopping;
    await watcher.stop();

    const rows = await ledgerRows(db.sql);
    const report = checkLedger(readLedger(ledger), rows.filter((row) => row.status !== "READY"), (pid) => watcher.diedAt(pid));
    const ready = rows.filter((row) => row.status === "READY").length;
    console.log(`pgbouncer (transaction, default flags): ${TASKS} tasks in ${seconds.toFixed(1)} s; SIGTERM → both exited in ${Math.round(stopMs)} ms, ${ready} rows never claimed; ${summarize(report)}`);
    expectNoFaults(report, rows, { doubles: true });
    expect(stalled).toBeNull();
    expect(codes).toEqual([0, 0]);
    expect(stopMs).toBeLessThan(15_000); // the running tasks take 1.5 s; a hang would be minutes
    expect(rows.filter((row) => row.attempts > 1)).toEqual([]);
    for (const worker of workers) {
      const warnings = worker.logs.filter((line) => String(line.level).toLowerCase() === "warn" && String(line.msg ?? "").includes("transaction pooler"));
      expect(warnings).toHaveLength(1);
    }
  });
});
