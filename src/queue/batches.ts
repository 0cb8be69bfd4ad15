// Bulk writes in batches: one short transaction per chunk of ids, each committed (and visible to
// workers) before the next starts, so a bulk operation never holds thousands of row locks and a
// long run can report progress and be stopped between batches. Used by triage retry/discard.
// A run holds one reserved connection, and each transaction sends BEGIN and its settings along
// with its first statement: on a busy machine every round trip costs milliseconds.

import type { Queryable, Sql } from "../db/client.ts";
import { dbErrorCode } from "../db/retryable.ts";
import { transactionOn } from "../db/transaction.ts";
import { ReproqError } from "../errors.ts";

/** Rows per transaction when the caller does not say. */
export const DEFAULT_BATCH_SIZE = 1_000;
/** A batch never waits longer than this on a lock (row locks are skipped; this bounds the rest). */
export const BATCH_LOCK_TIMEOUT = "2s";
const ATTEMPTS = 3;
const UNIQUE_VIOLATION = "23505";
const LOCK_NOT_AVAILABLE = "55P03";

/** A lock held elsewhere (a table lock, an uncommitted copy of a spec) outlasted BATCH_LOCK_TIMEOUT. */
export class BulkLockTimeoutError extends ReproqError {
  constructor(cause: unknown) {
    super(
      "conflict",
      `another transaction held a lock on task_runs for more than ${BATCH_LOCK_TIMEOUT}; the batches before were committed: run the command again to do the rest`,
      { cause },
    );
    this.name = "BulkLockTimeoutError";
  }
}

export interface BatchProgress {
  /** Ids handled so far (committed batches). */
  done: number;
  total: number;
}

export interface BatchOptions {
  /** Rows per transaction (default DEFAULT_BATCH_SIZE). */
  batchSize?: number;
  /** Stops between batches; what was committed stays committed and is reported. */
  signal?: AbortSignal;
  /** Called once before the first batch (done 0) and after each committed batch. */
  onProgress?: (progress: BatchProgress) => void | Promise<void>;
  /** Report what would change, write nothing. */
  dryRun?: boolean;
}

/** One connection of the pool, held for a whole bulk run (its transactions are pipelined). */
export async function withReservedConnection<T>(sql: Sql, work: (conn: Sql) => Promise<T>): Promise<T> {
  const conn = await sql.reserve();
  try {
    return await work(conn);
  } finally {
    conn.release();
  }
}

/**
 * `work` in one transaction on `conn` (a reserved connection) with lock_timeout BATCH_LOCK_TIMEOUT
 * and JIT off (a plan over 50,000 rows looks expensive enough to JIT-compile, which alone took
 * 1.7 s), both sent with BEGIN ahead of the work's first statement; then COMMIT (ROLLBACK when
 * work throws). A lock timeout becomes BulkLockTimeoutError.
 */
export async function bulkTransaction<T>(conn: Sql, work: (tx: Queryable) => Promise<T>): Promise<T> {
  try {
    return await transactionOn(conn, async (tx) => {
      const settings = tx`select set_config('lock_timeout', ${BATCH_LOCK_TIMEOUT}, true), set_config('jit', 'off', true)`.execute();
      settings.catch(() => undefined); // awaited below; this only marks it handled meanwhile
      const result = await work(tx);
      await settings;
      return result;
    });
  } catch (error) {
    throw dbErrorCode(error) === LOCK_NOT_AVAILABLE ? new BulkLockTimeoutError(error) : error;
  }
}

/**
 * Runs `work` on `ids` in chunks of `batchSize`, one bulkTransaction per chunk on `conn`, and
 * hands each committed chunk's result to `commit`. A chunk runs again (three attempts) after a
 * concurrent insert of the same spec (23505: the next attempt sees it and skips the row) or a
 * lock timeout. Returns true when the signal stopped it before the last chunk.
 */
export async function inBatches<R>(
  conn: Sql,
  ids: readonly string[],
  options: BatchOptions,
  work: (tx: Queryable, chunk: readonly string[]) => Promise<R>,
  commit: (result: R) => void,
): Promise<boolean> {
  const size = Math.max(1, Math.floor(options.batchSize ?? DEFAULT_BATCH_SIZE));
  if (ids.length > 0) await options.onProgress?.({ done: 0, total: ids.length });
  for (let start = 0; start < ids.length; start += size) {
    if (options.signal?.aborted) return true;
    const chunk = ids.slice(start, start + size);
    commit(await runChunk(conn, chunk, work));
    await options.onProgress?.({ done: start + chunk.length, total: ids.length });
  }
  return false;
}

async function runChunk<R>(conn: Sql, chunk: readonly string[], work: (tx: Queryable, chunk: readonly string[]) => Promise<R>): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await bulkTransaction(conn, (tx) => work(tx, chunk));
    } catch (error) {
      const rerun = error instanceof BulkLockTimeoutError || dbErrorCode(error) === UNIQUE_VIOLATION;
      if (attempt >= ATTEMPTS || !rerun) throw error;
    }
  }
}

/** Ascending by numeric id (ids are bigint decimal text). */
export function byId(a: string, b: string): number {
  const d = BigInt(a) - BigInt(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}
