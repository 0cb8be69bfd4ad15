// Rate-limit buckets (rate_limits): key → tokens/second, burst, stored token count. The claim
// refills buckets lazily (claim-sql.ts); these statements are the operator's view and controls.
// rate_limits is created by `reproq migrate` only (Django does not manage it), but every insert
// still names every column.

import type { Queryable } from "../db/client.ts";

export interface RateLimitRow {
  key: string;
  tokensPerSecond: number;
  burstSize: number;
  /** The bucket as the claim would see it now: LEAST(burst, stored + elapsed × rate), DB clock. */
  currentTokens: number;
  /** The stored (last written) token count. */
  storedTokens: number;
  lastRefilledAt: Date;
}

// Upserts one bucket and refills it completely (current_tokens = burst, last_refilled_at = NOW()),
// like Go's SetRateLimit. Locks the one row; idempotent. Returns the stored row.
export async function rateLimitSet(sql: Queryable, params: { key: string; tokensPerSecond: number; burstSize: number }): Promise<RateLimitRow> {
  const [row] = await sql<RateLimitRow[]>`
    insert into rate_limits (key, tokens_per_second, burst_size, current_tokens, last_refilled_at)
    values (${params.key}, ${params.tokensPerSecond}::float8::real, ${params.burstSize}::int, ${params.burstSize}::int::real, now())
    on conflict (key) do update set
      tokens_per_second = excluded.tokens_per_second,
      burst_size = excluded.burst_size,
      current_tokens = excluded.current_tokens,
      last_refilled_at = excluded.last_refilled_at
    returning key, tokens_per_second::float8 as "tokensPerSecond", burst_size as "burstSize",
              current_tokens::float8 as "currentTokens", current_tokens::float8 as "storedTokens",
              last_refilled_at as "lastRefilledAt"`;
  return row!;
}

// Reads every bucket ordered by key, with the refilled count computed on the DB clock (the same
// formula as the claim). Locks nothing, changes nothing.
export async function rateLimitList(sql: Queryable): Promise<RateLimitRow[]> {
  return sql<RateLimitRow[]>`
    select key,
           tokens_per_second::float8 as "tokensPerSecond",
           burst_size as "burstSize",
           least(burst_size::float8,
                 current_tokens::float8
                   + greatest(0, extract(epoch from now() - last_refilled_at))::float8 * tokens_per_second::float8)
             as "currentTokens",
           current_tokens::float8 as "storedTokens",
           last_refilled_at as "lastRefilledAt"
    from rate_limits
    order by key`;
}

// Deletes the bucket with this exact key. Idempotent; returns the number of rows deleted (0 or 1).
export async function rateLimitDelete(sql: Queryable, params: { key: string }): Promise<number> {
  const result = await sql`delete from rate_limits where key = ${params.key}`;
  return result.count;
}
