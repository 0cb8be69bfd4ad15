// kill -9 of `reproq worker` with tasks in flight, for every executor kind that runs processes:
// the task processes (and their grandchildren) die with the worker, a second worker declares it
// dead from its registry heartbeat and rescues its rows (worker_lost, attempt counted) within two
// registry heartbeats, and nothing runs twice at the same time. Each task appends to a ledger
// file (start / child / end lines with pids and times), so the test sees what ran when.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDsn } from "../../src/db/dsn.ts";
import { buildDsn, createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { isAlive } from "../helpers/executors/index.ts";
import { readLedger, type LedgerLine } from "../helpers/ledger.ts";
import { startTcpProxy } from "../helpers/tcp-proxy.ts";
import { baseWorkerArgs, enqueue, startWorker, statusCounts, stopWorker, waitFor, type WorkerProcess } from "../helpers/worker.ts";

setDefaultTimeout(120_000); // also when run as plain `bun test` (its default is 5 s)

/** Registry heartbeat in these tests: a worker is declared dead 1.5 heartbeats after its last one. */
const HEARTBEAT_SECONDS = 3;
const TASKS = 3;

const scratch = mkdtempSync(join(tmpdir(), "reproq-worker-death-"));
const databases: TestDatabase[] = [];
const workers: WorkerProcess[] = [];
const ledgers: string[] = [];
afterAll(async () => {
  for (const worker of workers) if (worker.proc.exitCode === null) worker.proc.kill("SIGKILL");
  // A failed run may leave task processes behind: end them, by the pids their ledgers recorded.
  for (const line of ledgers.flatMap(readLedger)) if (line.word !== "end" && isAlive(line.pid)) process.kill(line.pid, "SIGKILL");
  await Promise.all(databases.map((db) => db.drop()));
  rmSync(scratch, { recursive: true, force: true });
});

// The command kind's task: the same ledger protocol as fake_executor.py's "ledger" mode.
const LEDGER_SH = join(scratch, "ledger.sh");
writeFileSync(LEDGER_SH, `#!/bin/sh
id=""; attempt=""
while [ $# -gt 0 ]; do
  case "$1" in
    --result-id) id="$2"; shift 2 ;;
    --attempt) attempt="$2"; shift 2 ;;
    *) shift ;;
  esac
done
cat > /dev/null
note() { echo "$1 $id $attempt $2 $(date +%s.%N)" >> "$LEDGER_FILE"; }
note start $$
if [ "$attempt" = 1 ]; then seconds=60; else seconds=0.3; fi
sleep "$seconds" &
note child $!
wait $!
note end $$
echo '{"ok": true, "return": null}'
`);

// The bun kind's task (tasks.ledger.run under the tasks dir).
const TASKS_DIR = join(scratch, "ts");
mkdirSync(join(TASKS_DIR, "tasks"), { recursive: true });
writeFileSync(join(TASKS_DIR, "tasks", "ledger.ts"), `import { appendFileSync } from "node:fs";
export async function run(_args: unknown[], kwargs: Record<string, unknown>, ctx: { resultId: string; attempt: number }) {
  const note = (word: string, pid: number) =>
    appendFileSync(process.env.LEDGER_FILE!, \`\${word} \${ctx.resultId} \${ctx.attempt} \${pid} \${(Date.now() / 1000).toFixed(6)}\\n\`);
  note("start", process.pid);
  const seconds = ctx.attempt === 1 ? Number(kwargs.first_seconds ?? 60) : Number(kwargs.later_seconds ?? 0.3);
  const child = Bun.spawn(["sleep", String(seconds)], { stdio: ["ignore", "ignore", "ignore"] });
  note("child", child.pid);
  await child.exited;
  note("end", process.pid);
  return null;
}
`);

interface Kind {
  name: string;
  args: string[];
  taskPath: string;
}

const KINDS: Kind[] = [
  { name: "command", args: ["--executor", "command", "--executor-command", `/bin/sh,${LEDGER_SH}`], taskPath: "tasks.ledger" },
  { name: "bun", args: ["--executor", "bun", "--tasks-dir", TASKS_DIR], taskPath: "tasks.ledger.run" },
  { name: "python", args: ["--executor", "python"], taskPath: "tasks.ledger" },
  { name: "python-pool", args: ["--executor", "python-pool"], taskPath: "tasks.ledger" },
];

interface Row {
  result_id: string;
  status: string;
  attempts: number;
  worker_ids: string[];
  errors: { kind: string; message: string; at: string }[];
}

async function rows(db: TestDatabase): Promise<Row[]> {
  return db.sql<Row[]>`select result_id::text, status, attempts, worker_ids, errors_json as errors from task_runs order by result_id`;
}

async function registryRows(db: TestDatabase, workerId: string): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from reproq_workers where worker_id = ${workerId}`;
  return row?.n ?? 0;
}

function workerArgs(dsn: string, kind: Kind, workerId: string, heartbeatSeconds: number | null): string[] {
  const args = [...baseWorkerArgs(dsn), ...kind.args, "--worker-id", workerId, "--concurrency", String(TASKS)];
  if (heartbeatSeconds !== null) args.push("--registry-heartbeat-seconds", String(heartbeatSeconds));
  return args;
}

function newLedger(db: TestDatabase): string {
  const path = join(scratch, `${db.name}.ledger`);
  ledgers.push(path);
  return path;
}

function spawnWorker(args: string[], ledger: string): WorkerProcess {
  const worker = startWorker(args, { LEDGER_FILE: ledger });
  workers.push(worker);
  return worker;
}

/** Gone or a zombie; /proc when there is one (cheap enough to poll every few ms), else ps. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT" && existsSync("/proc/self/stat")) return false;
    return isAlive(pid);
  }
}

/** Milliseconds until every pid is gone (polled every 5 ms); throws after `limitMs`. */
async function timeUntilDead(pids: number[], since: number, limitMs: number): Promise<number> {
  for (;;) {
    const alive = pids.filter(running);
    const elapsed = Date.now() - since;
    if (alive.length === 0) return elapsed;
    if (elapsed > limitMs) throw new Error(`task processes still alive ${elapsed} ms after kill -9 of the worker: ${alive.join(", ")}`);
    await Bun.sleep(5);
  }
}

interface DeathOutcome {
  childDeathMs: number;
  rescueMs: number[];
}

/**
 * Runs TASKS ledger tasks on a victim worker, kills it with SIGKILL while they run, and checks
 * everything the rescuer must do. `beforeKill` runs while both workers are up.
 */
async function killAndRescue(kind: Kind, options: { heartbeatSeconds: number | null; firstSeconds: number; beforeKill?: (db: TestDatabase) => Promise<void> }): Promise<DeathOutcome> {
  const db = await createTestDatabase({ flavour: "reproq", label: `death_${kind.name.replace("-", "_")}` });
  databases.push(db);
  const ledger = newLedger(db);
  await enqueue(db.sql, Array.from({ length: TASKS }, () => ({ taskPath: kind.taskPath, kwargs: { mode: "ledger", first_seconds: options.firstSeconds, later_seconds: 0.3 } })));

  const victim = spawnWorker(workerArgs(db.dsn, kind, "victim", options.heartbeatSeconds), ledger);
  await waitFor(async () => readLedger(ledger).filter((line) => line.word === "child").length === TASKS, { timeoutMs: 30_000, what: "every task started on the victim" });
  const rescuer = spawnWorker(workerArgs(db.dsn, kind, "rescuer", options.heartbeatSeconds), ledger);
  await waitFor(async () => rescuer.logs.some((line) => line.msg === "Starting reproq worker"), { what: "the rescuer to start" });
  await options.beforeKill?.(db);

  const first = readLedger(ledger).filter((line) => line.attempt === 1 && line.word !== "end");
  expect(first.length).toBe(TASKS * 2); // one task process and one grandchild per task
  const killedAt = Date.now();
  victim.proc.kill("SIGKILL");
  const childDeathMs = await timeUntilDead(first.map((line) => line.pid), killedAt, 3_000);
  const deadSeenAt = Date.now();

  await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === TASKS, { timeoutMs: 100_000, intervalMs: 100, what: "the rescued tasks to succeed" });
  const done = await rows(db);
  const rescueMs: number[] = [];
  for (const row of done) {
    expect(row).toMatchObject({ status: "SUCCESSFUL", attempts: 2, worker_ids: ["victim", "rescuer"] });
    expect(row.errors.map((entry) => entry.kind)).toEqual(["worker_lost"]);
    expect(row.errors[0]!.message).toContain("victim");
    rescueMs.push(Date.parse(row.errors[0]!.at) - killedAt);
  }
  expect(await registryRows(db, "victim")).toBe(0);

  // The ledger: attempt 1 never finished (killed with the worker), attempt 2 ran to its end and
  // started only after every attempt-1 process was gone.
  const lines = readLedger(ledger);
  for (const row of done) {
    const of = (attempt: number, word: LedgerLine["word"]) => lines.filter((line) => line.id === row.result_id && line.attempt === attempt && line.word === word);
    expect(of(1, "start")).toHaveLength(1);
    expect(of(1, "end")).toHaveLength(0);
    expect(of(2, "start")).toHaveLength(1);
    expect(of(2, "end")).toHaveLength(1);
    expect(of(2, "start")[0]!.at).toBeGreaterThan(deadSeenAt);
  }
  expect(await stopWorker(rescuer)).toBe(0);
  expect((await statusCounts(db.sql)).RUNNING).toBeUndefined();
  return { childDeathMs, rescueMs };
}

describe("kill -9 of a worker with tasks in flight", () => {
  for (const kind of KINDS) {
    test(`${kind.name}: task processes die with it; another worker rescues the rows within two registry heartbeats`, async () => {
      const outcome = await killAndRescue(kind, {
        heartbeatSeconds: HEARTBEAT_SECONDS,
        firstSeconds: 60,
        // Once: a live worker's rows are never touched, however long its tasks run.
        beforeKill: kind.name !== "command" ? undefined : async (db) => {
          await Bun.sleep(HEARTBEAT_SECONDS * 2_500);
          const running = await rows(db);
          expect(running.map((row) => [row.status, row.errors.length])).toEqual(running.map(() => ["RUNNING", 0]));
        },
      });
      console.log(`${kind.name}: task processes gone ${outcome.childDeathMs} ms after kill -9; rows rescued after ${outcome.rescueMs.join(", ")} ms (registry heartbeat ${HEARTBEAT_SECONDS} s)`);
      for (const ms of outcome.rescueMs) expect(ms).toBeLessThanOrEqual(2 * HEARTBEAT_SECONDS * 1000);
    });
  }

  test("default settings (registry heartbeat 30 s): rescued within 60 s", async () => {
    const kind = KINDS.find((k) => k.name === "python")!;
    const outcome = await killAndRescue(kind, { heartbeatSeconds: null, firstSeconds: 150 });
    console.log(`default settings: task processes gone ${outcome.childDeathMs} ms after kill -9; rows rescued after ${outcome.rescueMs.join(", ")} ms`);
    for (const ms of outcome.rescueMs) expect(ms).toBeLessThanOrEqual(60_000);
  });
});

describe("a worker restarted under the same id after kill -9 (one worker, as in a container)", () => {
  test("the new run waits for the old run's deadline, then runs its tasks again (worker_lost)", async () => {
    const kind = KINDS.find((k) => k.name === "command")!;
    const db = await createTestDatabase({ flavour: "reproq", label: "death_same_id" });
    databases.push(db);
    const ledger = newLedger(db);
    await enqueue(db.sql, Array.from({ length: TASKS }, () => ({ taskPath: kind.taskPath, kwargs: { mode: "ledger" } })));
    const args = workerArgs(db.dsn, kind, "only-one", HEARTBEAT_SECONDS);
    const first = spawnWorker(args, ledger);
    await waitFor(async () => readLedger(ledger).filter((line) => line.word === "child").length === TASKS, { timeoutMs: 30_000, what: "every task started" });
    const killedAt = Date.now();
    first.proc.kill("SIGKILL");
    await first.exited;
    const second = spawnWorker(args, ledger);
    await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === TASKS, { timeoutMs: 30_000, intervalMs: 100, what: "the tasks to run again" });
    for (const row of await rows(db)) {
      expect(row).toMatchObject({ attempts: 2, worker_ids: ["only-one", "only-one"] });
      expect(row.errors.map((entry) => entry.kind)).toEqual(["worker_lost"]);
      expect(Date.parse(row.errors[0]!.at) - killedAt).toBeLessThanOrEqual(2 * HEARTBEAT_SECONDS * 1000);
    }
    expect(second.logs.some((line) => line.msg === "This worker id is still registered by a run that did not deregister; waiting for its deadline before taking over")).toBe(true);
    expect(await stopWorker(second)).toBe(0);
    expect(await registryRows(db, "only-one")).toBe(0);
  });
});

describe("a worker cut off from the database", () => {
  test("stops its own tasks before the others declare it dead; the rescued rows never run twice at once", async () => {
    const kind = KINDS.find((k) => k.name === "command")!;
    const db = await createTestDatabase({ flavour: "reproq", label: "death_partition" });
    databases.push(db);
    const target = parseDsn(db.dsn, process.env);
    const proxy = await startTcpProxy({ host: target.host, port: target.port });
    try {
      const ledger = newLedger(db);
      await enqueue(db.sql, Array.from({ length: TASKS }, () => ({ taskPath: kind.taskPath, kwargs: { mode: "ledger" } })));
      const viaProxy = buildDsn({ ...target, host: "127.0.0.1", port: proxy.port });
      const cutOff = spawnWorker(workerArgs(viaProxy, kind, "cut-off", HEARTBEAT_SECONDS), ledger);
      await waitFor(async () => readLedger(ledger).filter((line) => line.word === "child").length === TASKS, { timeoutMs: 30_000, what: "every task started" });
      const rescuer = spawnWorker(workerArgs(db.dsn, kind, "rescuer", HEARTBEAT_SECONDS), ledger);
      await waitFor(async () => rescuer.logs.some((line) => line.msg === "Starting reproq worker"), { what: "the rescuer to start" });

      const first = readLedger(ledger).filter((line) => line.attempt === 1 && line.word !== "end");
      const cutAt = Date.now();
      proxy.cut();
      // The cut-off worker cannot renew its registry row: it must stop its tasks itself, before
      // 1.5 heartbeats have passed since its last renewal (when the rescuer may take them over).
      const stoppedMs = await timeUntilDead(first.map((line) => line.pid), cutAt, HEARTBEAT_SECONDS * 1500);
      const stoppedAt = Date.now();
      await waitFor(async () => (await rows(db)).every((row) => row.errors.some((entry) => entry.kind === "worker_lost")), { timeoutMs: 20_000, what: "the rows to be rescued" });
      proxy.restore();
      await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === TASKS, { timeoutMs: 60_000, intervalMs: 100, what: "the rescued tasks to succeed" });
      console.log(`cut off: tasks stopped ${stoppedMs} ms after the cut`);

      const lines = readLedger(ledger);
      for (const row of await rows(db)) {
        const of = (attempt: number, word: LedgerLine["word"]) => lines.filter((line) => line.id === row.result_id && line.attempt === attempt && line.word === word);
        expect(row.attempts).toBe(2);
        expect(row.errors.map((entry) => entry.kind)).toEqual(["worker_lost"]);
        expect(of(1, "end")).toHaveLength(0);
        expect(of(2, "start")[0]!.at).toBeGreaterThan(stoppedAt);
      }
      expect(cutOff.logs.some((line) => line.msg === "Lost the registry heartbeat; stopping running tasks before other workers declare this worker dead")).toBe(true);
      // Back in touch, the worker registers again and goes on working.
      await waitFor(async () => (await registryRows(db, "cut-off")) === 1, { timeoutMs: 20_000, what: "the cut-off worker to register again" });
      expect(await stopWorker(cutOff)).toBe(0);
      expect(await stopWorker(rescuer)).toBe(0);
      expect((await statusCounts(db.sql)).RUNNING).toBeUndefined();
    } finally {
      await proxy.close();
    }
  });
});
