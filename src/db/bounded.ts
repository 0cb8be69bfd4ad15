// Reads that must never wait long on the server: one transaction with statement_timeout and
// lock_timeout set locally (SET LOCAL semantics, so they end with it and are safe through a
// transaction pooler). A lock queue or a wedged catalog costs the reader at most the timeout,
// and the server cancels the statement, so no connection stays stuck behind it.
import type { Queryable, Sql } from "./client.ts";

export interface ReadBounds {
  statementTimeoutMs: number;
  /** Defaults to statementTimeoutMs. */
  lockTimeoutMs?: number;
}

export function boundedReads<T>(sql: Sql, bounds: ReadBounds, reads: (tx: Queryable) => Promise<T>): Promise<T> {
  const statement = String(Math.max(1, Math.round(bounds.statementTimeoutMs)));
  const lock = String(Math.max(1, Math.round(bounds.lockTimeoutMs ?? bounds.statementTimeoutMs)));
  return sql.begin(async (tx) => {
    await tx`SELECT set_config('statement_timeout', ${statement}, true), set_config('lock_timeout', ${lock}, true)`;
    return reads(tx);
  }) as Promise<T>;
}
