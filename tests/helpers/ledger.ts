// The task ledger of the fault tests: every task appends `start` / `child` / `end` lines to the
// file named by $LEDGER_FILE, as it runs, from inside the task process — what really ran, when
// and where, independent of what the worker wrote to the database. A line is
//
//   <word> <result_id> <attempt> <pid> <wall epoch seconds> [<ppid> [<monotonic seconds>]]
//
// (`child` names a grandchild the task started; ppid is the worker for the process kinds;
// monotonic is CLOCK_MONOTONIC where the writer has it). The three writers: fake_executor.py's
// "ledger" mode (python, python-pool), LEDGER_SH (command) and LEDGER_TS (bun, bun-inprocess).
//
// checkLedger() matches a ledger against the task_runs rows and counts the four faults the chaos
// suite must never see: a task lost, a task run twice at the same time, a row left RUNNING, a row
// stored wrongly. PidWatcher supplies when each unfinished attempt's process was seen dead.
import { expect } from "bun:test";
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Queryable } from "../../src/db/client.ts";
import type { TestDatabase } from "./db.ts";
import { isAlive } from "./executors/index.ts";
import type { WorkerProcess } from "./worker.ts";

export type LedgerWord = "start" | "child" | "end";

export interface LedgerLine {
  word: LedgerWord;
  id: string;
  attempt: number;
  pid: number;
  /** Epoch milliseconds (wall clock). */
  at: number;
  /** The task process's parent (the worker for the process kinds); null when not written. */
  ppid: number | null;
  /** CLOCK_MONOTONIC milliseconds; null when the writer has no such clock. */
  mono: number | null;
}

function parseLine(line: string): LedgerLine {
  const [word, id, attempt, pid, at, ppid, mono] = line.trim().split(/\s+/);
  return {
    word: word as LedgerWord,
    id: id!,
    attempt: Number(attempt),
    pid: Number(pid),
    at: Number(at) * 1000,
    ppid: ppid === undefined ? null : Number(ppid),
    mono: mono === undefined ? null : Number(mono) * 1000,
  };
}

/** The whole ledger so far ([] when the file does not exist yet); a torn last line is skipped. */
export function readLedger(path: string): LedgerLine[] {
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  const lines = text.split("\n");
  if (!text.endsWith("\n")) lines.pop(); // still being written
  return lines.filter((line) => line.trim() !== "").map(parseLine);
}

/**
 * The command kind's task (`/bin/sh LEDGER_SH --result-id N --attempt N …`): the ledger protocol
 * around a `sleep` grandchild of `first_seconds` on attempt 1 and `later_seconds` after (read from
 * $LEDGER_FIRST / $LEDGER_LATER, default 60 and 0.3: a shell cannot parse the JSON payload).
 */
const LEDGER_SH = `#!/bin/sh
id=""; attempt=""
while [ $# -gt 0 ]; do
  case "$1" in
    --result-id) id="$2"; shift 2 ;;
    --attempt) attempt="$2"; shift 2 ;;
    *) shift ;;
  esac
done
cat > /dev/null
note() { echo "$1 $id $attempt $2 $(date +%s.%N) $PPID" >> "$LEDGER_FILE"; }
note start $$
if [ "$attempt" = 1 ]; then seconds="\${LEDGER_FIRST:-60}"; else seconds="\${LEDGER_LATER:-0.3}"; fi
sleep "$seconds" &
note child $!
wait $!
note end $$
echo "{\\"ok\\": true, \\"return\\": {\\"result_id\\": \\"$id\\", \\"attempt\\": $attempt}}"
`;

/**
 * The bun kinds' task module (tasks/ledger.ts). `run` sleeps in a `sleep` grandchild (the bun
 * kind: a process tree to kill); `inprocess` sleeps on a timer (bun-inprocess: the task is the
 * worker process itself; it has no grandchild). kwargs: first_seconds (attempt 1, default 60),
 * later_seconds (later attempts, default 0.3). Returns {result_id, attempt}.
 */
const LEDGER_TS = `import { appendFileSync } from "node:fs";
type Ctx = { resultId: string; attempt: number };
function note(word: string, ctx: Ctx, pid: number) {
  appendFileSync(process.env.LEDGER_FILE!, \`\${word} \${ctx.resultId} \${ctx.attempt} \${pid} \${((performance.timeOrigin + performance.now()) / 1000).toFixed(6)} \${process.ppid}\\n\`);
}
function seconds(kwargs: Record<string, unknown>, ctx: Ctx): number {
  return ctx.attempt === 1 ? Number(kwargs.first_seconds ?? 60) : Number(kwargs.later_seconds ?? 0.3);
}
export async function run(_args: unknown[], kwargs: Record<string, unknown>, ctx: Ctx) {
  note("start", ctx, process.pid);
  const child = Bun.spawn(["sleep", String(seconds(kwargs, ctx))], { stdio: ["ignore", "ignore", "ignore"] });
  note("child", ctx, child.pid);
  await child.exited;
  note("end", ctx, process.pid);
  return { result_id: ctx.resultId, attempt: ctx.attempt };
}
export async function inprocess(_args: unknown[], kwargs: Record<string, unknown>, ctx: Ctx) {
  note("start", ctx, process.pid);
  await Bun.sleep(seconds(kwargs, ctx) * 1000);
  note("end", ctx, process.pid);
  return { result_id: ctx.resultId, attempt: ctx.attempt };
}
`;

export interface LedgerTasks {
  /** argv of the command kind's task (for --executor-command, joined with commas). */
  command: string[];
  /** --tasks-dir for the bun kinds: task paths tasks.ledger.run and tasks.ledger.inprocess. */
  tasksDir: string;
}

/** Writes the command script and the bun task module under `dir`. */
export function writeLedgerTasks(dir: string): LedgerTasks {
  const script = join(dir, "ledger.sh");
  writeFileSync(script, LEDGER_SH);
  const tasksDir = join(dir, "ts");
  mkdirSync(join(tasksDir, "tasks"), { recursive: true });
  writeFileSync(join(tasksDir, "tasks", "ledger.ts"), LEDGER_TS);
  return { command: ["/bin/sh", script], tasksDir };
}

/** Running (not gone, not a zombie); /proc when there is one (cheap to poll every few ms), else ps. */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT" && existsSync("/proc/self/stat")) return false;
    return isAlive(pid);
  }
}

/**
 * Follows a ledger while a test runs and notes when the process of every started-but-unfinished
 * attempt is first seen gone (polled every `intervalMs`): the end of that attempt's interval,
 * late by at most one poll. An attempt whose process is the worker (bun-inprocess) ends with it.
 */
export class PidWatcher {
  private readonly deaths = new Map<number, number>();
  /** Pids of started attempts (and grandchildren) not yet ended nor seen gone, with how many
   * runs are open in each (several for bun-inprocess, whose tasks all run in the worker). */
  private readonly watched = new Map<number, number>();
  private offset = 0;
  private partial = "";
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(private readonly path: string, intervalMs = 10) {
    this.loop = (async () => {
      while (!this.stopped) {
        this.poll();
        await Bun.sleep(intervalMs);
      }
    })();
  }

  private readNew(): string {
    let fd: number;
    try {
      fd = openSync(this.path, "r");
    } catch {
      return "";
    }
    try {
      const size = fstatSync(fd).size;
      if (size <= this.offset) return "";
      const buffer = Buffer.alloc(size - this.offset);
      const read = readSync(fd, buffer, 0, buffer.length, this.offset);
      this.offset += read;
      return buffer.subarray(0, read).toString("utf8");
    } finally {
      closeSync(fd);
    }
  }

  private poll(): void {
    const lines = (this.partial + this.readNew()).split("\n");
    this.partial = lines.pop() ?? "";
    for (const text of lines) {
      if (text.trim() === "") continue;
      const line = parseLine(text);
      const open = this.watched.get(line.pid) ?? 0;
      if (line.word === "end" && open <= 1) this.watched.delete(line.pid);
      else if (line.word === "end") this.watched.set(line.pid, open - 1);
      else if (!this.deaths.has(line.pid)) this.watched.set(line.pid, open + 1);
    }
    for (const pid of this.watched.keys()) {
      if (running(pid)) continue;
      this.deaths.set(pid, Date.now());
      this.watched.delete(pid);
    }
  }

  /** Epoch ms when `pid` was first seen gone, or null (still running, ended normally, or never watched). */
  diedAt(pid: number): number | null {
    return this.deaths.get(pid) ?? null;
  }

  /** Stops following (after one last look). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.poll();
  }
}

export interface LedgerRow {
  result_id: string;
  status: string;
  attempts: number;
  /** return_json as parsed jsonb (null when SQL NULL). */
  returned: unknown;
  errors: { kind?: string; message?: string; at?: string; attempt?: number; worker_id?: string }[];
}

export async function ledgerRows(sql: Queryable): Promise<LedgerRow[]> {
  return sql<LedgerRow[]>`select result_id::text, status, attempts, return_json as returned, errors_json as errors from task_runs order by result_id`;
}

/** One run of one task as the ledger saw it. */
export interface AttemptRun {
  id: string;
  attempt: number;
  pid: number;
  ppid: number | null;
  startAt: number;
  /** Epoch ms of its end line, else when its process was seen gone; null when neither (still running or unknown). */
  endAt: number | null;
  finished: boolean;
  /** CLOCK_MONOTONIC ms of the start and end lines, when the writer has that clock (python). */
  startMono: number | null;
  endMono: number | null;
}

export interface LedgerReport {
  /** Rows not SUCCESSFUL, or SUCCESSFUL with no finished run in the ledger. */
  lost: string[];
  /** Two runs of one row whose start..end intervals overlap (or one of them never seen to end). */
  concurrent: string[];
  /** Rows whose task body finished more than once (legitimate only after its worker was killed). */
  doubles: string[];
  leftRunning: string[];
  /** The row disagrees with the ledger: see checkLedger. */
  storedWrongly: string[];
  /** Ledger lines for rows that do not exist. */
  phantom: string[];
  runs: AttemptRun[];
}

/**
 * The runs in the ledger: start and end on the wall clock (every writer has it, to the microsecond;
 * a process seen gone is timed by the test on the same clock), plus the monotonic clock's reading
 * where the writer has it, which overlap checks prefer between two finished runs.
 */
function attemptRuns(lines: LedgerLine[], diedAt: (pid: number) => number | null): AttemptRun[] {
  const byKey = new Map<string, AttemptRun>();
  for (const line of lines) {
    const key = `${line.id}/${line.attempt}/${line.pid}`;
    if (line.word === "start") {
      byKey.set(key, { id: line.id, attempt: line.attempt, pid: line.pid, ppid: line.ppid, startAt: line.at, endAt: null, finished: false, startMono: line.mono, endMono: null });
    } else if (line.word === "end") {
      const run = byKey.get(key);
      if (run) Object.assign(run, { endAt: line.at, finished: true, endMono: line.mono });
    }
  }
  const runs = [...byKey.values()];
  for (const run of runs) if (!run.finished) run.endAt = diedAt(run.pid);
  return runs;
}

/** `b` (started no earlier than `a`) began before `a` had ended, or `a` was never seen to end. */
function overlap(a: AttemptRun, b: AttemptRun): boolean {
  if (a.endMono !== null && b.startMono !== null) return b.startMono < a.endMono;
  return b.startAt < (a.endAt ?? Infinity);
}

/**
 * Matches the ledger against the rows (every row is expected to end SUCCESSFUL) and returns the
 * faults by result_id. Stored wrongly: SUCCESSFUL without a finished run; a return value that is
 * not {result_id, attempt} of this row's last attempt; the ledger showing an attempt number the
 * row never counted; an error entry other than worker_lost, or a worker_lost count that is not
 * attempts − 1 (every lost attempt recorded, nothing else).
 */
export function checkLedger(lines: LedgerLine[], rows: LedgerRow[], diedAt: (pid: number) => number | null = () => null): LedgerReport {
  const runs = attemptRuns(lines, diedAt);
  const byId = new Map<string, AttemptRun[]>();
  for (const run of runs) byId.set(run.id, [...(byId.get(run.id) ?? []), run]);
  const report: LedgerReport = { lost: [], concurrent: [], doubles: [], leftRunning: [], storedWrongly: [], phantom: [], runs };
  const rowIds = new Set(rows.map((row) => row.result_id));
  report.phantom = [...new Set(lines.map((line) => line.id).filter((id) => !rowIds.has(id)))];
  for (const row of rows) {
    const mine = (byId.get(row.result_id) ?? []).sort((a, b) => a.startAt - b.startAt);
    const finished = mine.filter((run) => run.finished);
    if (row.status !== "SUCCESSFUL" || finished.length === 0) report.lost.push(row.result_id);
    if (row.status === "RUNNING") report.leftRunning.push(row.result_id);
    if (finished.length > 1) report.doubles.push(row.result_id);
    if (mine.some((a, i) => mine.slice(i + 1).some((b) => overlap(a, b)))) report.concurrent.push(row.result_id);
    const wrong: boolean[] = [];
    if (row.status === "SUCCESSFUL") {
      const value = row.returned as { result_id?: unknown; attempt?: unknown } | null;
      wrong.push(finished.length === 0);
      wrong.push(value === null || typeof value !== "object" || String(value.result_id) !== row.result_id || Number(value.attempt) !== row.attempts);
      wrong.push(!finished.some((run) => run.attempt === row.attempts));
    }
    wrong.push(mine.some((run) => run.attempt > row.attempts));
    const kinds = row.errors.map((entry) => entry.kind);
    wrong.push(kinds.some((kind) => kind !== "worker_lost"));
    if (row.status === "SUCCESSFUL") wrong.push(kinds.length !== row.attempts - 1);
    if (wrong.some(Boolean)) report.storedWrongly.push(row.result_id);
  }
  return report;
}

/** The four numbers the chaos suite asserts (plus the extras), for a test's log line. */
export function summarize(report: LedgerReport): string {
  const unfinished = report.runs.filter((run) => !run.finished).length;
  return `lost ${report.lost.length}, run twice concurrently ${report.concurrent.length}, left RUNNING ${report.leftRunning.length}, stored wrongly ${report.storedWrongly.length}, phantom ${report.phantom.length}; ${report.runs.length} runs (${unfinished} killed), ${report.doubles.length} finished twice`;
}

/** What a failed assertion prints: the faulty rows' ledger runs and database rows. */
export function explain(report: LedgerReport, rows: LedgerRow[], limit = 5): string {
  const bad = [...new Set([...report.lost, ...report.concurrent, ...report.leftRunning, ...report.storedWrongly])].slice(0, limit);
  return bad.map((id) => JSON.stringify({ row: rows.find((row) => row.result_id === id), runs: report.runs.filter((run) => run.id === id) })).join("\n");
}

/** What a fault test leaves behind, for its afterAll. */
export interface FaultScene {
  workers: WorkerProcess[];
  ledgers: string[];
  databases: (TestDatabase | undefined)[];
  /** Removed last (ledgers, task files, journals). */
  scratch: string;
}

/**
 * Ends what a (failed) fault test may leave behind: its workers, the task processes its ledgers
 * name that never ended (by pid), its databases and its scratch directory.
 */
export async function cleanUpScene(scene: FaultScene): Promise<void> {
  for (const worker of scene.workers) if (worker.proc.exitCode === null) worker.proc.kill("SIGKILL");
  for (const line of scene.ledgers.flatMap(readLedger)) if (line.word !== "end" && running(line.pid)) process.kill(line.pid, "SIGKILL");
  await Promise.all(scene.databases.map((db) => db?.drop()));
  rmSync(scene.scratch, { recursive: true, force: true });
}

/**
 * Fails unless every fault list is empty (`doubles` too when asked: where no worker is killed, no
 * task body may finish twice); the message shows the faulty rows and their runs.
 */
export function expectNoFaults(report: LedgerReport, rows: LedgerRow[], options: { doubles?: boolean } = {}): void {
  const { lost, concurrent, leftRunning, storedWrongly, phantom, doubles } = report;
  const faults: Record<string, string[]> = { lost, concurrent, leftRunning, storedWrongly, phantom };
  if (options.doubles) faults.doubles = doubles;
  const none = Object.fromEntries(Object.keys(faults).map((key) => [key, []]));
  expect(faults, explain(report, rows)).toEqual(none);
}
