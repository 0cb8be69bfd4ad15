// /healthz for a worker: healthy when the database answers AND the producer loop is going round
// (a wedged loop with a healthy database is unhealthy, which the Go worker could not see) AND
// task results and claims are making progress: a write waiting behind a lock on task_runs, or
// failing, for longer than metrics.health_stall_timeout is unhealthy even while `SELECT 1` answers.
import type { Sql } from "../db/client.ts";
import { ping } from "../db/server.ts";
import { errorMessage } from "../errors.ts";
import type { ProgressWatch } from "../observability/progress.ts";
import type { Worker } from "./runtime.ts";

export interface WorkerHealth {
  ok: boolean;
  problem?: string;
  detail: Record<string, unknown>;
}

export interface HealthOptions {
  /** The loop counts as stalled when it has not gone round for this long. */
  maxLoopAgeMs: number;
  pingTimeoutMs: number;
  concurrency: number;
  workerId: string;
  /** Result writes or claims without progress for this long make the worker unhealthy. */
  stallTimeoutMs: number;
}

/** The loop waits at most poll_max_backoff between rounds, longer only inside a slow claim. */
export function loopStallMs(pollMaxBackoffMs: number, connectTimeoutMs: number): number {
  return Math.max(30_000, 3 * pollMaxBackoffMs + connectTimeoutMs + 10_000);
}

export function workerHealth(sql: Sql, worker: Worker, options: HealthOptions): () => Promise<WorkerHealth> {
  return async () => {
    let database: { ok: boolean; latency_ms: number | null; error?: string };
    try {
      database = { ok: true, latency_ms: Math.round((await ping(sql, options.pingTimeoutMs)) * 10) / 10 };
    } catch (error) {
      database = { ok: false, latency_ms: null, error: errorMessage(error) };
    }
    const loopOk = worker.loopAlive(options.maxLoopAgeMs);
    const loopAge = Math.round(worker.loopAgeMs);
    const results = progressOf(worker.resultProgress, options.stallTimeoutMs);
    const claims = progressOf(worker.claimProgress, options.stallTimeoutMs);
    const problems = [
      database.ok ? null : `database: ${database.error}`,
      loopOk ? null : `worker loop: no round for ${loopAge} ms or shutting down`,
      results.ok ? null : `result writes: no progress for ${results.stalled_ms} ms (${results.pending} waiting)`,
      claims.ok ? null : `claims: no progress for ${claims.stalled_ms} ms`,
    ];
    const problem = problems.filter((p) => p !== null).join("; ");
    const reasons = [
      database.ok ? null : "database_unreachable",
      loopOk ? null : "worker_loop_stalled",
      results.ok ? null : "result_writes_stalled",
      claims.ok ? null : "claims_stalled",
    ].filter((r) => r !== null);
    return {
      ok: reasons.length === 0,
      ...(problem ? { problem } : {}),
      detail: {
        ...(reasons.length > 0 ? { reasons } : {}),
        // The database error text stays in the worker's log; the client only learns it failed.
        database: { ok: database.ok, latency_ms: database.latency_ms },
        worker_loop: { ok: loopOk, last_tick_age_ms: loopAge },
        result_writes: results,
        claims,
        last_claim_at: worker.lastClaimAt?.toISOString() ?? null,
        running: worker.runningCount,
        concurrency: options.concurrency,
        worker_id: options.workerId,
      },
    };
  };
}

function progressOf(watch: ProgressWatch, stallTimeoutMs: number): { ok: boolean; pending: number; stalled_ms: number } {
  const stalled = Math.round(watch.stalledMs());
  return { ok: stalled <= stallTimeoutMs, pending: watch.pendingCount, stalled_ms: stalled };
}
