// Postgres killing the worker's connections mid-query, over and over, under load: a killer
// terminates every backend of the queue's database twice a second while tasks are offered at a
// high rate to one `reproq worker` with 32 slots. Afterwards the worker must recover (claims and
// result writes continue, throughput comes back), every task must be SUCCESSFUL with its own
// result and must have run once (a ledger written by the task bodies: start/end lines), nothing
// may be left RUNNING, and SIGTERM must end the worker within a bounded time — after the storm
// and during it.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb, closeDb, type Sql } from "../../src/db/client.ts";
import { baseDsn, createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { readLedger, type LedgerLine } from "../helpers/ledger.ts";
import { baseWorkerArgs, enqueue, startWorker, waitFor, type WorkerProcess } from "../helpers/worker.ts";

setDefaultTimeout(150_000);

/** The harness's own connections carry this name; the killer spares them (the worker's are its target). */
const HARNESS_APP = "reproq-chaos-harness";
const KILL_INTERVAL_MS = 500;
/** Tasks offered per second during the storm (the worker may fall behind; the rest is drained after). */
/** CHAOS_RATE and CHAOS_STORM_SECONDS change the load and the length of the storm (manual runs). */
const OFFERED_PER_SECOND = Number(process.env.CHAOS_RATE ?? 300);
const SLOTS = 32;

const scratch = mkdtempSync(join(tmpdir(), "reproq-backend-kills-"));
const databases: TestDatabase[] = [];
const workers: WorkerProcess[] = [];
const pools: Sql[] = [];
const stoppedBackends = new Set<number>();
afterAll(async () => {
  for (const pid of stoppedBackends) signalBackend(pid, "SIGCONT");
  for (const worker of workers) if (worker.proc.exitCode === null) worker.proc.kill("SIGKILL");
  await Promise.all(pools.map((sql) => closeDb(sql, 1)));
  await Promise.all(databases.map((db) => db.drop()));
  rmSync(scratch, { recursive: true, force: true });
});

// The bun-inprocess task: appends ledger lines (helpers/ledger.ts) `start` and `end` around a short sleep.
const TASKS_DIR = join(scratch, "ts");
mkdirSync(join(TASKS_DIR, "tasks"), { recursive: true });
writeFileSync(join(TASKS_DIR, "tasks", "ledger.ts"), `import { appendFileSync } from "node:fs";
export async function run(_args: unknown[], kwargs: Record<string, unknown>, ctx: { resultId: string; attempt: number }) {
  const note = (word: string) =>
    appendFileSync(process.env.LEDGER_FILE!, \`\${word} \${ctx.resultId} \${ctx.attempt} \${process.pid} \${(Date.now() / 1000).toFixed(3)}\\n\`);
  note("start");
  await Bun.sleep(Number(kwargs.ms ?? 10));
  note("end");
  return { id: ctx.resultId };
}
`);
const TASK_PATH = "tasks.ledger.run";

/** A pool on the test database that the killer spares. */
function harnessPool(db: TestDatabase): Sql {
  // Bounded too: a probe that cannot be answered fails the test instead of hanging it.
  const sql = createDb({ dsn: db.dsn, env: {}, poolSize: 4, connectTimeoutMs: 10_000, prepare: true, applicationName: HARNESS_APP, queryTimeoutMs: 10_000 });
  pools.push(sql);
  return sql;
}

interface Killer {
  stop(): Promise<{ rounds: number; killed: number }>;
}

/** Terminates every backend of `db` but the harness's, every KILL_INTERVAL_MS, from the admin database. */
async function startKiller(db: TestDatabase): Promise<Killer> {
  const admin = createDb({ dsn: await baseDsn(), env: {}, poolSize: 1, connectTimeoutMs: 10_000, prepare: true, applicationName: HARNESS_APP });
  pools.push(admin);
  let running = true;
  let rounds = 0;
  let killed = 0;
  const loop = (async () => {
    while (running) {
      const [row] = await admin<{ n: number }[]>`
        select count(*) filter (where pg_terminate_backend(pid))::int as n from pg_stat_activity
        where datname = ${db.name} and pid <> pg_backend_pid() and application_name <> ${HARNESS_APP}`;
      rounds++;
      killed += row?.n ?? 0;
      await Bun.sleep(KILL_INTERVAL_MS);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { rounds, killed };
    },
  };
}

/** Signals a backend process (the server runs on this machine); false when that is not possible. */
function signalBackend(pid: number, signal: "SIGSTOP" | "SIGCONT"): boolean {
  try {
    process.kill(pid, signal);
    if (signal === "SIGSTOP") stoppedBackends.add(pid);
    else stoppedBackends.delete(pid);
    return true;
  } catch {
    return false;
  }
}

/**
 * The worker's idle backends now (waiting for their next statement). Only idle ones are stopped: a
 * backend stopped while active may hold a server-internal lock (LWLock) that no timeout breaks,
 * stalling every session of the server — the harness's too.
 */
async function idleWorkerBackends(sql: Sql, db: TestDatabase): Promise<number[]> {
  const rows = await sql<{ pid: number }[]>`
    select pid from pg_stat_activity where datname = ${db.name} and application_name <> ${HARNESS_APP}
      and backend_type = 'client backend' and state = 'idle'`;
  return rows.map((r) => r.pid);
}

/** Linux x86-64 syscalls a backend waiting for its client's next message sleeps in (WaitEventSetWait). */
const WAITING_SYSCALLS = new Set(["7", "232", "271", "281", "441"]); // poll, epoll_wait, ppoll, epoll_pwait, epoll_pwait2

/**
 * SIGSTOPs `pid` and keeps it stopped only if it was asleep waiting for input (so it holds no
 * server-internal lock); one that had just become active is let go at once (SIGCONT).
 */
async function stopIfWaitingForClient(pid: number): Promise<boolean> {
  if (!signalBackend(pid, "SIGSTOP")) return false;
  await Bun.sleep(20);
  let syscall = "";
  try {
    syscall = (await Bun.file(`/proc/${pid}/syscall`).text()).trim().split(/\s+/)[0] ?? "";
  } catch {
    // no /proc: trust pg_stat_activity's "idle"
    return true;
  }
  if (WAITING_SYSCALLS.has(syscall)) return true;
  signalBackend(pid, "SIGCONT");
  return false;
}

interface Offer {
  stop(): Promise<number>;
}

/** Enqueues OFFERED_PER_SECOND tasks a second (in 10 batches) until stopped; returns how many. */
function offerLoad(sql: Sql): Offer {
  let running = true;
  let offered = 0;
  const perTick = Math.round(OFFERED_PER_SECOND / 10);
  const loop = (async () => {
    let next = performance.now();
    while (running) {
      await enqueue(sql, Array.from({ length: perTick }, () => ({ taskPath: TASK_PATH, kwargs: { ms: 10 }, maxAttempts: 10 })));
      offered += perTick;
      next += 100;
      await Bun.sleep(Math.max(0, next - performance.now()));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return offered;
    },
  };
}

async function counts(sql: Sql): Promise<{ total: number; done: number; running: number }> {
  const [row] = await sql<{ total: number; done: number; running: number }[]>`
    select count(*)::int as total, count(*) filter (where status = 'SUCCESSFUL')::int as done,
           count(*) filter (where status = 'RUNNING')::int as running from task_runs`;
  return row!;
}

/** Every 5 s: tasks done so far and RUNNING rows (the harness pool is spared by the killer). */
function sampleProgress(sql: Sql): { stop(): string } {
  const started = performance.now();
  const samples: string[] = [];
  let last = 0;
  const timer = setInterval(() => {
    void counts(sql).then((c) => {
      samples.push(`${Math.round((performance.now() - started) / 1000)}s:+${c.done - last}/${c.running}R`);
      last = c.done;
    }, () => {});
  }, 5_000);
  return {
    stop() {
      clearInterval(timer);
      return samples.join(" ");
    },
  };
}

function startChaosWorker(db: TestDatabase, ledger: string, extra: string[] = []): WorkerProcess {
  const worker = startWorker([
    ...baseWorkerArgs(db.dsn), "--executor", "bun-inprocess", "--tasks-dir", TASKS_DIR,
    "--concurrency", String(SLOTS), "--worker-id", "chaos",
    // Default leases (300 s): a claim whose answer was lost must come back long before that. A
    // short statement bound keeps the test short (rows of a lost claim wait for it, plus 5 s).
    "--query-timeout", "5s",
    ...extra,
  ], { LEDGER_FILE: ledger });
  workers.push(worker);
  return worker;
}

/** Ledger checks: every SUCCESSFUL row's body ran and finished; none ran twice at the same time. */
function ledgerFindings(ledger: string, ids: string[]) {
  const lines = readLedger(ledger);
  const byId = new Map<string, LedgerLine[]>();
  for (const line of lines) {
    const list = byId.get(line.id) ?? [];
    list.push(line);
    byId.set(line.id, list);
  }
  let lost = 0;
  let ranTwice = 0;
  let overlapping = 0;
  for (const id of ids) {
    const runs = byId.get(id) ?? [];
    const starts = runs.filter((l) => l.word === "start").sort((a, b) => a.at - b.at);
    const ends = runs.filter((l) => l.word === "end").sort((a, b) => a.at - b.at);
    if (ends.length === 0) lost++;
    if (starts.length > 1) ranTwice++;
    // Run i (by start time) must have ended before run i+1 started.
    for (let i = 1; i < starts.length; i++) if (!ends[i - 1] || ends[i - 1]!.at > starts[i]!.at) overlapping++;
  }
  return { lost, ranTwice, overlapping, lines: lines.length };
}

async function storedWrongly(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from task_runs
    where status <> 'SUCCESSFUL' or return_json->>'id' is distinct from result_id::text`;
  return row!.n;
}

async function stopWithin(worker: WorkerProcess, limitMs: number): Promise<{ code: number; ms: number }> {
  const started = performance.now();
  worker.signal("SIGTERM");
  const timer = setTimeout(() => worker.signal("SIGKILL"), limitMs);
  const code = await worker.exited;
  clearTimeout(timer);
  return { code, ms: performance.now() - started };
}

/** How many warn/error log lines the worker wrote, by message (to see that outages are logged once per stretch). */
function logCounts(worker: WorkerProcess): string {
  const counts = new Map<string, number>();
  for (const line of worker.logs) {
    if (line.level !== "WARN" && line.level !== "ERROR") continue;
    const msg = String(line.msg ?? "").slice(0, 60);
    counts.set(msg, (counts.get(msg) ?? 0) + 1);
  }
  return JSON.stringify(Object.fromEntries(counts));
}

function logTail(worker: WorkerProcess): string {
  return JSON.stringify(worker.logs.slice(-25), null, 1) + "\n" + worker.stderr().slice(-3000);
}

describe("backend kills under load (pg_terminate_backend twice a second)", () => {
  test("the worker recovers: every task SUCCESSFUL once, nothing RUNNING, SIGTERM afterwards exits 0", async () => {
    const db = await createTestDatabase({ flavour: "reproq", label: "backend_kills" });
    databases.push(db);
    const sql = harnessPool(db);
    const ledger = join(scratch, `${db.name}.ledger`);
    const worker = startChaosWorker(db, ledger);
    await waitFor(async () => worker.logs.some((line) => line.msg === "Starting reproq worker") || worker.proc.exitCode !== null, { what: "worker start" });

    // Before: a few seconds of load without the killer, for the throughput baseline.
    const progress = sampleProgress(sql);
    const offer = offerLoad(sql);
    const before0 = (await counts(sql)).done;
    await Bun.sleep(5_000);
    const before1 = (await counts(sql)).done;
    const baseline = (before1 - before0) / 5;

    const STORM_SECONDS = Number(process.env.CHAOS_STORM_SECONDS ?? 30);
    const killer = await startKiller(db);
    const stormStarted = performance.now();
    const perStretch: number[] = [];
    let last = before1;
    for (let s = 0; s < STORM_SECONDS; s += 5) {
      await Bun.sleep(5_000);
      const now = (await counts(sql)).done;
      perStretch.push((now - last) / 5);
      last = now;
    }
    const kills = await killer.stop();
    const stormRate = (last - before1) / ((performance.now() - stormStarted) / 1000);

    // After: recovery is the first 5 s stretch at ≥ half the baseline rate (or the backlog gone).
    const afterStart = performance.now();
    let recoveredMs: number | null = null;
    let afterRate = 0;
    for (let i = 0; i < 6 && recoveredMs === null; i++) {
      const from = (await counts(sql)).done;
      await Bun.sleep(2_000);
      const c = await counts(sql);
      afterRate = (c.done - from) / 2;
      if (afterRate >= baseline / 2 || c.done === c.total) recoveredMs = performance.now() - afterStart;
    }
    const offered = await offer.stop();
    const drainStarted = performance.now();
    let final = await counts(sql);
    try {
      final = await waitFor(async () => {
        const c = await counts(sql);
        return c.done === c.total ? c : null;
      }, { timeoutMs: 60_000, intervalMs: 250, what: "every offered task SUCCESSFUL" });
    } catch (error) {
      final = await counts(sql);
      console.log(`backend kills: stuck with ${JSON.stringify(final)}; progress (done per 5 s / RUNNING) ${progress.stop()}`, logTail(worker));
      const stuck = await sql`select pid, state, wait_event_type, wait_event, now() - query_start as age, left(query, 80) as query
                              from pg_stat_activity where datname = ${db.name} and application_name <> ${HARNESS_APP}`;
      console.log("worker backends now:", JSON.stringify(stuck));
      throw error;
    }
    const drainSeconds = (performance.now() - drainStarted) / 1000;

    const stop = await stopWithin(worker, 30_000);
    const ids = (await sql<{ id: string }[]>`select result_id::text as id from task_runs`).map((r) => r.id);
    const findings = ledgerFindings(ledger, ids);
    const wrong = await storedWrongly(sql);
    const [attempts] = await sql<{ reclaimed: number; max: number }[]>`
      select count(*) filter (where attempts > 1)::int as reclaimed, max(attempts)::int as max from task_runs`;
    console.log(
      `backend kills: ${kills.rounds} kill rounds, ${kills.killed} backends terminated over ${STORM_SECONDS} s; ` +
        `${offered} tasks offered (${OFFERED_PER_SECOND}/s), ${SLOTS} slots; ` +
        `done/s baseline ${baseline.toFixed(0)}, storm ${stormRate.toFixed(0)} (per 5 s: ${perStretch.map((n) => n.toFixed(0)).join(", ")}), ` +
        `after ${afterRate.toFixed(0)}; recovered ${recoveredMs === null ? "never" : `${(recoveredMs / 1000).toFixed(1)} s`} after the storm; ` +
        `backlog drained in ${drainSeconds.toFixed(1)} s; rows with attempts > 1: ${attempts?.reclaimed} (max ${attempts?.max}); ` +
        `ledger ${JSON.stringify(findings)}; stored wrongly ${wrong}; SIGTERM → exit ${stop.code} in ${(stop.ms / 1000).toFixed(1)} s; ` +
        `progress (done per 5 s / RUNNING) ${progress.stop()}; warn/error lines ${logCounts(worker)}`,
    );
    expect(final.running).toBe(0);
    expect(final.done).toBe(final.total);
    expect(findings.lost).toBe(0);
    expect(findings.overlapping).toBe(0);
    expect(findings.ranTwice).toBe(0);
    expect(wrong).toBe(0);
    expect(recoveredMs).not.toBeNull();
    if (stop.code !== 0) console.log(logTail(worker));
    expect(stop.code).toBe(0);
    expect(stop.ms).toBeLessThan(15_000);
  });

  test("SIGTERM during the storm exits within a bounded time (0, or 3 with the result journal), and nothing is lost", async () => {
    const db = await createTestDatabase({ flavour: "reproq", label: "backend_kills_term" });
    databases.push(db);
    const sql = harnessPool(db);
    const ledger = join(scratch, `${db.name}.ledger`);
    const journal = mkdtempSync(join(scratch, "journal-"));
    const worker = startChaosWorker(db, ledger, ["--journal-dir", journal]);
    await waitFor(async () => worker.logs.some((line) => line.msg === "Starting reproq worker") || worker.proc.exitCode !== null, { what: "worker start" });
    const offer = offerLoad(sql);
    const killer = await startKiller(db);
    await Bun.sleep(8_000);
    const stop = await stopWithin(worker, 60_000);
    await killer.stop();
    const offered = await offer.stop();
    console.log(`backend kills, SIGTERM during the storm: exit ${stop.code} in ${(stop.ms / 1000).toFixed(1)} s (${offered} offered)`);
    if (stop.code !== 0 && stop.code !== 3) console.log(logTail(worker));
    expect([0, 3]).toContain(stop.code);
    expect(stop.ms).toBeLessThan(40_000);

    // A second worker (no killer now) finishes the rest; the journal's outcomes are written, not re-run.
    const next = startChaosWorker(db, ledger, ["--journal-dir", journal]);
    await waitFor(async () => next.logs.some((line) => line.msg === "Starting reproq worker") || next.proc.exitCode !== null, { what: "second worker start" });
    const final = await waitFor(async () => {
      const c = await counts(sql);
      return c.done === c.total ? c : null;
    }, { timeoutMs: 60_000, intervalMs: 250, what: "every task SUCCESSFUL after the restart" });
    const again = await stopWithin(next, 30_000);
    expect(again.code).toBe(0);
    const ids = (await sql<{ id: string }[]>`select result_id::text as id from task_runs`).map((r) => r.id);
    const findings = ledgerFindings(ledger, ids);
    console.log(`backend kills, SIGTERM during the storm, after restart: ${final.total} tasks, ledger ${JSON.stringify(findings)}`);
    expect(final.running).toBe(0);
    expect(findings.lost).toBe(0);
    expect(findings.overlapping).toBe(0);
    expect(await storedWrongly(sql)).toBe(0);
  });
});

describe("backends that stop answering (SIGSTOP of the worker's idle backends: a hung server or a dead network path)", () => {
  test("stuck statements fail within the bound, SIGTERM while the backends are still stopped exits in bounded time, nothing is lost", async () => {
    const db = await createTestDatabase({ flavour: "reproq", label: "backend_stop" });
    databases.push(db);
    const sql = harnessPool(db);
    const ledger = join(scratch, `${db.name}.ledger`);
    const journal = mkdtempSync(join(scratch, "journal-"));
    // --query-timeout 2s: a silent connection is given up 7 s after its statement was sent.
    const args = ["--query-timeout", "2s", "--journal-dir", journal];
    const worker = startChaosWorker(db, ledger, args);
    await waitFor(async () => worker.logs.some((line) => line.msg === "Starting reproq worker") || worker.proc.exitCode !== null, { what: "worker start" });
    const offer = offerLoad(sql);
    await Bun.sleep(3_000);
    const frozen: number[] = [];
    for (const pid of await idleWorkerBackends(sql, db)) if (await stopIfWaitingForClient(pid)) frozen.push(pid);
    if (frozen.length === 0) {
      console.log("backend stop: cannot signal the server's processes (not local); skipped");
      await offer.stop();
      await stopWithin(worker, 30_000);
      return;
    }
    const frozenAt = performance.now();
    const doneAtFreeze = (await counts(sql)).done;
    // Statements sent to a stopped backend fail with QUERY_TIMEOUT (7 s here) and go again on new
    // connections: the worker keeps going. (Some of them, such as the cancellation poll, fail
    // silently, so the log line is reported, not required.)
    await Bun.sleep(12_000);
    const timeoutLine = worker.logs.find((line) => JSON.stringify(line).includes("QUERY_TIMEOUT"));
    const surfaced = timeoutLine ? `${((Date.parse(String(timeoutLine.time)) - (Date.now() - (performance.now() - frozenAt))) / 1000).toFixed(1)} s after the stop` : "by no logging path";
    const doneWhileFrozen = (await counts(sql)).done - doneAtFreeze;
    expect(doneWhileFrozen).toBeGreaterThan(0);
    await offer.stop();
    const stop = await stopWithin(worker, 90_000); // the old backends are still stopped
    for (const pid of frozen) signalBackend(pid, "SIGCONT");

    // Another worker (same journal) finishes the rest; nothing lost, nothing run twice at once.
    const next = startChaosWorker(db, ledger, args);
    await waitFor(async () => next.logs.some((line) => line.msg === "Starting reproq worker") || next.proc.exitCode !== null, { what: "second worker start" });
    const final = await waitFor(async () => {
      const c = await counts(sql);
      return c.done === c.total ? c : null;
    }, { timeoutMs: 60_000, intervalMs: 250, what: "every task SUCCESSFUL after the restart" });
    const again = await stopWithin(next, 30_000);
    const ids = (await sql<{ id: string }[]>`select result_id::text as id from task_runs`).map((r) => r.id);
    const findings = ledgerFindings(ledger, ids);
    console.log(
      `backend stop: ${frozen.length} backends stopped; QUERY_TIMEOUT logged ${surfaced}; ` +
        `${doneWhileFrozen} tasks done in the 12 s while stopped; SIGTERM with the backends still stopped → exit ${stop.code} in ${(stop.ms / 1000).toFixed(1)} s; ` +
        `${final.total} tasks, ledger ${JSON.stringify(findings)}; warn/error lines ${logCounts(worker)}`,
    );
    if (stop.code !== 0 && stop.code !== 3) console.log(logTail(worker));
    expect([0, 3]).toContain(stop.code); // 3: results went to the result journal
    expect(stop.ms).toBeLessThan(60_000);
    expect(again.code).toBe(0);
    expect(final.running).toBe(0);
    expect(findings.lost).toBe(0);
    expect(findings.overlapping).toBe(0);
    expect(await storedWrongly(sql)).toBe(0);
  });
});
