// bun run bench:memory [--kinds bun-inprocess,command] [--stages 10000,100000,200000] [--idle 30]
//   [--concurrency 16] [--payload-mb 50] [--log-level info] [--binary dist/reproq]
// Worker memory over a long run: the compiled worker (metrics server on, as in production) drains
// no-op tasks in stages (each stage is enqueued in one statement and drained before the next), and
// its RSS (/proc/<pid>/status VmRSS) is sampled idle before the first task, after each stage
// (2 s after the last row finished), and after `--idle` seconds of idleness at the end. The heap
// figures come from the worker's own `reproq memory usage` log line (--memory-log-interval 1s).
// With --payload-mb N one more stage runs a single task whose argument is an N MB string and
// samples RSS after it and after the idle wait (bun-inprocess only). Each kind gets a fresh
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

/** Resident set size of `pid` in MB (VmRSS). */
function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

const fmt = (mb: number): string => `${mb.toFixed(1)} MB`;

async function waitDone(sql: Sql, total: number): Promise<void> {
  for (;;) {
    const [row] = await sql<{ done: number; failed: number }[]>`
      select count(*) filter (where status = 'SUCCESSFUL')::int as done, count(*) filter (where status = 'FAILED')::int as failed from task_runs`;
    if ((row?.failed ?? 0) > 0) throw new Error(`${row?.failed} tasks failed`);
    if ((row?.done ?? 0) >= total) return;
    await Bun.sleep(200);
  }
}

async function benchKind(kind: string): Promise<void> {
  await withBenchDatabase(`reproq_bench_mem_${process.pid}_${kind.replace("-", "_")}`, async (sql, dsn) => {
    let heap = { alloc: Number.NaN, low: Number.POSITIVE_INFINITY };
    const executorArgs = kind === "command" ? ["--executor-command", commandScript] : ["--tasks-dir", tasksDir, "--allowed-task-modules", "bench."];
    const worker = Bun.spawn([binary, "worker", "--dsn", dsn, "--executor", kind, ...executorArgs,
      "--concurrency", opts.concurrency, "--log-level", opts["log-level"], "--log-format", "json",
      "--metrics-addr", `127.0.0.1:${20_000 + (process.pid % 20_000)}`, "--memory-log-interval", "1s",
      ...(payloadMb > 0 ? ["--max-payload-bytes", String((payloadMb + 1) * MB)] : [])], { stdout: "pipe", stderr: "inherit" });
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
      await measure(kind, sql, worker.pid, () => {
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
async function measure(kind: string, sql: Sql, pid: number, heap: () => { alloc: number; low: number }): Promise<void> {
  await Bun.sleep(3_000);
  const sample = (label: string): void => {
    const { alloc, low } = heap();
    console.log(`${kind}: ${label.padEnd(34)} RSS ${fmt(rssMb(pid)).padStart(9)}  heap ${fmt(alloc).padStart(9)} (low ${fmt(low)})`);
  };
  sample("idle, before any task");
  let done = 0;
  for (const target of stages) {
    const started = performance.now();
    await enqueueNoops(sql, target - done, "bench.noop");
    await waitDone(sql, target);
    const seconds = (performance.now() - started) / 1000;
    done = target;
    await Bun.sleep(2_000);
    sample(`after ${target} drained (${seconds.toFixed(0)} s)`);
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
    sample(`after one ${payloadMb} MB payload`);
    await Bun.sleep(idleSeconds * 1000);
    sample(`  then ${idleSeconds} s idle`);
  }
}

try {
  for (const kind of opts.kinds.split(",")) await benchKind(kind);
} finally {
  rmSync(tasksDir, { recursive: true, force: true });
}
