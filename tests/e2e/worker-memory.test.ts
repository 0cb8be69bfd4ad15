// The compiled worker hands memory back once it is idle: after a large payload (bun-inprocess,
// so every copy of it lives in the worker), RSS returns near where it was before the task
// instead of staying at its peak (it stayed ~33 MB above it, the engine keeping the freed pages).
// RSS is read from /proc (Linux).
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase } from "../helpers/db.ts";
import { enqueue, startWorker, stopWorker, waitFor } from "../helpers/worker.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const MB = 1024 * 1024;
const db = await createTestDatabase({ flavour: "reproq", label: "memory_e2e" });
const tasksDir = mkdtempSync(join(tmpdir(), "reproq-memory-e2e-"));
writeFileSync(join(tasksDir, "big.ts"), "export function size(args: unknown[], kwargs: { text: string }) {\n  return kwargs.text.length;\n}\n");
afterAll(async () => {
  await db.drop();
  rmSync(tasksDir, { recursive: true, force: true });
});

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1]) / 1024;
}

test.skipIf(process.platform !== "linux")("after a 30 MB payload, an idle bun-inprocess worker's RSS returns to within 15 MB of where it started", async () => {
  const worker = startWorker([
    "worker", "--dsn", db.dsn, "--executor", "bun-inprocess", "--tasks-dir", tasksDir, "--allowed-task-modules", "big.",
    "--max-payload-bytes", String(40 * MB), "--poll-min-backoff", "50ms", "--poll-max-backoff", "500ms", "--log-format", "json", "--log-level", "debug",
  ]);
  try {
    await waitFor(async () => worker.logs.some((line) => line.msg === "Starting reproq worker") || worker.proc.exitCode !== null, { what: "worker start" });
    await Bun.sleep(1_000);
    const before = rssMb(worker.proc.pid);
    const [id] = await enqueue(db.sql, [{ taskPath: "big.size", kwargs: { text: "x".repeat(30 * MB) }, maxAttempts: 1 }]);
    const done = await waitFor(async () => {
      const [row] = await db.sql<{ status: string; ret: string | null }[]>`select status, return_json::text as ret from task_runs where result_id = ${id!}::bigint`;
      return row?.status === "SUCCESSFUL" || row?.status === "FAILED" ? row : null;
    }, { timeoutMs: 30_000, what: "the large task to finish" });
    expect(done).toEqual({ status: "SUCCESSFUL", ret: String(30 * MB) });
    // The idle collection comes 5 s after the last claim (the engine's own collections may come
    // much later, or not at all while idle).
    await waitFor(async () => worker.logs.some((line) => line.msg === "Idle: memory handed back"), { timeoutMs: 20_000, what: "the idle collection" });
    await Bun.sleep(200);
    const after = rssMb(worker.proc.pid);
    expect({ before: Math.round(before), after: Math.round(after), withinBound: after <= before + 15 }).toMatchObject({ withinBound: true });
  } finally {
    await stopWorker(worker);
  }
});
