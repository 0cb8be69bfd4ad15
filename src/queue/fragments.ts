// SQL fragments shared by several queue/ statements. Each is built on the handle of the statement
// that embeds it (pool, reserved connection or transaction).

import type { Queryable } from "../db/client.ts";

/**
 * The DB clock as ISO-8601 UTC with a trailing Z and microseconds (`2026-01-01T12:00:00.123456Z`):
 * the `at` of every errors_json entry we write, so entries sort and compare as text.
 */
export function utcNowText(sql: Queryable) {
  return sql`to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/**
 * SET items for a RUNNING row whose worker is gone (lease expiry, dead-worker rescue): READY at
 * NOW(), or FAILED (finished_at, failed_at) when the caller's row source `e` says `e.exhausted`;
 * the lease is cleared either way. The caller adds last_error and errors_json.
 */
export function runningRowReleased(sql: Queryable) {
  return sql`
      status = case when e.exhausted then 'FAILED' else 'READY' end,
      run_after = case when e.exhausted then null else now() end,
      finished_at = case when e.exhausted then now() end,
      failed_at = case when e.exhausted then now() end,
      leased_until = null,
      leased_by = null,
      updated_at = now()`;
}
