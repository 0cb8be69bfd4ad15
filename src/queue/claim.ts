// Claiming READY rows (SPEC §4.2): batch, index-served with aging on, round-robin across queues,
// and with lock_key / concurrency_key / rate limits that hold strictly across concurrent workers.
//
// ## Flow: one statement while a worker's picks find no keyed rows (taskClaimBatch's route);
// otherwise one short transaction, 3 round trips (5 when keyed rows are picked)
// 0. On a worker's claim session (its connections carry the settings below as session
//    parameters and run nothing else), the pick of step 1 alone, committing its unkeyed rows.
// 1. claimSettingsApply + taskClaimPick, pipelined. The settings turn JIT off for this
//    transaction (the planner cannot know how few priority levels exist and can price the pick
//    above jit_above_cost; compiling costs ~100 ms, the claim itself a few ms). The pick chooses
//    up to `limit` rows and claims at once those with no lock_key, no concurrency_key and no
//    enforced rate bucket: unkeyed work never touches a shared lock, so claims only meet on
//    their own rows (FOR UPDATE SKIP LOCKED).
// 2. Only if keyed rows were picked (they stay row-locked by this transaction):
//    taskClaimKeysTryLock takes the advisory locks of their keys it can get without waiting,
//    then taskClaimKeyed — a NEW statement — re-checks the picks whose keys are all held against
//    its own snapshot and claims the survivors.
// Everything commits together: an error never leaves rows RUNNING that the caller does not know.
//
// ## Why advisory locks (Go §3.5 #2: its limits were soft)
// Under READ COMMITTED two claims checking "count(RUNNING) < limit" against their own snapshots
// both pass. Here a keyed row is only ever made RUNNING by a transaction holding the advisory
// lock of each of its keys (lock_key, concurrency_key, enforced bucket). The lock is released
// only at commit, so the previous holder's RUNNING rows are committed before anyone else gets it,
// and the holder's re-check runs in a statement that starts after the grant, hence sees them.
// Rate tokens are spent under the bucket's lock in the same way, so never twice.
// - Try-locks, not waiting locks: a key held by another claim means that claim is taking rows of
//   the key at this very moment, so we leave those rows to it (or to our next claim) instead of
//   queueing behind it. Measured: same throughput as waiting in a sorted order with 8 racing
//   workers, but a claim never waits on another claim, so there is no deadlock, no lock-timeout
//   tuning, and a stalled transaction holding a key delays that key only — not every batch that
//   happens to pick one of its rows. Keys are still tried in one deterministic order.
// - A per-key counter table was the alternative; it drifts whenever anything else (Django admin,
//   reclaim, deletes, completion bugs) changes a row without updating it, whereas counting RUNNING
//   rows (idx_task_runs_lock_key / _concurrency_active) under the lock is always true.
// - Any non-empty concurrency_key is locked, even with limit 0: such rows still count towards the
//   limit of other rows with the key (Go counts every RUNNING row with the key).
// - What the pick saw is only a pre-filter; the locked statement is the authority. (A Go worker
//   on the same database does not take these locks; mixed fleets keep Go's soft limits.)
// - The only lock a claim can wait for is a rate_limits row held by someone outside the claim
//   path (`limit set`); lock_timeout bounds that.
//
// ## Index strategy and why it is exact
// Effective priority = priority + max(0, age)/factor. Within ONE priority level that is monotone
// in enqueued_at, and the tiebreaks are (enqueued_at, result_id), so inside a level the claim
// order is exactly idx_task_runs_ready_order's (queue_name, priority DESC, enqueued_at,
// result_id) order. The global top-n is therefore a union of per-level prefixes, none longer
// than n: reading the first n eligible rows of every level (K = limit) and re-ranking that small
// set gives the same n rows as sorting the whole backlog. Levels are enumerated by a recursive
// loose index scan (one LIMIT 1 probe per level), so a claim reads about levels × limit rows
// whatever the backlog size. Fairness only reorders that set: rank within its queue first, then
// the queue's position in `queues`, so a batch goes round the queue list in the order given.
// Eligibility is tested inside each level's scan, so ineligible rows never hide eligible ones
// (no head-of-line blocking for held locks, full concurrency groups or empty buckets).
//
// ## Fairness: round-robin at every claim, whatever the batch size
// Breaking rank ties by effective priority (or age) would hand every one- or two-slot refill to
// the queue with the oldest backlog, and a steady-state worker claims one or two rows at a time.
// So the claim is stateless and takes the queue order from the caller; the worker rotates its
// list past the queue of the last row it got (src/worker/rotation.ts). A queue with eligible rows
// therefore waits at most one turn of the list, whatever the other queues hold. Each worker has
// its own rotation; keyed rows take their turn like any other (their limits may still skip it).
//
// ## Trade-offs (documented, not hidden)
// - Cost grows with the number of distinct priority levels per queue, not with rows.
// - Ineligible rows AHEAD of eligible ones in a level are stepped over one by one (a heap fetch
//   each): rows with a future run_after (retries keep their old enqueued_at; a big scheduled bulk
//   enqueued before due work), and rows whose key is saturated. Retry backoff produces few such
//   rows; a huge delayed bulk or one saturated key owning most of a level makes claims slower
//   until those rows become eligible. idx_task_runs_claim_due cannot replace the scan — its
//   order is by run_after first and lacks result_id, so it cannot give per-level (enqueued_at,
//   result_id) prefixes — it serves taskNextRunAfter instead.
// - When a queue's own/global bucket is empty, only rows with their own task:<path> bucket can
//   run; with no such bucket the queue is skipped outright, otherwise its levels are scanned.
// - Within a batch the key limits are applied greedily in fair order (claim-sql.ts); in rare
//   mixes a row dropped by one limit still counted against another, so a batch can come out a
//   little smaller than possible — never larger. The next claim picks the rest up.
// - lock_key NULL means "no lock"; '' is a key like any other (as in the Go worker).

import { closeDb, type Queryable, type Sql } from "../db/client.ts";
import { isRetryableDbError } from "../db/retryable.ts";
import { claimKeyLocks, picksWithLocksHeld, taskClaimKeyed, taskClaimKeysTryLock } from "./claim-keyed.ts";
import { taskClaimPick, type PickOutcome } from "./claim-pick.ts";
import type { ClaimedTask, ClaimParams } from "./types.ts";

/** How long a claim waits for a rate_limits row locked outside the claim path before failing (55P03). */
const KEY_LOCK_TIMEOUT = "5s";

/**
 * Where a worker's claims may go in one statement, and what they learnt: a pool whose sessions
 * already carry the claim settings (CLAIM_SESSION_SETTINGS), and whether the last pick found
 * keyed rows (a lock_key, a concurrency_key or an enforced rate bucket). Owned by one worker and
 * passed to each of its claims.
 */
export interface ClaimRoute {
  readonly session: Sql;
  keyed: boolean;
  /** A statement on the session failed for want of a connection (ClaimSession replaces its pool). */
  sessionFailed?(): void;
  /**
   * The latest server time (timestamptz text) at which a pick sent now may still claim; null:
   * no bound. See ClaimSession.deadline.
   */
  deadline?(): Promise<string | null>;
}

/** How often ClaimSession re-reads the server's clock. */
const CLOCK_REFRESH_MS = 30_000;

/**
 * A worker's claim route over a pool of its own (cli/context.ts openClaimSession). When one of its
 * connections fails (lost, reset, or silent past the statement bound), the whole pool is replaced:
 * its other connections sat idle just as long and may be dead too (a stopped server, a lost
 * network path), and each would hold the next claim sent to it for a full statement bound. The
 * old pool finishes what it has in flight (bounded) and closes.
 */
export class ClaimSession implements ClaimRoute {
  keyed = true; // the first claim is a transaction, until a pick shows no keyed rows
  private current: Sql;
  /** The server's clock (ms) read at a local monotonic time; refreshed every CLOCK_REFRESH_MS. */
  private clock: { serverMs: number; localMs: number } | null = null;
  /** Replaced pools still closing (each leaves the set once closed: an outage replaces many). */
  private readonly retired = new Set<Promise<void>>();
  /** Pools replaced so far. */
  replaced = 0;

  /**
   * `boundMs`: how long after it was sent a claim may still commit — the statement bound and the
   * client's grace, after which the worker gives a failed claim's rows back (unseen-claims.ts).
   */
  constructor(
    first: Sql,
    private readonly open: () => Sql,
    private readonly boundMs: number,
    private readonly retireSeconds = 5,
  ) {
    this.current = first;
  }

  /**
   * The server time after which a pick sent now claims nothing: now on the server's clock plus
   * `boundMs`. A one-statement claim commits on its own; sent to a backend that then stops (a
   * hung server, SIGSTOP) it would run whenever the backend resumes — long after the worker gave
   * the claim up, even after the worker exited — and lease rows to a worker that does not know
   * them (they would wait for the lease to expire). With this bound it then claims nothing, so a
   * failed claim can no longer commit once the worker's unseen-claims sweep runs. The server's
   * clock is read on the session (one statement every 30 s) and carried forward on this process's
   * monotonic clock, so neither host's wall-clock steps nor their skew matter.
   */
  async deadline(): Promise<string> {
    if (this.clock === null || performance.now() - this.clock.localMs > CLOCK_REFRESH_MS) {
      const sent = performance.now();
      const [row] = await this.current<{ ms: string }[]>`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::text AS ms`;
      const received = performance.now();
      this.clock = { serverMs: Number(row!.ms), localMs: (sent + received) / 2 };
    }
    const serverNowMs = this.clock.serverMs + (performance.now() - this.clock.localMs);
    return new Date(serverNowMs + this.boundMs).toISOString();
  }

  get session(): Sql {
    return this.current;
  }

  sessionFailed(): void {
    const old = this.current;
    this.current = this.open();
    this.replaced++;
    const closing = closeDb(old, this.retireSeconds);
    this.retired.add(closing);
    void closing.finally(() => this.retired.delete(closing));
  }

  /** Closes the pool (and waits for replaced ones). */
  async close(timeoutSeconds = 2): Promise<void> {
    await Promise.all([closeDb(this.current, timeoutSeconds), ...this.retired]);
  }
}

/**
 * The claim settings as session parameters of a connection that runs nothing but claims (the
 * transaction form applies them with set_config; see claimSettingsApply).
 */
export const CLAIM_SESSION_SETTINGS: Readonly<Record<string, string>> = {
  jit: "off",
  lock_timeout: KEY_LOCK_TIMEOUT,
  plan_cache_mode: "force_generic_plan",
};

/**
 * Claims up to `params.limit` READY rows of `params.queues` for `params.workerId` (status RUNNING,
 * attempts+1, started_at kept, leased_until = NOW()+lease, worker appended to worker_ids),
 * round-robin over the queues in the order given and in aged priority order inside each, honouring pauses, run_after, lock keys, concurrency limits and rate
 * limits strictly across concurrent claimers. Returns the claimed rows (possibly none) best first.
 * Not idempotent.
 *
 * Without `route`, or while it says the last pick found keyed rows: one short transaction
 * (claimInTransaction). Otherwise the pick alone, one statement in its own implicit transaction
 * on the route's session (one round trip, no BEGIN, settings or COMMIT). Such a pick claims its
 * unkeyed rows only: keyed ones need the advisory locks of the second stage, held in the pick's
 * transaction. If it finds keyed rows the route turns, and this same call claims the rest of
 * `limit` in a transaction, so a keyed row is never left for a later poll. Should that second
 * claim fail, a PartialClaimError carries the first one's rows (leased to the worker: they must
 * reach it) and the failure (whose COMMIT may have gone through unseen).
 */
export async function taskClaimBatch(sql: Sql, params: ClaimParams, route?: ClaimRoute): Promise<ClaimedTask[]> {
  const queues = [...new Set(params.queues)];
  const limit = Math.floor(params.limit);
  if (queues.length === 0 || limit <= 0) return [];
  const request = { ...params, queues, limit };
  if (route === undefined || route.keyed) return claimInTransaction(sql, request, route);

  let pick: PickOutcome;
  try {
    pick = await taskClaimPick(route.session, request, (await route.deadline?.()) ?? null);
  } catch (error) {
    if (isRetryableDbError(error)) route.sessionFailed?.();
    throw error;
  }
  const unkeyed = pick.claimed.map((c) => c.task);
  route.keyed = pick.deferred.length > 0;
  if (!route.keyed || unkeyed.length >= limit) return unkeyed;
  try {
    return [...unkeyed, ...(await claimInTransaction(sql, { ...request, limit: limit - unkeyed.length }, route))];
  } catch (error) {
    if (unkeyed.length === 0) throw error;
    throw new PartialClaimError(unkeyed, error);
  }
}

/** A claim whose keyed stage failed after its one-statement pick had claimed `claimed`. */
export class PartialClaimError extends Error {
  constructor(
    readonly claimed: ClaimedTask[],
    override readonly cause: unknown,
  ) {
    super(`claimed ${claimed.length} rows, then the keyed claim failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "PartialClaimError";
  }
}

async function claimInTransaction(sql: Sql, request: ClaimParams, route: ClaimRoute | undefined): Promise<ClaimedTask[]> {
  return sql.begin(async (tx) => {
    // Sent back to back (pipelined); each async call sends its statement before its first await.
    const [, pick] = await Promise.all([claimSettingsApply(tx), taskClaimPick(tx, request)]);
    if (route) route.keyed = pick.deferred.length > 0;
    if (pick.deferred.length === 0) return pick.claimed.map((c) => c.task);
    const held = await taskClaimKeysTryLock(tx, { locks: pick.deferred.flatMap(claimKeyLocks) });
    const keyed = await taskClaimKeyed(tx, { ...request, picks: picksWithLocksHeld(pick.deferred, held) });
    return [...pick.claimed, ...keyed].sort((a, b) => a.fair - b.fair).map((c) => c.task);
  });
}

/**
 * Transaction-local settings for a claim: jit off (see the top of this file), a lock_timeout, and
 * plan_cache_mode = force_generic_plan. The last one makes a connection plan each claim statement
 * once and reuse that plan: under the default (auto) PostgreSQL compares the generic plan's cost
 * with the custom plans' and, since the generic estimate of `LIMIT $n` over a per-level scan of
 * a big backlog is far higher than any custom one, re-planned the pick on every call (~1.5–2 ms,
 * as much as executing it at 1,000,000 READY rows). The generic plan has the same shape (every
 * scan on the indexes; claim-plan.test.ts checks it). Applies to prepared statements; behind a
 * transaction pooler (prepare off) each statement is planned anyway. Inside a transaction only;
 * changes nothing persistent. Idempotent.
 */
export async function claimSettingsApply(sql: Queryable): Promise<void> {
  await sql`SELECT set_config('jit', 'off', true), set_config('lock_timeout', ${KEY_LOCK_TIMEOUT}, true),
                    set_config('plan_cache_mode', 'force_generic_plan', true)`;
}

/**
 * The earliest run_after among READY rows of unpaused `queues` that is later than `sinceMs`
 * milliseconds ago (0: in the future), or null when there is none; the worker sleeps until then.
 * The worker passes the time since its last claim began: a row that became due after that claim
 * read the table (so the claim could not take it) is returned, with a time in the past, and the
 * worker claims again at once instead of sleeping a whole poll backoff; rows that were due before
 * the claim and still not taken (a held lock key, a full concurrency limit) are not, so they never
 * make the worker spin. Reads idx_task_runs_claim_due (one probe per queue). Locks nothing,
 * changes nothing.
 */
export async function taskNextRunAfter(sql: Queryable, params: { queues: readonly string[]; sinceMs?: number }): Promise<Date | null> {
  if (params.queues.length === 0) return null;
  const sinceSeconds = Math.max(0, params.sinceMs ?? 0) / 1000;
  const [row] = await sql<{ next: Date | null }[]>`
    SELECT min(n.run_after) AS next
    FROM unnest(${[...params.queues]}::text[]) AS q(name)
    CROSS JOIN LATERAL (
      SELECT t.run_after FROM task_runs t
      WHERE t.status = 'READY' AND t.queue_name = q.name
        AND COALESCE(t.run_after, '-infinity'::timestamptz) > NOW() - make_interval(secs => ${sinceSeconds}::float8)
      ORDER BY COALESCE(t.run_after, '-infinity'::timestamptz)
      LIMIT 1
    ) n
    WHERE NOT EXISTS (SELECT 1 FROM reproq_queue_controls c WHERE c.queue_name = q.name AND c.paused)`;
  return row?.next ?? null;
}
