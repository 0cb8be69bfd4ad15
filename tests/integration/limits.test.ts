// Rate-limit statements (src/queue/limits.ts) on both schemas: set refills, ls computes the
// refilled count on the DB clock, rm counts rows.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { rateLimitDelete, rateLimitList, rateLimitSet } from "../../src/queue/limits.ts";
import { TASK_SCHEMAS, useTaskDatabase } from "../helpers/tasks.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

describe.each(TASK_SCHEMAS)("rate limits (%s schema)", (schema) => {
  const sql = useTaskDatabase(schema);

  test("the seeded global row is listed", async () => {
    const rows = await rateLimitList(sql());
    const global = rows.find((row) => row.key === "global");
    expect(global).toMatchObject({ tokensPerSecond: 0, burstSize: 1, currentTokens: 0 });
  });

  test("set inserts a full bucket, and a second set updates and refills it", async () => {
    const first = await rateLimitSet(sql(), { key: "queue:emails", tokensPerSecond: 5, burstSize: 10 });
    expect(first).toMatchObject({ key: "queue:emails", tokensPerSecond: 5, burstSize: 10, currentTokens: 10 });
    await sql()`update rate_limits set current_tokens = 0, last_refilled_at = now() where key = 'queue:emails'`;
    const second = await rateLimitSet(sql(), { key: "queue:emails", tokensPerSecond: 0.5, burstSize: 3 });
    expect(second).toMatchObject({ tokensPerSecond: 0.5, burstSize: 3, currentTokens: 3 });
    const [row] = await sql()<{ n: number; age: number }[]>`
      select count(*)::int as n, max(extract(epoch from now() - last_refilled_at))::float8 as age
      from rate_limits where key = 'queue:emails'`;
    expect(row!.n).toBe(1);
    expect(row!.age).toBeLessThan(5);
  });

  test("ls shows the refilled count, not the stored one, capped at burst", async () => {
    await rateLimitSet(sql(), { key: "task:a.b", tokensPerSecond: 2, burstSize: 100 });
    await rateLimitSet(sql(), { key: "task:capped", tokensPerSecond: 2, burstSize: 5 });
    await rateLimitSet(sql(), { key: "task:zero-rate", tokensPerSecond: 0, burstSize: 5 });
    await sql()`update rate_limits set current_tokens = 1, last_refilled_at = now() - interval '10 seconds'
                where key in ('task:a.b', 'task:capped', 'task:zero-rate')`;
    const rows = await rateLimitList(sql());
    const byKey = Object.fromEntries(rows.map((row) => [row.key, row]));
    expect(byKey["task:a.b"]!.storedTokens).toBe(1);
    expect(byKey["task:a.b"]!.currentTokens).toBeGreaterThanOrEqual(21);
    expect(byKey["task:a.b"]!.currentTokens).toBeLessThan(31);
    expect(byKey["task:capped"]!.currentTokens).toBe(5);
    expect(byKey["task:zero-rate"]!.currentTokens).toBe(1);
    expect(rows.map((row) => row.key)).toEqual([...rows.map((row) => row.key)].sort());
  });

  test("a future last_refilled_at (clock skew) never lowers the count", async () => {
    await rateLimitSet(sql(), { key: "skew", tokensPerSecond: 1, burstSize: 4 });
    await sql()`update rate_limits set current_tokens = 2, last_refilled_at = now() + interval '1 hour' where key = 'skew'`;
    const row = (await rateLimitList(sql())).find((r) => r.key === "skew");
    expect(row!.currentTokens).toBe(2);
  });

  test("rm deletes exactly the key and reports 0 the second time", async () => {
    await rateLimitSet(sql(), { key: "queue:gone", tokensPerSecond: 1, burstSize: 1 });
    await rateLimitSet(sql(), { key: "queue:gone2", tokensPerSecond: 1, burstSize: 1 });
    expect(await rateLimitDelete(sql(), { key: "queue:gone" })).toBe(1);
    expect(await rateLimitDelete(sql(), { key: "queue:gone" })).toBe(0);
    const keys = (await rateLimitList(sql())).map((row) => row.key);
    expect(keys).not.toContain("queue:gone");
    expect(keys).toContain("queue:gone2");
  });
});
