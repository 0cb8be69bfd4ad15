// Helpers for worker tests: bulk enqueue of task rows (every NOT NULL column filled, so both
// schema flavours work), running the compiled `reproq worker` as a subprocess, and waiting for
// database conditions.
import type { Subprocess } from "bun";
import type { Queryable } from "../../src/db/client.ts";
import { BINARY, cleanEnv, ensureBinary } from "./binary.ts";
import { randomHash } from "./catalog.ts";
import { EXECUTORS_DIR, PYTHON } from "./executors/index.ts";

export interface EnqueueRow {
  taskPath?: string;
  kwargs?: Record<string, unknown>;
  queue?: string;
  priority?: number;
  /** run_after = NOW() + seconds; null/undefined = NULL (due now). */
  runAfterSeconds?: number | null;
  lockKey?: string | null;
  concurrencyKey?: string | null;
  concurrencyLimit?: number;
  maxAttempts?: number;
  timeoutSeconds?: number;
}

/** Inserts READY rows in one statement; returns their result_ids in order. */
export async function enqueue(sql: Queryable, rows: EnqueueRow[]): Promise<string[]> {
  const specs = rows.map((row) => JSON.stringify({ task_path: row.taskPath ?? "tasks.fake", args: [], kwargs: row.kwargs ?? { mode: "success" } }));
  const inserted = await sql<{ result_id: string }[]>`
    insert into task_runs (
      backend_alias, queue_name, priority, run_after, spec_json, spec_hash, task_path, status,
      enqueued_at, attempts, max_attempts, timeout_seconds, lock_key, concurrency_key, concurrency_limit,
      wait_count, worker_ids, errors_json, metadata_json, created_at, updated_at, cancel_requested
    )
    select 'default', q, p,
           case when ra is null then null else now() + make_interval(secs => ra) end,
           s::jsonb, h, t, 'READY', clock_timestamp(), 0, ma, ts, lk, ck, cl, 0, '[]'::jsonb, '[]'::jsonb, '{}'::jsonb, now(), now(), false
    from unnest(
      ${rows.map((r) => r.queue ?? "default")}::text[], ${rows.map((r) => r.priority ?? 0)}::int[],
      ${rows.map((r) => r.runAfterSeconds ?? null)}::float8[], ${specs}::text[], ${rows.map(() => randomHash())}::text[],
      ${rows.map((r) => r.taskPath ?? "tasks.fake")}::text[], ${rows.map((r) => r.maxAttempts ?? 3)}::int[],
      ${rows.map((r) => r.timeoutSeconds ?? 900)}::int[], ${rows.map((r) => r.lockKey ?? null)}::text[],
      ${rows.map((r) => r.concurrencyKey ?? null)}::text[], ${rows.map((r) => r.concurrencyLimit ?? 0)}::int[]
    ) with ordinality as u(q, p, ra, s, h, t, ma, ts, lk, ck, cl, n)
    order by n
    returning result_id`;
  return inserted.map((row) => row.result_id);
}

/** Polls `probe` until it returns a truthy value; fails after `timeoutMs` naming `what` it waited for. */
export async function waitFor<T>(probe: () => Promise<T | false | null | undefined>, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${options.what ?? "a condition (no description given)"}`);
    await Bun.sleep(options.intervalMs ?? 50);
  }
}

export async function statusCounts(sql: Queryable): Promise<Record<string, number>> {
  const rows = await sql<{ status: string; n: number }[]>`select status, count(*)::int as n from task_runs group by status`;
  return Object.fromEntries(rows.map((row) => [row.status, row.n]));
}

export interface WorkerProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Parsed JSON log lines so far. */
  logs: Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<number>;
  signal(sig: NodeJS.Signals): void;
}

/** Flags every test worker gets: the fake Python executor, fast polling, JSON logs. */
export function baseWorkerArgs(dsn: string): string[] {
  return [
    "worker", "--dsn", dsn,
    "--python-bin", PYTHON, "--executor-module", "fake_executor",
    "--allowed-task-modules", "tasks.",
    "--poll-min-backoff", "50ms", "--poll-max-backoff", "500ms",
    "--log-format", "json",
  ];
}

export function startWorker(args: string[], env: Record<string, string> = {}): WorkerProcess {
  ensureBinary();
  const proc = Bun.spawn([BINARY, ...args], {
    env: cleanEnv({ PYTHONPATH: EXECUTORS_DIR, ...env }),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const logs: Record<string, unknown>[] = [];
  let stderrText = "";
  const readLines = async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of proc.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      let newline = buffer.indexOf("\n");
      while (newline !== -1) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          logs.push({ unparsed: line });
        }
        newline = buffer.indexOf("\n");
      }
    }
  };
  const readErr = async () => {
    stderrText = await new Response(proc.stderr).text();
  };
  const pumps = Promise.all([readLines(), readErr()]);
  const exited = proc.exited.then(async (code) => {
    await pumps;
    return code;
  });
  return { proc, logs, stderr: () => stderrText, exited, signal: (sig) => proc.kill(sig) };
}

/** SIGTERM and wait; kills hard after `timeoutMs` so a hung worker cannot hang the suite. */
export async function stopWorker(worker: WorkerProcess, timeoutMs = 30_000): Promise<number> {
  worker.signal("SIGTERM");
  const timer = setTimeout(() => worker.signal("SIGKILL"), timeoutMs);
  try {
    return await worker.exited;
  } finally {
    clearTimeout(timer);
  }
}
