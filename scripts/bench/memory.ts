// bun run bench:memory [--kinds bun-inprocess,command] [--stages 10000,100000,200000] [--idle 30]
//   [--concurrency 16] [--payload-mb 50] [--log-level info] [--binary dist/reproq]
// Worker memory over a long run: the compiled worker (metrics server on, as in production) drains
// no-op tasks in stages (each stage is enqueued in one statement and drained before the next), and
// its RSS (/proc/<pid>/status VmRSS) is sampled idle before the first task, after each stage
// (2 s and 8 s after the last row finished), and after `--idle` seconds of idleness at the end. The heap
// figures come from the worker's own `reproq memory usage` log line (--memory-log-interval 1s).
// With --payload-mb N one more stage runs a single task whose argument is an N MB string and
// samples RSS after it and after the idle wait (bun-inprocess only). Kinds: bun-inprocess, bun,
// command (a shell script), python and python-pool (the tests' fake Django project); the RSS of
// the worker's child processes (the python-pool process) is shown as `children`. Each kind gets a fresh
// database. Needs DATABASE_URL (a role that may create databases) and dist/reproq. Numbers are
// only comparable within one run on a quiet machine.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Sql } from "../../src/db/client.ts";
import { enqueueNoops, withBenchDatabase } from "./common.ts";

const { values: opts } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    kinds: { type: "string", default: "bun-inprocess" },
    stages: { type: "string", default: "10000,100000,200000" },
    idle: { type: "string", default: "30" },
    concurrency: { type: "string", default: "16" },
    "payload-mb": { type: "string", default: "0" },
    "log-level": { type: "string", default: "info" },
    binary: { type: "string", default: join(import.meta.dir, "..", "..", "dist", "reproq") },
  },
});
const binary = opts.binary;
const stages = opts.stages.split(",").map(Number);
const idleSeconds = Number(opts.idle);
const payloadMb = Number(opts["payload-mb"]);
const MB = 1024 * 1024;

const tasksDir = mkdtempSync(join(tmpdir(), "reproq-bench-memory-"));
writeFileSync(join(tasksDir, "bench.ts"), "export function noop() {\n  return null;\n}\nexport function size(args: unknown[]) {\n  return String(args[0]).length;\n}\n");
const commandScript = join(tasksDir, "noop.sh");
writeFileSync(commandScript, "#!/bin/sh\ncat >/dev/null\necho '{\"ok\":true,\"return\":null}'\n", { mode: 0o755 });

/** Resident set size of `pid` in MB (VmRSS), or its peak so far (VmHWM). */
function rssMb(pid: number, field: "VmRSS" | "VmHWM" = "VmRSS"): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** Every process below `pid` (the python-pool process and its forks, executor children). */
function descendants(pid: number): number[] {
  let children: number[];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return children.flatMap((child) => [child, ...descendants(child)]);
}

interface KindSetup {
  args: string[];
  env: Record<string, string>;
  taskPath: string;
  kwargs: Record<string, string>;
}

/** Flags, environment and the no-op task for one executor kind. */
function kindSetup(kind: string): KindSetup {
  if (kind === "command") return { args: ["--executor-command", commandScript, "--allowed-task-modules", "bench."], env: {}, taskPath: "bench.noop", kwargs: {} };
  if (kind === "python" || kind === "python-pool") {
    // The fake Django-like project of the tests: the real executor protocol, no Django needed.
    return {
      args: ["--python-bin", "python3", "--executor-module", "fakedjango.executor", "--allowed-task-modules", "tasks."],
      env: { PYTHONPATH: join(import.meta.dir, "..", "..", "tests", "helpers", "executors") },
      taskPath: "tasks.bench",
      kwargs: { mode: "succeed" },
    };
  }
  return { args: ["--tasks-dir", tasksDir, "--allowed-task-modules", "bench."], env: {}, taskPath: "bench.noop", kwargs: {} };
}

const fmt = (mb: number): string => `${mb.toFixed(1)} MB`;

/** Waits until `total` rows have finished; the first failure is reported, not fatal. */
async function waitDone(sql: Sql, total: number): Promise<void> {
  for (;;) {
    const [row] = await sql<{ done: number; failed: number }[]>`
      select count(*) filter (where status = 'SUCCESSFUL')::int as done, count(*) filter (where status = 'FAILED')::int as failed from task_runs`;
    const failed = row?.failed ?? 0;
    if (failed > 0 && reportedFailures === 0) {
      const [first] = await sql<{ last_error: string }[]>`select last_error from task_runs where status = 'FAILED' order by result_id desc limit 1`;
      console.log(`  (a task failed: ${first?.last_error})`);
      reportedFailures = failed;
    }
    if ((row?.done ?? 0) + failed >= total) return;
    await Bun.sleep(200);
  }
}
let reportedFailures = 0;

async function benchKind(kind: string): Promise<void> {
  reportedFailures = 0;
  await withBenchDatabase(`reproq_bench_mem_${process.pid}_${kind.replace("-", "_")}`, async (sql, dsn) => {
    let heap = { alloc: Number.NaN, low: Number.POSITIVE_INFINITY };
    const setup = kindSetup(kind);
    const worker = Bun.spawn([binary, "worker", "--dsn", dsn, "--executor", kind, ...setup.args,
      "--concurrency", opts.concurrency, "--log-level", opts["log-level"], "--log-format", "json",
      "--metrics-addr", `127.0.0.1:${20_000 + (process.pid % 20_000)}`, "--memory-log-interval", "1s",
      ...(payloadMb > 0 ? ["--max-payload-bytes", String((payloadMb + 1) * MB)] : [])], { stdout: "pipe", stderr: "inherit", env: { ...process.env, ...setup.env } });
    void (async () => {
      // Every log line is read (as an operator's log shipper would); only the memory lines are kept.
      let rest = "";
      const decoder = new TextDecoder();
      for await (const chunk of worker.stdout) {
        const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) {
          if (!line.includes("reproq memory usage")) continue;
          const alloc = (JSON.parse(line) as { heap_alloc_bytes: number }).heap_alloc_bytes / MB;
          heap = { alloc, low: Math.min(heap.low, alloc) };
        }
      }
    })();
    try {
      await measure(kind, setup, sql, worker.pid, () => {
        const seen = heap;
        heap = { alloc: heap.alloc, low: Number.POSITIVE_INFINITY };
        return seen;
      });
    } finally {
      worker.kill("SIGTERM");
      await worker.exited;
    }
  });
}

/** The stages, the idle wait and the payload task; `heap` returns the worker's heap figures since the last call. */
async function measure(kind: string, setup: KindSetup, sql: Sql, pid: number, heap: () => { alloc: number; low: number }): Promise<void> {
  await Bun.sleep(3_000);
  const sample = (label: string): void => {
    const { alloc, low } = heap();
    const children = descendants(pid);
    const childRss = children.length > 0 ? `  children (${children.length}) ${fmt(children.reduce((sum, child) => sum + rssMb(child), 0))}` : "";
    console.log(`${kind}: ${label.padEnd(34)} RSS ${fmt(rssMb(pid)).padStart(9)}  heap ${fmt(alloc).padStart(9)} (low ${fmt(low)})${childRss}`);
  };
  sample("idle, before any task");
  let done = 0;
  for (const target of stages) {
    const started = performance.now();
    await enqueueNoops(sql, target - done, setup.taskPath, setup.kwargs);
    await waitDone(sql, target);
    const seconds = (performance.now() - started) / 1000;
    done = target;
    await Bun.sleep(2_000);
    sample(`after ${target} drained (${seconds.toFixed(0)} s)`);
    await Bun.sleep(6_000);
    sample("  8 s later");
  }
  await Bun.sleep(idleSeconds * 1000);
  sample(`after ${idleSeconds} s idle`);
  if (payloadMb > 0 && kind === "bun-inprocess") {
    const big = "x".repeat(payloadMb * MB);
    await sql`
      insert into task_runs (backend_alias, queue_name, priority, spec_json, spec_hash, task_path, status, enqueued_at,
        attempts, max_attempts, timeout_seconds, concurrency_limit, wait_count, worker_ids, errors_json, metadata_json,
        created_at, updated_at, cancel_requested)
      values ('default', 'default', 0, jsonb_build_object('task_path', 'bench.size', 'args', jsonb_build_array(${big}::text), 'kwargs', '{}'::jsonb),
        md5(random()::text), 'bench.size', 'READY', clock_timestamp(), 0, 1, 900, 0, 0, '[]'::jsonb, '[]'::jsonb, '{}'::jsonb, now(), now(), false)`;
    await waitDone(sql, done + 1);
    await Bun.sleep(2_000);
    sample(`after one ${payloadMb} MB payload (peak ${fmt(rssMb(pid, "VmHWM"))})`);
    await Bun.sleep(idleSeconds * 1000);
    sample(`  then ${idleSeconds} s idle`);
  }
}

try {
  for (const kind of opts.kinds.split(",")) await benchKind(kind);
} finally {
  rmSync(tasksDir, { recursive: true, force: true });
}
