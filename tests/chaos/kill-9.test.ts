// kill -9 of `reproq worker` with tasks in flight, for each executor kind (python, command, bun,
// bun-inprocess), matched against the task ledger: the killed attempts never finish and their
// processes are gone at once (bun-inprocess: the task is the worker), a second worker rescues the
// rows and runs them again — 0 lost, 0 run twice at the same time, 0 left RUNNING, 0 stored
// wrongly. Prints the rescue time (kill → row requeued, kill → re-run started) at a short registry
// heartbeat and once at the default settings (registry heartbeat 30 s: at most 60 s).
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { checkLedger, cleanUpScene, expectNoFaults, ledgerRows, PidWatcher, readLedger, running, summarize, writeLedgerTasks } from "../helpers/ledger.ts";
import { baseWorkerArgs, enqueue, startWorker, statusCounts, stopWorker, waitFor, type WorkerProcess } from "../helpers/worker.ts";

setDefaultTimeout(150_000);

/** Registry heartbeat of the short runs: the victim is dead 1.5 heartbeats after its last one. */
const HEARTBEAT_SECONDS = 3;
const TASKS = 3;

const scratch = mkdtempSync(join(tmpdir(), "reproq-chaos-kill9-"));
const tasks = writeLedgerTasks(scratch);
const databases: TestDatabase[] = [];
const workers: WorkerProcess[] = [];
const ledgers: string[] = [];

afterAll(() => cleanUpScene({ workers, ledgers, databases, scratch }));

interface Kind {
  name: string;
  args: string[];
  taskPath: string;
  /** The task runs in a process of its own (with a `sleep` grandchild). */
  process: boolean;
}

const KINDS: Kind[] = [
  { name: "python", args: ["--executor", "python"], taskPath: "tasks.ledger", process: true },
  { name: "command", args: ["--executor", "command", "--executor-command", tasks.command.join(",")], taskPath: "tasks.ledger", process: true },
  { name: "bun", args: ["--executor", "bun", "--tasks-dir", tasks.tasksDir], taskPath: "tasks.ledger.run", process: true },
  { name: "bun-inprocess", args: ["--executor", "bun-inprocess", "--tasks-dir", tasks.tasksDir], taskPath: "tasks.ledger.inprocess", process: false },
];

interface Rescue {
  /** Kill → the row requeued (its worker_lost entry), per row. */
  requeuedMs: number[];
  /** Kill → attempt 2 started (ledger), per row. */
  rerunMs: number[];
  /** Kill → the last attempt-1 process (and grandchild) seen gone. */
  goneMs: number;
}

async function killAndRescue(kind: Kind, heartbeatSeconds: number | null, firstSeconds: number): Promise<Rescue> {
  const db = await createTestDatabase({ flavour: "reproq", label: `chaos_kill9_${kind.name.replace("-", "_")}` });
  databases.push(db);
  const ledger = join(scratch, `${db.name}.ledger`);
  ledgers.push(ledger);
  const watcher = new PidWatcher(ledger);
  const env = { LEDGER_FILE: ledger, LEDGER_FIRST: String(firstSeconds), REPROQ_JOURNAL_DIR: join(scratch, `${db.name}.journal`) };
  await enqueue(db.sql, Array.from({ length: TASKS }, () => ({ taskPath: kind.taskPath, kwargs: { mode: "ledger", first_seconds: firstSeconds, later_seconds: 0.3 } })));
  const args = (id: string) => {
    const list = [...baseWorkerArgs(db.dsn), ...kind.args, "--worker-id", id, "--concurrency", String(TASKS)];
    if (heartbeatSeconds !== null) list.push("--registry-heartbeat-seconds", String(heartbeatSeconds));
    return list;
  };

  const victim = startWorker(args("victim"), env);
  workers.push(victim);
  const linesPerTask = kind.process ? 2 : 1; // start (+ child)
  await waitFor(async () => readLedger(ledger).length === TASKS * linesPerTask, { timeoutMs: 30_000, what: "every task started on the victim" });
  const rescuer = startWorker(args("rescuer"), env);
  workers.push(rescuer);
  await waitFor(async () => rescuer.logs.some((line) => line.msg === "Starting reproq worker"), { what: "the rescuer to start" });

  const first = readLedger(ledger);
  const killedAt = Date.now();
  victim.proc.kill("SIGKILL");
  await victim.exited;
  await waitFor(async () => first.every((line) => !running(line.pid)), { timeoutMs: 3_000, intervalMs: 5, what: "every attempt-1 process (and grandchild) gone" });
  const goneMs = Date.now() - killedAt;

  await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === TASKS, { timeoutMs: 120_000, intervalMs: 100, what: "the rescued tasks to succeed" });
  expect(await stopWorker(rescuer)).toBe(0);
  await watcher.stop();

  const rows = await ledgerRows(db.sql);
  const lines = readLedger(ledger);
  const report = checkLedger(lines, rows, (pid) => watcher.diedAt(pid));
  console.log(`kill -9 ${kind.name}: ${summarize(report)}`);
  expectNoFaults(report, rows);
  // Each row: attempt 1 killed on the victim (never finished), attempt 2 finished on the rescuer.
  for (const row of rows) {
    const runs = report.runs.filter((run) => run.id === row.result_id).map((run) => [run.attempt, run.finished]);
    expect(runs).toEqual([[1, false], [2, true]]);
    expect(row.attempts).toBe(2);
    expect(row.errors[0]!.message).toContain("victim");
  }
  const [registry] = await db.sql<{ n: number }[]>`select count(*)::int as n from reproq_workers where worker_id = 'victim'`;
  expect(registry?.n).toBe(0);

  const requeuedMs = rows.map((row) => Date.parse(row.errors[0]!.at!) - killedAt);
  const rerunMs = report.runs.filter((run) => run.attempt === 2).map((run) => Math.round(run.startAt - killedAt));
  return { requeuedMs, rerunMs, goneMs };
}

function line(label: string, rescue: Rescue): string {
  return `${label}: attempt-1 processes gone ${rescue.goneMs} ms after kill -9; rows requeued after ${rescue.requeuedMs.join(", ")} ms; re-run started after ${rescue.rerunMs.join(", ")} ms`;
}

describe("kill -9 of a worker with tasks in flight (ledger)", () => {
  for (const kind of KINDS) {
    test(`${kind.name}: the tasks die with the worker; another worker runs them again, once, after they are gone`, async () => {
      const rescue = await killAndRescue(kind, HEARTBEAT_SECONDS, 60);
      console.log(line(`rescue ${kind.name} (registry heartbeat ${HEARTBEAT_SECONDS} s)`, rescue));
      expect(rescue.goneMs).toBeLessThan(3_000);
      for (const ms of rescue.requeuedMs) expect(ms).toBeLessThanOrEqual(2 * HEARTBEAT_SECONDS * 1000);
    });
  }

  test("default settings (registry heartbeat 30 s, 1.5 heartbeats): requeued within 60 s of the kill", async () => {
    const rescue = await killAndRescue(KINDS[0]!, null, 150);
    console.log(line("rescue at default settings (python)", rescue));
    for (const ms of rescue.requeuedMs) expect(ms).toBeLessThanOrEqual(60_000);
  });
});
