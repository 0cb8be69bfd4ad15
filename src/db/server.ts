import type { Sql } from "./client.ts";

export interface ServerInfo {
  /** e.g. "15.20 (Debian 15.20-0+deb12u1)" */
  version: string;
  /** e.g. 150020 */
  versionNumber: number;
  database: string;
  user: string;
}

/** The oldest server release reproq supports (transition tables, DROP INDEX CONCURRENTLY, make_interval). */
export const MIN_SERVER_VERSION = 120000;

/** Reads the server version and session identity. Read-only, no locks. */
export async function serverInfo(sql: Sql): Promise<ServerInfo> {
  const [row] = await sql<{ version: string; num: string; database: string; user: string }[]>`
    select current_setting('server_version') as version, current_setting('server_version_num') as num,
           current_database()::text as database, current_user::text as user`;
  if (!row) throw new Error("server info query returned no row");
  return { version: row.version, versionNumber: Number(row.num), database: row.database, user: row.user };
}

/** One round trip (`SELECT 1`); resolves with the latency in milliseconds or rejects. */
export async function ping(sql: Sql, timeoutMs: number): Promise<number> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`database did not answer within ${timeoutMs / 1000}s`)), timeoutMs);
  });
  try {
    await Promise.race([sql`select 1`, timeout]);
    return performance.now() - started;
  } finally {
    clearTimeout(timer);
  }
}
