// The beat service (SPEC §6): every interval, one tick = one transaction that enqueues one run per
// due periodic task (queue/periodic.ts) and moves it to its next slot after the database's NOW()
// (so a beat that was down for an hour enqueues one run per task, not sixty).
//
// Bad rows (invalid or impossible cron, unparsable payload) are logged once and then skipped while
// the row is unchanged: remembered in memory by (name, cron_expr, payload). We do not rewrite the
// row (e.g. push next_run_at far out): the user's data stays as it is, the row stays visibly
// overdue in the admin, and fixing cron_expr or payload_json makes the next tick pick it up at
// once. A restarted beat logs each still-bad row once again. Database errors on a row are
// transient and are logged on every tick.
import { pause } from "../abort.ts";
import type { Sql } from "../db/client.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import { periodicEnqueueDue, type PeriodicDueRow, type PeriodicOutcome, type PeriodicPlan } from "../queue/periodic.ts";
import { nextSlot, parseCron } from "./cron.ts";
import { parsePeriodicPayload } from "./payload.ts";
import { buildPeriodicSpec, PERIODIC_TIMEOUT_SECONDS } from "./spec.ts";

export interface BeatOptions {
  sql: Sql;
  logger: Logger;
  intervalMs: number;
}

export interface TickResult {
  /** Rows actually inserted into task_runs (duplicates and skipped rows not counted). */
  enqueued: number;
  duplicates: number;
  /** Rows that failed this tick (bad rows are counted on the tick that first logs them). */
  failed: number;
  /** Known-bad rows skipped silently. */
  skipped: number;
  /** The whole tick failed (e.g. database unavailable). */
  error?: unknown;
}

/** Plans one due row: pure (cron, payload, spec); throws for a bad row. */
export function planPeriodicRun(row: PeriodicDueRow, dbNow: Date): PeriodicPlan {
  const schedule = parseCron(row.cronExpr);
  const nextRunAt = nextSlot(schedule, dbNow);
  const payload = parsePeriodicPayload(row.payloadText);
  const built = buildPeriodicSpec({ ...row, scheduledAt: row.nextRunAt }, payload);
  return {
    kind: "enqueue",
    nextRunAt,
    run: {
      queueName: built.queueName,
      priority: row.priority,
      runAfter: row.nextRunAt,
      specJson: built.json,
      specHash: built.hash,
      taskPath: row.taskPath,
      maxAttempts: built.maxAttempts,
      timeoutSeconds: PERIODIC_TIMEOUT_SECONDS,
      concurrencyKey: row.concurrencyKey,
      concurrencyLimit: row.concurrencyLimit,
    },
  };
}

function badRowKey(row: PeriodicDueRow): string {
  return JSON.stringify([row.name, row.cronExpr, row.payloadText, row.taskPath]);
}

export class Beat {
  private readonly badRows = new Set<string>();
  private readonly stopping = new AbortController();
  private running: Promise<void> | undefined;

  constructor(private readonly options: BeatOptions) {}

  /** One tick. Never throws: a failed tick is reported in `error`. */
  async tick(): Promise<TickResult> {
    const { sql, logger } = this.options;
    let outcomes: PeriodicOutcome[];
    try {
      outcomes = await periodicEnqueueDue(sql, (row, dbNow) => (this.badRows.has(badRowKey(row)) ? { kind: "skip" } : planPeriodicRun(row, dbNow)));
    } catch (error) {
      logger.error("Failed to enqueue periodic tasks", { error: errorMessage(error), enqueued: 0 });
      return { enqueued: 0, duplicates: 0, failed: 0, skipped: 0, error };
    }
    const result: TickResult = { enqueued: 0, duplicates: 0, failed: 0, skipped: 0 };
    let lastError = "";
    for (const outcome of outcomes) {
      switch (outcome.status) {
        case "inserted":
          result.enqueued++;
          logger.debug("Enqueued periodic task", { name: outcome.name, result_id: outcome.resultId, next_run_at: outcome.nextRunAt });
          break;
        case "duplicate":
          result.duplicates++;
          logger.info("Periodic slot already enqueued; advanced without a new run", { name: outcome.name, next_run_at: outcome.nextRunAt });
          break;
        case "skipped":
          result.skipped++;
          break;
        case "failed":
          result.failed++;
          lastError = errorMessage(outcome.error);
          if (outcome.stage === "plan") {
            this.badRows.add(badRowKey(outcome.row));
            logger.error("Skipping periodic task until its row changes", { name: outcome.name, cron_expr: outcome.row.cronExpr, error: lastError });
          } else {
            logger.error("Failed to enqueue periodic task", { name: outcome.name, error: lastError });
          }
          break;
      }
    }
    if (result.failed > 0) {
      logger.error("Failed to enqueue periodic tasks", { error: `failed to enqueue ${result.failed} periodic tasks (last error: ${lastError})`, enqueued: result.enqueued });
    }
    if (result.enqueued > 0) logger.info("Enqueued periodic tasks", { count: result.enqueued });
    return result;
  }

  /** Ticks at once, then every interval until `signal` aborts or stop(); a tick in progress finishes. */
  start(signal?: AbortSignal): Promise<void> {
    this.running ??= this.loop(signal ? AbortSignal.any([signal, this.stopping.signal]) : this.stopping.signal);
    return this.running;
  }

  /** Idempotent; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }

  private async loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const startedAt = performance.now();
      await this.tick();
      // Fixed-rate like a ticker; a tick slower than the interval is followed at once by the next.
      const waitMs = Math.max(0, this.options.intervalMs - (performance.now() - startedAt));
      await pause(waitMs, signal);
    }
  }
}
