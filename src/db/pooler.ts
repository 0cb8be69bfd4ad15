// Detects a transaction-pooling proxy (PgBouncer pool_mode=transaction, and the like) between us
// and PostgreSQL, without admin access. On a real session (direct or session pooling) one client
// connection keeps one backend for its life, so pg_backend_pid() never changes between its
// statements. Under transaction pooling the backend is handed back after every statement: the
// probe reads the pid on connection B, keeps B idle while other client connections hold
// transactions (taking the server connection B just gave back, which a pooler reuses first), then
// reads the pid on B again. A different pid is proof (session semantics never allow it); the
// same pid in every round means "not detected". Nothing session-level is set by the probe, so it
// leaves nothing behind on a pooled server connection.
import type postgres from "postgres";
import { closeDb, connectDb, type DbOptions, type Queryable, type Sql } from "./client.ts";

type Reserved = postgres.ReservedSql<{}>;

/** Client connections holding transactions while B is idle, per round. */
const HOLDERS = 3;
/** Connections the probe's pool needs: B and the holders. */
export const PROBE_POOL_SIZE = HOLDERS + 1;
const ROUNDS = 2;
/** How long each holder keeps its transaction open (seconds, server side). */
const HOLD_SECONDS = 0.1;

export interface PoolerProbe {
  /** True when the backend changed between two statements of one client connection. */
  transactionPooling: boolean;
  /** The backend pids connection B saw, in order. */
  pids: number[];
}

// Reads the backend pid serving this statement. Locks nothing.
async function backendPid(sql: Queryable): Promise<number> {
  const [row] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
  return row!.pid;
}

// Holds one transaction open for HOLD_SECONDS (pg_sleep), sent as one pipelined batch; `begun`
// settles once BEGIN has a server connection. Locks nothing.
function holdTransaction(conn: Reserved): { begun: Promise<unknown>; done: Promise<unknown> } {
  const begun = conn`begin`.execute();
  const done = Promise.all([begun, conn`select pg_sleep(${HOLD_SECONDS})`.execute(), conn`commit`.execute()]);
  done.catch(() => undefined); // awaited by the caller; this only marks it handled meanwhile
  return { begun, done };
}

/**
 * Probes for transaction pooling on `sql`: a pool of at least PROBE_POOL_SIZE connections without
 * prepared statements, not used by anything else meanwhile.
 */
export async function probeTransactionPooler(sql: Sql): Promise<PoolerProbe> {
  const probe = await sql.reserve();
  const holders: Reserved[] = [];
  try {
    for (let i = 0; i < HOLDERS; i++) holders.push(await sql.reserve());
    await Promise.all(holders.map(backendPid)); // connected before B's first read
    // B's backend is now the one handed back last, which a pooler gives out first.
    const pids = [await backendPid(probe)];
    for (let round = 0; round < ROUNDS; round++) {
      const held = holders.map(holdTransaction);
      await Promise.all(held.map((hold) => hold.begun));
      pids.push(await backendPid(probe));
      await Promise.all(held.map((hold) => hold.done));
      if (pids.some((pid) => pid !== pids[0])) return { transactionPooling: true, pids };
    }
    return { transactionPooling: false, pids };
  } finally {
    for (const holder of holders) holder.release();
    probe.release();
  }
}

/** Whether `options`' DSN leads through a transaction pooler, probed on its own short-lived pool. */
export async function detectTransactionPooler(options: Omit<DbOptions, "poolSize" | "prepare">): Promise<boolean> {
  const sql = await connectDb({ ...options, poolSize: PROBE_POOL_SIZE, prepare: false });
  try {
    return (await probeTransactionPooler(sql)).transactionPooling;
  } finally {
    await closeDb(sql, 1);
  }
}
