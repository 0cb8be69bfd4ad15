// Transactions whose BEGIN travels with their first statement. postgres.js `sql.begin` waits for
// BEGIN's answer before it runs the callback, one round trip per transaction spent on BEGIN alone;
// here BEGIN is sent without waiting and the work's statements queue behind it on the same
// connection (postgres.js pipelines the statements of one connection), so BEGIN and the first
// statements share a round trip. BEGIN cannot fail on its own (only with the connection, which
// fails every statement queued behind it), so no statement runs outside the transaction.
import type { Queryable, Sql } from "./client.ts";

/**
 * `work` in one transaction on `conn` (a reserved connection): BEGIN pipelined ahead of it, COMMIT
 * when it resolves, ROLLBACK when it throws (the error is rethrown as is).
 */
export async function transactionOn<T>(conn: Sql, work: (tx: Queryable) => Promise<T>): Promise<T> {
  const begun = conn`begin`.execute();
  begun.catch(() => undefined); // awaited below; this only marks it handled meanwhile
  try {
    const result = await work(conn);
    await begun;
    await conn`commit`;
    return result;
  } catch (error) {
    await begun.catch(() => undefined);
    await conn`rollback`.catch(() => undefined);
    throw error;
  }
}
