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
