// Claims whose answer was lost. A claim commits its rows as RUNNING under this worker; when the
// connection dies between COMMIT and the answer (a backend killed mid-query, a reset), the claim
// fails here although the rows are taken, and nothing would run them until their lease expired
// (5 minutes by default). After a failed claim the producer loop, between two claims (so no claim
// of ours is in flight), gives such rows back once the failed claim's transaction can no longer
// commit: one statement bound (database.query_timeout) plus the client's grace after the failure.
import { aborted } from "../abort.ts";
import { statementBoundMs, type Sql } from "../db/client.ts";
import type { Logger } from "../observability/logger.ts";
import type { DbOperations } from "../observability/db-operations.ts";
import { taskReleaseUnseenClaims } from "../queue/index.ts";

/** With no statement bound configured, how long a failed claim is assumed able to commit. */
const UNBOUNDED_SETTLE_MS = 60_000;
/** How long shutdown waits for the final sweep (the database may be down). */
const FINAL_SWEEP_MS = 2_000;

/**
 * How long after it was sent a claim may still commit: one statement bound plus the client's
 * grace (database.query_timeout), or UNBOUNDED_SETTLE_MS's worth with no bound. One-statement
 * claims carry it as their deadline (ClaimSession), so the sweep's assumption holds for them even
 * when a stopped backend runs the statement late.
 */
export function failedClaimSettleMs(queryTimeoutMs: number): number {
  return statementBoundMs(queryTimeoutMs) || statementBoundMs(UNBOUNDED_SETTLE_MS);
}

export class UnseenClaims {
  private failedAt: number | null = null;
  private readonly settleMs: number;

  constructor(
    private readonly options: { sql: Sql; logger: Logger; workerId: string; db: DbOperations; queryTimeoutMs?: number },
  ) {
    this.settleMs = failedClaimSettleMs(options.queryTimeoutMs ?? 0);
  }

  /** A claim failed: it may have committed without its answer reaching us. */
  claimFailed(): void {
    this.failedAt = performance.now();
  }

  /**
   * Call only between claims, with every row this worker runs. After a failed claim has settled,
   * gives back the rows RUNNING under this worker that it does not run; until that succeeds,
   * later calls try again. Never throws.
   */
  async sweep(running: Iterable<string>): Promise<void> {
    const since = this.failedAt;
    if (since === null || performance.now() - since < this.settleMs) return;
    await this.release(since, running);
  }

  /**
   * At shutdown, after the last claim: the same without waiting for the failed claim to settle
   * (one that still commits later leaves its rows to lease expiry, as before), bounded to
   * FINAL_SWEEP_MS. `keep`: rows still running or whose outcome went to the result journal.
   */
  async finalSweep(keep: Iterable<string>): Promise<void> {
    const since = this.failedAt;
    if (since === null) return;
    await Promise.race([this.release(since, keep), aborted(AbortSignal.timeout(FINAL_SWEEP_MS))]);
  }

  private async release(since: number, running: Iterable<string>): Promise<void> {
    const { sql, logger, workerId, db } = this.options;
    try {
      const released = await db.run(null, () => taskReleaseUnseenClaims(sql, { workerId, knownIds: [...running] }));
      if (this.failedAt === since) this.failedAt = null;
      if (released.length > 0) {
        logger.warn("Gave back tasks claimed by a claim whose answer was lost (connection lost after it committed); they run again now, attempt not counted", {
          count: released.length,
          result_ids: released,
        });
      }
    } catch {
      // Still unsure; the claim reports the outage, the next round tries again.
    }
  }
}
