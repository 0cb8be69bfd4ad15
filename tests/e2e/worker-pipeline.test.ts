// The worker pipeline through the compiled binary (bun-inprocess, short tasks, so the worker
// claims ahead into its local buffer): kill -9 with a full buffer loses nothing and runs nothing
// twice at once (a second worker rescues the rows), SIGTERM gives buffered rows back to READY at
// once, and lock / concurrency keys hold with 8 workers. Each task appends start and end lines to
// a ledger file, so the test sees what ran where and when.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { enqueue, startWorker, statusCounts, stopWorker, waitFor, type WorkerProcess } from "../helpers/worker.ts";

setDefaultTimeout(180_000); // also when run as plain `bun test` (its default is 5 s)

const scratch = mkdtempSync(join(tmpdir(), "reproq-pipeline-"));
const databases: TestDatabase[] = [];
const workers: WorkerProcess[] = [];
afterAll(async () => {
  for (const worker of workers) if (worker.proc.exitCode === null) worker.proc.kill("SIGKILL");
  await Promise.all(databases.map((db) => db.drop()));
  rmSync(scratch, { recursive: true, force: true });
});

const TASKS_DIR = join(scratch, "ts");
mkdirSync(join(TASKS_DIR, "tasks"), { recursive: true });
writeFileSync(join(TASKS_DIR, "tasks", "ledger.ts"), `import { appendFileSync } from "node:fs";
const now = () => (performance.timeOrigin + performance.now()).toFixed(3);
export async function run(_args: unknown[], kwargs: Record<string, unknown>, ctx: { resultId: string; attempt: number }) {
  const note = (word: string) => appendFileSync(process.env.LEDGER_FILE!, \`\${word} \${ctx.resultId} \${ctx.attempt} \${process.env.WORKER_NAME} \${kwargs.key ?? "-"} \${now()}\\n\`);
  note("start");
  await Bun.sleep(Number(kwargs.ms ?? 10));
  note("end");
  return null;
}
`);

// Holds the worker's event loop (a synchronous handler) until a flag file exists, so a
// short-task batch cannot reach its bound: its transaction stays open, the row READY and locked.
writeFileSync(join(TASKS_DIR, "tasks", "spin.ts"), `import { existsSync } from "node:fs";
export function run(_args: unknown[], kwargs: Record<string, unknown>) {
  const end = Date.now() + 60_000;
  while (!existsSync(String(kwargs.flag)) && Date.now() < end) Bun.sleepSync(5);
  return "spun";
}
`);

interface LedgerLine {
  word: "start" | "end";
  id: string;
  attempt: number;
  worker: string;
  key: string;
  at: number;
}

function readLedger(path: string): LedgerLine[] {
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  return text.split("\n").filter((line) => line.trim() !== "").map((line) => {
    const [word, id, attempt, worker, key, at] = line.trim().split(/\s+/);
    return { word: word as LedgerLine["word"], id: id!, attempt: Number(attempt), worker: worker!, key: key!, at: Number(at) };
  });
}

interface Run {
  id: string;
  worker: string;
  key: string;
  start: number;
  /** `diedAt` when it never ended (its worker was killed: in-process tasks die with it). */
  end: number;
}

function runsOf(ledger: LedgerLine[], diedAt = Number.POSITIVE_INFINITY): Run[] {
  const runs = new Map<string, Run>();
  for (const line of ledger) {
    const name = `${line.id}/${line.attempt}/${line.worker}`;
    if (line.word === "start") runs.set(name, { id: line.id, worker: line.worker, key: line.key, start: line.at, end: diedAt });
    else runs.get(name)!.end = line.at;
  }
  return [...runs.values()];
}

/** The most runs in `runs` at one time. */
function maxOverlap(runs: Run[]): number {
  const edges = runs.flatMap((r) => [{ at: r.start, step: 1 }, { at: r.end, step: -1 }]).sort((a, b) => a.at - b.at || a.step - b.step);
  let current = 0;
  let most = 0;
  for (const edge of edges) most = Math.max(most, (current += edge.step));
  return most;
}

async function setup(label: string): Promise<{ db: TestDatabase; ledger: string }> {
  const db = await createTestDatabase({ flavour: "reproq", label });
  databases.push(db);
  return { db, ledger: join(scratch, `${db.name}.ledger`) };
}

function spawn(db: TestDatabase, ledger: string, name: string, extra: string[]): WorkerProcess {
  const args = [
    "worker", "--dsn", db.dsn, "--executor", "bun-inprocess", "--tasks-dir", TASKS_DIR, "--allowed-task-modules", "tasks.",
    "--poll-min-backoff", "50ms", "--poll-max-backoff", "500ms", "--log-format", "json", "--worker-id", name, ...extra,
  ];
  const worker = startWorker(args, { LEDGER_FILE: ledger, WORKER_NAME: name });
  workers.push(worker);
  return worker;
}

/** Rows `worker` holds RUNNING that no handler has started at their current attempt: its local buffer. */
async function bufferedRows(db: TestDatabase, ledger: string, worker: string): Promise<string[]> {
  const held = await db.sql<{ result_id: string; attempts: number }[]>`
    select result_id::text, attempts from task_runs where status = 'RUNNING' and leased_by = ${worker}`;
  const started = new Set(readLedger(ledger).filter((l) => l.word === "start" && l.worker === worker).map((l) => `${l.id}/${l.attempt}`));
  return held.filter((row) => !started.has(`${row.result_id}/${row.attempts}`)).map((row) => row.result_id);
}

describe("worker pipeline (binary, bun-inprocess)", () => {
  test("kill -9 with a full local buffer: every row is rescued and succeeds, buffered rows run once, no row runs twice at a time", async () => {
    const { db, ledger } = await setup("pipeline_kill");
    const total = 1_500;
    await enqueue(db.sql, Array.from({ length: total }, () => ({ taskPath: "tasks.ledger.run", kwargs: { ms: 20 } })));
    const heartbeat = ["--registry-heartbeat-seconds", "2"];
    const victim = spawn(db, ledger, "victim", ["--concurrency", "4", "--claim-batch-size", "50", ...heartbeat]);
    await waitFor(async () => readLedger(ledger).filter((l) => l.word === "end").length >= 40, { what: "the victim to run its first tasks" });
    await waitFor(async () => (await bufferedRows(db, ledger, "victim")).length >= 5, { timeoutMs: 30_000, intervalMs: 5, what: "rows in the victim's local buffer" });
    victim.proc.kill("SIGKILL");
    await victim.exited;
    const diedAt = performance.timeOrigin + performance.now();
    const buffered = await bufferedRows(db, ledger, "victim");
    expect(buffered.length).toBeGreaterThan(0);

    spawn(db, ledger, "rescuer", ["--concurrency", "16", ...heartbeat]);
    await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === total, { timeoutMs: 150_000, intervalMs: 200, what: "every row to succeed" });

    const runs = runsOf(readLedger(ledger), diedAt);
    expect(runs.filter((r) => r.worker === "rescuer").every((r) => r.start > diedAt)).toBe(true);
    const byId = Map.groupBy(runs, (r) => r.id);
    for (const [id, ofRow] of byId) expect({ id, overlap: maxOverlap(ofRow) }).toEqual({ id, overlap: 1 });
    const rescued = await db.sql<{ result_id: string; attempts: number; kinds: string[] }[]>`
      select result_id::text, attempts, coalesce((select array_agg(e->>'kind') from jsonb_array_elements(errors_json) e), '{}') as kinds
      from task_runs where result_id = any(${buffered}::bigint[]) order by result_id`;
    for (const row of rescued) {
      expect(row.kinds).toEqual(["worker_lost"]);
      expect(byId.get(row.result_id)!.map((r) => r.worker)).toEqual(["rescuer"]); // never started on the victim
    }
  });

  test("kill -9 with a short-task batch's transaction open: its rows are READY again at once (attempt not counted), nothing is left RUNNING, a second worker runs each once", async () => {
    const { db, ledger } = await setup("pipeline_kill_batch");
    const flag = join(scratch, "spin-flag");
    const victim = spawn(db, ledger, "victim", ["--concurrency", "8", "--short-task-bound", "50ms"]);
    // A first row: the first claim is a transaction; batches start once a pick met no keyed rows.
    const [warm] = await enqueue(db.sql, [{ taskPath: "tasks.ledger.run", kwargs: { ms: 1 } }]);
    await waitFor(async () => (await db.sql`select 1 from task_runs where result_id = ${warm!}::bigint and status = 'SUCCESSFUL'`).length > 0, { what: "the first row" });
    const ids = await enqueue(db.sql, [
      { taskPath: "tasks.spin.run", kwargs: { flag } },
      ...Array.from({ length: 5 }, () => ({ taskPath: "tasks.ledger.run", kwargs: { ms: 1 } })),
    ]);
    const [spin] = ids as [string];
    // The spinning row is locked by the open batch (another transaction's SKIP LOCKED passes it by) and still READY.
    await waitFor(async () => {
      const state = await db.sql.begin(async (tx) => {
        const [row] = await tx<{ status: string }[]>`select status from task_runs where result_id = ${spin}::bigint`;
        const free = await tx`select 1 from task_runs where result_id = ${spin}::bigint for update skip locked`;
        return { status: row!.status, locked: free.length === 0 };
      });
      return state.status === "READY" && state.locked;
    }, { intervalMs: 20, what: "the spinning row READY and locked by the worker's open batch" });
    await Bun.sleep(300); // well past the bound: the batch is still open (the handler holds the event loop)
    victim.proc.kill("SIGKILL");
    await victim.exited;
    const diedAt = performance.timeOrigin + performance.now();
    // The server rolls the batch back as soon as the connection is gone.
    const after = await waitFor(async () => {
      const rows = await db.sql<{ result_id: string; status: string; attempts: number; worker_ids: string[] }[]>`
        select result_id::text, status, attempts, worker_ids from task_runs where result_id = any(${ids}::bigint[]) order by result_id`;
      const free = await db.sql.begin((tx) => tx`select 1 from task_runs where result_id = ${spin}::bigint for update skip locked`);
      return free.length === 1 ? rows : null;
    }, { timeoutMs: 10_000, intervalMs: 20, what: "the batch's row locks to go" });
    expect(after.filter((r) => r.status === "RUNNING")).toEqual([]);
    expect(after.find((r) => r.result_id === spin)).toEqual({ result_id: spin, status: "READY", attempts: 0, worker_ids: [] });
    for (const row of after.filter((r) => r.status !== "SUCCESSFUL")) expect(row).toEqual({ ...row, status: "READY", attempts: 0, worker_ids: [] as string[] });

    writeFileSync(flag, "");
    spawn(db, ledger, "second", ["--concurrency", "8"]);
    await waitFor(async () => (await db.sql`select 1 from task_runs where result_id = any(${ids}::bigint[]) and status = 'SUCCESSFUL'`).length === ids.length, { what: "every row to succeed" });
    const rows = await db.sql<{ attempts: number; worker_ids: string[] }[]>`select attempts, worker_ids from task_runs where result_id = any(${ids}::bigint[])`;
    expect(rows.every((r) => r.attempts === 1 && r.worker_ids.length === 1)).toBe(true);
    const runs = runsOf(readLedger(ledger), diedAt);
    for (const [id, ofRow] of Map.groupBy(runs, (r) => r.id)) expect({ id, overlap: maxOverlap(ofRow) }).toEqual({ id, overlap: 1 });
  });

  test("SIGTERM with rows in the local buffer: they are READY again with the claim undone when the worker exits", async () => {
    const { db, ledger } = await setup("pipeline_shutdown");
    await enqueue(db.sql, Array.from({ length: 2_000 }, () => ({ taskPath: "tasks.ledger.run", kwargs: { ms: 20 } })));
    const worker = spawn(db, ledger, "stopping", ["--concurrency", "2", "--claim-batch-size", "50"]);
    await waitFor(async () => readLedger(ledger).filter((l) => l.word === "end").length >= 40, { what: "the first tasks" });
    await waitFor(async () => (await bufferedRows(db, ledger, "stopping")).length >= 5, { timeoutMs: 30_000, intervalMs: 5, what: "rows in the local buffer" });
    const stopAt = performance.now();
    expect(await stopWorker(worker)).toBe(0);
    expect(performance.now() - stopAt).toBeLessThan(10_000);
    expect((await statusCounts(db.sql)).RUNNING ?? 0).toBe(0);
    const returned = worker.logs.find((line) => line.msg === "Returned claimed tasks that had not started");
    expect(Number(returned?.count)).toBeGreaterThan(0);
    const started = new Set(readLedger(ledger).map((l) => l.id));
    const [untouched] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from task_runs
      where status = 'READY' and attempts = 0 and started_at is null and worker_ids = '[]'::jsonb and leased_by is null`;
    const [ready] = await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs where status = 'READY'`;
    expect(untouched!.n).toBe(ready!.n); // every READY row looks as if never claimed
    expect(ready!.n + started.size).toBe(2_000);
  });

  test("delayed tasks start when due, one at a time: none waits for the poll backoff (5 s here)", async () => {
    const { db, ledger } = await setup("pipeline_delayed");
    const worker = startWorker([
      "worker", "--dsn", db.dsn, "--executor", "bun-inprocess", "--tasks-dir", TASKS_DIR, "--allowed-task-modules", "tasks.",
      "--poll-max-backoff", "5s", "--log-format", "json", "--worker-id", "delayed",
    ], { LEDGER_FILE: ledger, WORKER_NAME: "delayed" });
    workers.push(worker);
    const ended = (id: string) => readLedger(ledger).some((l) => l.word === "end" && l.id === id);
    const [first] = await enqueue(db.sql, [{ taskPath: "tasks.ledger.run", kwargs: { ms: 1 } }]);
    await waitFor(async () => ended(first!), { what: "the worker to run a first task" });
    // Due 100–300 ms after the enqueue: the worker is idle, so it claims on the NOTIFY (nothing due
    // yet), sleeps until run_after and claims again; a claim that starts a hair early must not
    // leave the row to the next poll.
    const late: number[] = [];
    for (let i = 0; i < 25; i++) {
      const [id] = await enqueue(db.sql, [{ taskPath: "tasks.ledger.run", runAfterSeconds: 0.1 + Math.random() * 0.2, kwargs: { ms: 1 } }]);
      await waitFor(async () => ended(id!), { timeoutMs: 15_000, intervalMs: 5, what: `delayed task ${i}` });
      const [row] = await db.sql<{ due: number }[]>`select extract(epoch from run_after)::float8 * 1000 as due from task_runs where result_id = ${id!}`;
      const start = readLedger(ledger).find((l) => l.word === "start" && l.id === id)!.at;
      late.push(start - Number(row!.due));
    }
    expect(Math.min(...late)).toBeGreaterThanOrEqual(-1); // never before it is due (same host clock)
    expect(Math.max(...late)).toBeLessThan(250);
  });

  test("lock and concurrency keys hold with 8 workers claiming ahead", async () => {
    const { db, ledger } = await setup("pipeline_keys");
    const rows = [
      ...Array.from({ length: 40 }, () => ({ taskPath: "tasks.ledger.run", lockKey: "lock-a", kwargs: { ms: 15, key: "lock-a" } })),
      ...Array.from({ length: 60 }, () => ({ taskPath: "tasks.ledger.run", concurrencyKey: "conc-b", concurrencyLimit: 2, kwargs: { ms: 15, key: "conc-b" } })),
      ...Array.from({ length: 200 }, () => ({ taskPath: "tasks.ledger.run", kwargs: { ms: 5 } })),
    ];
    await enqueue(db.sql, rows.sort(() => Math.random() - 0.5));
    for (let i = 0; i < 8; i++) spawn(db, ledger, `w${i}`, ["--concurrency", "4", "--claim-batch-size", "20"]);
    await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === rows.length, { timeoutMs: 150_000, intervalMs: 200, what: "every row to succeed" });
    const runs = runsOf(readLedger(ledger));
    expect(runs.length).toBe(rows.length);
    expect(maxOverlap(runs.filter((r) => r.key === "lock-a"))).toBe(1);
    expect(maxOverlap(runs.filter((r) => r.key === "conc-b"))).toBeLessThanOrEqual(2);
    expect(new Set(runs.map((r) => r.worker)).size).toBeGreaterThan(1);
  });
});
