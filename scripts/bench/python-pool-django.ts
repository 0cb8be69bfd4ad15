// bun run bench:pool django [--tasks N] [--conc 1,2] [--reps 3] [--binary LABEL=PATH ...]
// The compiled worker with `--executor python-pool` on the REAL Django project in
// tests/helpers/executors/djangoproj (Debian's /usr/bin/python3 with python3-django and
// python3-psycopg2), against a fresh database per run: N no-op tasks (`demoapp.tasks.noop`) enqueued
// at once on a warm worker. The project's setup never touches the database (DEMOAPP_SETUP_QUERY=0),
// as in a project whose models all name their tables, so whatever imports the database backend
// shows. Prints, per run: tasks/s (first start → last finish, from task_runs) and CPU ms per task
// of the worker (Bun), the pool process and the forked task children, read from /proc before and
// after the batch; then the medians per binary and concurrency. A --binary PATH may be a command
// ("bun --cpu-prof-md src/main.ts" profiles the worker). Runs of several binaries (e.g. a
// build of main as "before") are interleaved, since other load on the machine drifts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { enqueueNoops, median, waitDone, withDjangoBenchDb } from "./common.ts";

const root = join(import.meta.dir, "..", "..");
const projectDir = join(root, "tests", "helpers", "executors", "djangoproj");
const PYTHON = "/usr/bin/python3";
const WARMUP_TASKS = 10;
const CLOCK_TICK_MS = 10; // /proc/<pid>/stat counts in USER_HZ (100 on Linux)

const { values } = parseArgs({
  args: Bun.argv.slice(3),
  options: {
    tasks: { type: "string", default: "200" },
    conc: { type: "string", default: "1,2" },
    reps: { type: "string", default: "3" },
    binary: { type: "string", multiple: true },
  },
});
const total = Number(values.tasks);
const concurrencies = (values.conc ?? "1,2").split(",").map(Number);
const reps = Number(values.reps);
const binaries = (values.binary ?? [`this=${join(root, "dist", "reproq")}`]).map((spec) => {
  const at = spec.indexOf("=");
  return at === -1 ? { label: spec, path: spec } : { label: spec.slice(0, at), path: spec.slice(at + 1) };
});
const baseDsn = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** CPU ms of one process: its own, and that of its reaped children. */
interface Cpu {
  self: number;
  children: number;
}

function cpuOf(pid: number): Cpu {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  // fields[0] is field 3 (state): utime 14, stime 15, cutime 16, cstime 17.
  const at = (field: number) => fields[field - 3] ?? 0;
  return { self: (at(14) + at(15)) * CLOCK_TICK_MS, children: (at(16) + at(17)) * CLOCK_TICK_MS };
}

function poolPidOf(workerPid: number): number | null {
  let children: string;
  try {
    children = readFileSync(`/proc/${workerPid}/task/${workerPid}/children`, "utf8");
  } catch {
    return null;
  }
  for (const pid of children.trim().split(/\s+/).filter(Boolean).map(Number)) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("reproq-python-pool")) return pid;
    } catch {
      // gone
    }
  }
  return null;
}

interface Run {
  label: string;
  conc: number;
  tasksPerSecond: number;
  worker: number;
  pool: number;
  children: number;
  /** wait4 rusage of the worker's whole tree over its life (start-up and warm-up included). */
  treeTotal: number;
}

async function runOnce(label: string, binary: string, conc: number): Promise<Run> {
  return withDjangoBenchDb(baseDsn, `reproq_bench_pool_${process.pid}`, async (sql, dsn) => {
    const worker = Bun.spawn(
      [...binary.split(" "), "worker", "--dsn", dsn, "--executor", "python-pool", "--python-bin", PYTHON,
        "--executor-module", "djangoproj.reproq_executor", "--pool-preload-modules", "demoapp.tasks",
        "--allowed-task-modules", "demoapp.", "--concurrency", String(conc), "--log-format", "json", "--log-level", "warn"],
      {
        env: { ...process.env, PYTHONPATH: projectDir, DJANGO_SETTINGS_MODULE: "djangoproj.settings", DATABASE_URL: dsn, DEMOAPP_SETUP_QUERY: "0" },
        stdout: "ignore",
        stderr: "inherit",
      },
    );
    try {
      await enqueueNoops(sql, WARMUP_TASKS, "demoapp.tasks.noop");
      await waitDone(sql, WARMUP_TASKS, "the warm-up tasks");
      const poolPid = poolPidOf(worker.pid);
      if (poolPid === null) throw new Error("no python pool process under the worker");
      await Bun.sleep(200); // the last warm-up completion settles
      const [worker0, pool0] = [cpuOf(worker.pid), cpuOf(poolPid)];
      await enqueueNoops(sql, total, "demoapp.tasks.noop");
      await waitDone(sql, WARMUP_TASKS + total, "the batch");
      const [worker1, pool1] = [cpuOf(worker.pid), cpuOf(poolPid)];
      const [span] = await sql<{ s: number }[]>`
        select extract(epoch from max(finished_at) - min(started_at))::float8 as s
        from task_runs where result_id > (select min(result_id) + ${WARMUP_TASKS - 1} from task_runs)`;
      worker.kill("SIGTERM");
      await worker.exited;
      const usage = worker.resourceUsage();
      const perTask = (ms: number) => ms / total;
      return {
        label,
        conc,
        tasksPerSecond: total / (span?.s ?? Number.NaN),
        worker: perTask(worker1.self - worker0.self),
        pool: perTask(pool1.self - pool0.self),
        children: perTask(pool1.children - pool0.children),
        treeTotal: usage ? Number(usage.cpuTime.total) / 1000 / (total + WARMUP_TASKS) : Number.NaN,
      };
    } finally {
      worker.kill("SIGKILL");
    }
  });
}

const f1 = (n: number) => n.toFixed(1).padStart(7);
const header = "binary       conc tasks/s  worker    pool   tasks     sum    tree";
const row = (r: Omit<Run, "label" | "conc">, label: string, conc: number) =>
  `${label.padEnd(12)} ${String(conc).padStart(4)}${f1(r.tasksPerSecond)} ${f1(r.worker)} ${f1(r.pool)} ${f1(r.children)} ${f1(r.worker + r.pool + r.children)} ${f1(r.treeTotal)}`;

console.log(`python-pool on real Django (${PYTHON}, djangoproj): ${total} no-op tasks per run, ${reps} rep(s), interleaved`);
console.log("CPU ms per task of the batch: worker (Bun), pool process, task children, their sum; tree: the");
console.log("worker's whole process tree over its life (wait4 rusage, start-up and warm-up included) per task");
console.log(header);
const runs: Run[] = [];
for (let rep = 0; rep < reps; rep++) {
  for (const conc of concurrencies) {
    const order = rep % 2 === 0 ? binaries : [...binaries].reverse();
    for (const { label, path } of order) {
      const run = await runOnce(label, path, conc);
      runs.push(run);
      console.log(row(run, label, conc));
    }
  }
}
console.log("\nmedians");
console.log(header);
for (const conc of concurrencies) {
  for (const { label } of binaries) {
    const mine = runs.filter((run) => run.label === label && run.conc === conc);
    const pick = (key: keyof Omit<Run, "label" | "conc">) => median(mine.map((run) => run[key]));
    const medians = { tasksPerSecond: pick("tasksPerSecond"), worker: pick("worker"), pool: pick("pool"), children: pick("children"), treeTotal: pick("treeTotal") };
    console.log(row(medians, label, conc));
  }
}
