// Bulk writes in batches: one short transaction per chunk of ids, each committed (and visible to
// workers) before the next starts, so a bulk operation never holds thousands of row locks and a
// long run can report progress and be stopped between batches. Used by triage retry/discard.

import type { Queryable, Sql } from "../db/client.ts";
import { dbErrorCode } from "../db/retryable.ts";

/** Rows per transaction when the caller does not say. */
export const DEFAULT_BATCH_SIZE = 1_000;
/** A batch never waits longer than this on a lock (row locks are skipped; this bounds the rest). */
export const BATCH_LOCK_TIMEOUT = "2s";
const ATTEMPTS = 3;
/**
 * Worth running the batch again: a concurrent insert of the same spec (23505: the next attempt
 * sees it and skips the row) or a lock still held after BATCH_LOCK_TIMEOUT (55P03).
 */
const RERUN_CODES = new Set(["23505", "55P03"]);

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

// Sets this transaction's lock_timeout to BATCH_LOCK_TIMEOUT and turns JIT off (a plan over
// 50,000 rows looks expensive enough to JIT-compile, which alone took 1.7 s). Locks nothing.
export async function txBulkSettingsSet(tx: Queryable): Promise<void> {
  await tx`select set_config('lock_timeout', ${BATCH_LOCK_TIMEOUT}, true), set_config('jit', 'off', true)`;
}

/** `read` in a transaction with txBulkSettingsSet (for the read that plans a bulk operation). */
export async function withBulkSettings<T>(sql: Sql, read: (tx: Queryable) => Promise<T>): Promise<T> {
  return (await sql.begin(async (tx) => {
    await txBulkSettingsSet(tx);
    return read(tx);
  })) as T;
}

/**
 * Runs `work` on `ids` in chunks of `batchSize`, one transaction per chunk (re-run up to three
 * times on RERUN_CODES), and hands each committed chunk's result to `commit`. Returns true when
 * the signal stopped it before the last chunk.
 */
export async function inBatches<R>(
  sql: Sql,
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
    commit(await runChunk(sql, chunk, work));
    await options.onProgress?.({ done: start + chunk.length, total: ids.length });
  }
  return false;
}

async function runChunk<R>(sql: Sql, chunk: readonly string[], work: (tx: Queryable, chunk: readonly string[]) => Promise<R>): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withBulkSettings(sql, (tx) => work(tx, chunk));
    } catch (error) {
      if (attempt >= ATTEMPTS || !RERUN_CODES.has(dbErrorCode(error) ?? "")) throw error;
    }
  }
}

/** Ascending by numeric id (ids are bigint decimal text). */
export function byId(a: string, b: string): number {
  const d = BigInt(a) - BigInt(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}
