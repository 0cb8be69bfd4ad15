// SIGTERM while the database is unreachable: the outcomes the worker could not write go to a local
// journal, the worker exits with code 3, and the next worker started on the same journal directory
// writes them (fenced like a normal completion) before claiming anything.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDsn } from "../../src/db/dsn.ts";
import { buildDsn, createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { readTask } from "../helpers/tasks.ts";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.ts";
import { baseWorkerArgs, enqueue, startWorker, statusCounts, stopWorker, waitFor, type EnqueueRow, type WorkerProcess } from "../helpers/worker.ts";

setDefaultTimeout(120_000);

const EXIT_RESULTS_UNWRITTEN = 3;
const SECRET = "payload-secret-7f3a";

const databases: TestDatabase[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function database(label: string): Promise<TestDatabase> {
  const db = await createTestDatabase({ flavour: "reproq", label });
  databases.push(db);
  return db;
}

function journalDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "reproq-journal-"));
  dirs.push(dir);
  return dir;
}

function journalFiles(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith(".jsonl"));
}

async function exitCode(worker: WorkerProcess, timeoutMs: number): Promise<number> {
  const timer = setTimeout(() => worker.signal("SIGKILL"), timeoutMs);
  try {
    return await worker.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `rows` through a worker behind the proxy, cuts the database while they finish, SIGTERMs. */
async function stopDuringOutage(db: TestDatabase, proxy: TcpProxy, rows: EnqueueRow[], dir: string, extra: string[], secondSignal = false) {
  const target = parseDsn(db.dsn, process.env);
  const viaProxy = buildDsn({ ...target, host: "127.0.0.1", port: proxy.port });
  const ids = await enqueue(db.sql, rows);
  const worker = startWorker([...baseWorkerArgs(viaProxy), "--journal-dir", dir, "--worker-id", "journal-w1", "--concurrency", String(rows.length), ...extra]);
  await waitFor(async () => (await statusCounts(db.sql)).RUNNING === rows.length, { what: "tasks running" });
  proxy.cut();
  await Bun.sleep(3_500); // the tasks finish; their results cannot be written
  worker.signal("SIGTERM");
  if (secondSignal) {
    await Bun.sleep(1_000);
    worker.signal("SIGTERM"); // result retries end 5 s later instead of 30 s
  }
  const code = await exitCode(worker, 90_000);
  if (code !== EXIT_RESULTS_UNWRITTEN) console.log(JSON.stringify(worker.logs.slice(-12), null, 1), worker.stderr());
  return { ids, code, worker };
}

describe("SIGTERM during a database outage", () => {
  test("exits 3, journals the outcomes (no payload values), and the next worker writes them before claiming", async () => {
    const db = await database("journal_replay");
    const dir = journalDir();
    const proxy = await startTcpProxy(parseDsn(db.dsn, process.env));
    try {
      const rows: EnqueueRow[] = [
        { kwargs: { mode: "sleep", seconds: 1.5, token: SECRET } },
        { kwargs: { mode: "sleep", seconds: 1.5, token: SECRET } },
        { kwargs: { mode: "sleep", seconds: 1.5, then: "raise", token: SECRET }, maxAttempts: 1 },
      ];
      const { ids, code } = await stopDuringOutage(db, proxy, rows, dir, ["--lease-seconds", "300"]);
      expect(code).toBe(EXIT_RESULTS_UNWRITTEN);
      expect((await statusCounts(db.sql)).RUNNING).toBe(3); // nothing could be written

      const files = journalFiles(dir);
      expect(files).toEqual(["reproq-journal-journal-w1.jsonl"]);
      const path = join(dir, files[0] as string);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const text = readFileSync(path, "utf8");
      expect(text).not.toContain(SECRET);
      const entries = text.trim().split("\n").map((line) => JSON.parse(line) as { result_id: string; kind: string; worker_id: string; attempt: number });
      expect(entries.map((e) => e.result_id).sort()).toEqual([...ids].sort());
      expect(entries.filter((e) => e.kind === "success").length).toBe(2);
      expect(entries.filter((e) => e.kind === "failure").length).toBe(1);
      expect(entries.every((e) => e.worker_id === "journal-w1" && e.attempt === 1)).toBe(true);

      proxy.restore();
      // The same worker id, restarted: its previous run is still registered (the deregistration
      // failed in the outage), so the restart takes over that run's rows (worker_lost) once its
      // deadline passes. The journal must be written before that, so the rows keep their outcome.
      const next = startWorker([...baseWorkerArgs(db.dsn), "--journal-dir", dir, "--worker-id", "journal-w1"]);
      await waitFor(async () => journalFiles(dir).length === 0 && (await statusCounts(db.sql)).RUNNING === undefined, { what: "journal replayed" });
      const [first, second, failed] = await Promise.all(ids.map((id) => readTask(db.sql, id)));
      for (const row of [first, second]) {
        expect(row?.status).toBe("SUCCESSFUL");
        expect(row?.attempts).toBe(1); // written from the journal, not run again
        expect(row?.return_text).toContain('"slept": 1.5');
      }
      expect(failed?.status).toBe("FAILED");
      expect(failed?.attempts).toBe(1);
      expect(failed?.errors.length).toBe(1);
      expect(failed?.errors[0]?.message).toBe("failed after sleeping");
      expect(typeof failed?.errors[0]?.at).toBe("string");
      expect(failed?.last_error).toContain("failed after sleeping");
      expect(next.logs.some((line) => line.msg === "Replayed the result journal" && line.written === 3 && line.skipped === 0)).toBe(true);
      expect(await stopWorker(next)).toBe(0);
      expect(readdirSync(dir).filter((name) => name.includes("reproq-journal")).length).toBe(0);
    } finally {
      await proxy.close();
    }
  });

  test("a row rescued meanwhile is not overwritten by the late journal (skipped)", async () => {
    const db = await database("journal_fenced");
    const dir = journalDir();
    const proxy = await startTcpProxy(parseDsn(db.dsn, process.env));
    try {
      const rows: EnqueueRow[] = [{ kwargs: { mode: "sleep", seconds: 1.5, token: SECRET } }];
      const { ids, code } = await stopDuringOutage(db, proxy, rows, dir, ["--registry-heartbeat-seconds", "4"], true);
      expect(code).toBe(EXIT_RESULTS_UNWRITTEN);
      expect(journalFiles(dir).length).toBe(1);
      proxy.restore();

      // Another worker (its own journal directory) reclaims the row (the first worker's registry row
      // is left behind, so this is the dead-worker rescue) and runs the task again.
      const rescuer = startWorker([...baseWorkerArgs(db.dsn), "--journal-dir", journalDir(), "--registry-heartbeat-seconds", "4"]);
      await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === 1, { timeoutMs: 60_000, what: "rescued and run again" }).catch(async (error: unknown) => {
        console.log(JSON.stringify(rescuer.logs.slice(-15), null, 1), await statusCounts(db.sql));
        throw error;
      });
      expect(await stopWorker(rescuer)).toBe(0);
      const rescued = await readTask(db.sql, ids[0] as string);
      expect(rescued.attempts).toBe(2);
      expect(rescued.errors.map((e) => e.kind)).toEqual(["worker_lost"]); // the dead-worker rescue

      const late = startWorker([...baseWorkerArgs(db.dsn), "--journal-dir", dir]);
      await waitFor(async () => journalFiles(dir).length === 0, { what: "journal handled" });
      await waitFor(async () => late.logs.some((line) => line.msg === "Replayed the result journal"), { what: "replay logged" });
      expect(late.logs.some((line) => line.msg === "Replayed the result journal" && line.written === 0 && line.skipped === 1)).toBe(true);
      expect(await stopWorker(late)).toBe(0);
      const after = await readTask(db.sql, ids[0] as string);
      expect(after.status).toBe("SUCCESSFUL");
      expect(after.attempts).toBe(2);
      expect(after.return_text).toBe(rescued.return_text); // the rescuer's result, untouched
    } finally {
      await proxy.close();
    }
  });

  test("with the database up, SIGTERM still exits 0 and writes no journal", async () => {
    const db = await database("journal_healthy");
    const dir = journalDir();
    await enqueue(db.sql, [{ kwargs: { mode: "sleep", seconds: 1 } }, { kwargs: { mode: "sleep", seconds: 1 } }]);
    const worker = startWorker([...baseWorkerArgs(db.dsn), "--journal-dir", dir, "--concurrency", "2"]);
    await waitFor(async () => (await statusCounts(db.sql)).RUNNING === 2, { what: "tasks running" });
    expect(await stopWorker(worker)).toBe(0);
    const counts = await statusCounts(db.sql);
    expect(counts.RUNNING).toBeUndefined();
    expect(counts.SUCCESSFUL).toBe(2);
    expect(readdirSync(dir).length).toBe(0);
  });
});
