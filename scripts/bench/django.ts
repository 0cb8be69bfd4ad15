// bun run bench:django [--tasks N] [--python-tasks N] [--conc 1,2,4] [--reps 1] [--latency N]
//                      [--modes python,fork,persistent,persistent-conn] [--binary PATH]
// reproq's Python executors on a real Django project: the compiled worker runs no-op tasks
// (`demoapp.tasks.noop`) of tests/helpers/executors/djangoproj (Debian's /usr/bin/python3 with
// python3-django and psycopg2; no Celery, no Redis) against a fresh database per run. Modes:
//   python           --executor python (a new interpreter per task)
//   fork             --executor python-pool --pool-mode fork (a child forked per task)
//   persistent       --executor python-pool --pool-mode persistent (long-lived children),
//                    Django's default CONN_MAX_AGE 0 (a new database connection per task)
//   persistent-conn  the same with CONN_MAX_AGE 600 (connections kept between tasks)
// Per mode and concurrency it prints: tasks/s of a burn-down of N tasks enqueued at once on a warm
// worker (first start → last finish, from task_runs); CPU ms per task of the worker's whole process
// tree (Bun worker, pool, children, reaped or not: utime+stime+cutime+cstime of every descendant,
// read from /proc before and after the batch), and its split between the worker, the pool process
// and the task processes; the enqueue → task body start latency p50/p99 on an
// idle worker (one task at a time, `demoapp.tasks.stamp` returns time.time() when its body runs);
// and the resident size of the pool process and of each persistent child (RSS; PSS, which
// divides shared pages among their users, in brackets).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Sql } from "../../src/db/client.ts";
import { enqueueNoops, median, percentile, waitDone, withDjangoBenchDb } from "./common.ts";

const root = join(import.meta.dir, "..", "..");
const projectDir = join(root, "tests", "helpers", "executors", "djangoproj");
const PYTHON = "/usr/bin/python3";
const CLOCK_TICK_MS = 10; // /proc/<pid>/stat counts in USER_HZ (100 on Linux)

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    tasks: { type: "string", default: "500" },
    "python-tasks": { type: "string", default: "30" },
    conc: { type: "string", default: "1,2,4" },
    reps: { type: "string", default: "1" },
    latency: { type: "string", default: "40" },
    modes: { type: "string", default: "python,fork,persistent,persistent-conn" },
    binary: { type: "string", default: join(root, "dist", "reproq") },
  },
});
const concurrencies = String(values.conc).split(",").map(Number);
const reps = Number(values.reps);
const latencySamples = Number(values.latency);
const modes = String(values.modes).split(",");
const baseDsn = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

const MODE_ARGS: Record<string, { args: string[]; env: Record<string, string> }> = {
  python: { args: ["--executor", "python"], env: {} },
  fork: { args: ["--executor", "python-pool", "--pool-mode", "fork"], env: {} },
  persistent: { args: ["--executor", "python-pool", "--pool-mode", "persistent"], env: {} },
  "persistent-conn": { args: ["--executor", "python-pool", "--pool-mode", "persistent"], env: { DEMOAPP_CONN_MAX_AGE: "600" } },
};

function readStat(pid: number): number[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  } catch {
    return null;
  }
}

/** Direct children of a process (of all its threads). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  let threads: string[] = [];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return found;
  }
  for (const tid of threads) {
    try {
      found.push(...readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {
      // thread gone
    }
  }
  return found;
}

function descendants(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...childrenOf(all[i] ?? 0));
  return all;
}

/** CPU ms of a process tree (each process's own time and that of the children it reaped), split
 * into the worker's own, the pool process's own, and everything else (task processes). */
function treeCpuMs(pid: number): { total: number; worker: number; pool: number } {
  const split = { total: 0, worker: 0, pool: 0 };
  for (const member of descendants(pid)) {
    const fields = readStat(member);
    if (!fields) continue;
    // fields[0] is field 3 (state): utime 14, stime 15, cutime 16, cstime 17.
    const own = ((fields[11] ?? 0) + (fields[12] ?? 0)) * CLOCK_TICK_MS;
    split.total += own + ((fields[13] ?? 0) + (fields[14] ?? 0)) * CLOCK_TICK_MS;
    if (member === pid) split.worker += own;
    else if (isPool(member)) split.pool += own;
  }
  return split;
}

function memoryKb(pid: number): { rss: number; pss: number } {
  const grab = (file: string, key: string) => {
    try {
      return Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(file, "utf8"))?.[1] ?? Number.NaN);
    } catch {
      return Number.NaN;
    }
  };
  return { rss: grab(`/proc/${pid}/status`, "VmRSS"), pss: grab(`/proc/${pid}/smaps_rollup`, "Pss") };
}

function isPool(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("reproq-python-pool");
  } catch {
    return false;
  }
}

interface Run {
  mode: string;
  conc: number;
  tasksPerSecond: number;
  cpuPerTask: number;
  /** The CPU split: worker / pool / task processes, ms per task. */
  split: string;
  p50: number;
  p99: number;
  poolRss: string;
  childRss: string;
}

async function latencies(sql: Sql, samples: number, done: number): Promise<number[]> {
  const found: number[] = [];
  for (let i = 0; i < samples; i++) {
    await Bun.sleep(30); // idle in between: the worker is waiting for work
    await enqueueNoops(sql, 1, "demoapp.tasks.stamp");
    await waitDone(sql, done + i + 1, "a latency sample");
    const [row] = await sql<{ ms: number }[]>`
      select ((return_json #>> '{}')::float8 - extract(epoch from enqueued_at)) * 1000 as ms
      from task_runs where task_path = 'demoapp.tasks.stamp' order by result_id desc limit 1`;
    found.push(Number(row?.ms));
  }
  return found.sort((a, b) => a - b);
}

async function runOnce(mode: string, conc: number, withLatency: boolean): Promise<Run> {
  const spec = MODE_ARGS[mode];
  if (!spec) throw new Error(`unknown mode ${mode}`);
  const total = Number(mode === "python" ? values["python-tasks"] : values.tasks);
  const warmup = mode === "python" ? conc : Math.max(20, conc * 10);
  return withDjangoBenchDb(baseDsn, `reproq_bench_django_${process.pid}`, async (sql, dsn) => {
    const worker = Bun.spawn(
      [String(values.binary), "worker", "--dsn", dsn, ...spec.args, "--python-bin", PYTHON,
        "--executor-module", "djangoproj.reproq_executor", "--pool-preload-modules", "demoapp.tasks",
        "--allowed-task-modules", "demoapp.", "--concurrency", String(conc), "--log-format", "json", "--log-level", "warn"],
      {
        env: { ...process.env, PYTHONPATH: projectDir, DJANGO_SETTINGS_MODULE: "djangoproj.settings", DATABASE_URL: dsn, DEMOAPP_SETUP_QUERY: "0", ...spec.env },
        stdout: "ignore",
        stderr: "inherit",
      },
    );
    try {
      await enqueueNoops(sql, warmup, "demoapp.tasks.noop");
      await waitDone(sql, warmup, "the warm-up tasks");
      await Bun.sleep(300); // the last warm-up completion settles
      const cpu0 = treeCpuMs(worker.pid);
      const [first] = await sql<{ id: string }[]>`select coalesce(max(result_id), 0)::text as id from task_runs`;
      await enqueueNoops(sql, total, "demoapp.tasks.noop");
      await waitDone(sql, warmup + total, "the batch");
      const cpu1 = treeCpuMs(worker.pid);
      const [span] = await sql<{ s: number }[]>`
        select extract(epoch from max(finished_at) - min(started_at))::float8 as s from task_runs where result_id > ${first?.id ?? "0"}::bigint`;
      const pool = descendants(worker.pid).find(isPool);
      const kids = pool === undefined ? [] : childrenOf(pool).filter((pid) => !isPool(pid));
      const mem = (pid: number) => {
        const { rss, pss } = memoryKb(pid);
        return `${(rss / 1024).toFixed(0)} [${(pss / 1024).toFixed(0)}]`;
      };
      const poolRss = pool === undefined ? "-" : mem(pool);
      const childRss = mode.startsWith("persistent") && kids.length > 0 ? kids.map(mem).join(", ") : "-";
      const latency = withLatency ? await latencies(sql, latencySamples, warmup + total) : [];
      worker.kill("SIGTERM");
      await worker.exited;
      return {
        mode, conc, tasksPerSecond: total / (span?.s ?? Number.NaN), cpuPerTask: (cpu1.total - cpu0.total) / total,
        split: [cpu1.worker - cpu0.worker, cpu1.pool - cpu0.pool, cpu1.total - cpu1.worker - cpu1.pool - (cpu0.total - cpu0.worker - cpu0.pool)]
          .map((ms) => (ms / total).toFixed(1)).join(" / "),
        p50: percentile(latency, 50), p99: percentile(latency, 99), poolRss, childRss,
      };
    } finally {
      worker.kill("SIGKILL");
    }
  });
}

const f1 = (n: number) => (Number.isNaN(n) ? "-" : n.toFixed(1)).padStart(8);
const header = "mode              conc  tasks/s  CPU ms/task  (worker / pool / tasks)  start p50  start p99  pool MiB RSS [PSS]  children MiB RSS [PSS]";
const line = (r: Run) =>
  `${r.mode.padEnd(16)} ${String(r.conc).padStart(5)} ${f1(r.tasksPerSecond)} ${f1(r.cpuPerTask).padStart(12)}  ${`(${r.split})`.padEnd(23)} ${f1(r.p50).padStart(10)} ${f1(r.p99).padStart(10)}  ${r.poolRss.padEnd(19)} ${r.childRss}`;

console.log(`reproq Python executors on real Django (${PYTHON}, djangoproj, Django ${Bun.spawnSync([PYTHON, "-c", "import django; print(django.get_version())"]).stdout.toString().trim()})`);
console.log(`no-op burn-down: ${values.tasks} tasks per run (python: ${values["python-tasks"]}), ${reps} rep(s), modes interleaved;`);
console.log(`CPU: the worker's whole process tree per task; start: enqueue → task body start on an idle worker, ms (${latencySamples} samples, at the first concurrency)`);
console.log(header);
const runs: Run[] = [];
for (let rep = 0; rep < reps; rep++) {
  for (const conc of concurrencies) {
    const order = rep % 2 === 0 ? modes : [...modes].reverse();
    for (const mode of order) {
      const run = await runOnce(mode, conc, conc === concurrencies[0]);
      runs.push(run);
      console.log(line(run));
    }
  }
}
if (reps > 1) {
  console.log("\nmedians");
  console.log(header);
  for (const conc of concurrencies) {
    for (const mode of modes) {
      const mine = runs.filter((run) => run.mode === mode && run.conc === conc);
      const pick = (key: "tasksPerSecond" | "cpuPerTask" | "p50" | "p99") => median(mine.map((run) => run[key]));
      console.log(line({ mode, conc, tasksPerSecond: pick("tasksPerSecond"), cpuPerTask: pick("cpuPerTask"), split: mine[0]?.split ?? "-", p50: pick("p50"), p99: pick("p99"), poolRss: mine[0]?.poolRss ?? "-", childRss: mine[0]?.childRss ?? "-" }));
    }
  }
}
