// taskClaimBatch's per-key limits on both schema flavours: lock_key exclusivity, concurrency_key
// limits, rate-limit buckets (precedence, shadowing, exact token use, no head-of-line blocking,
// lazy refill) and batches mixing keyed and unkeyed rows.

import { afterAll, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { taskClaimBatch } from "../../src/queue/claim.ts";
import type { TestDatabase } from "../helpers/db.ts";
import { claimParams, finishRows, FLAVOURS, insertRows, openDatabase, resetTables, setRateLimit } from "./claim-fixtures.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

describe.each(FLAVOURS)("claim limits (%s schema)", (flavour) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openDatabase(flavour);
  });
  afterAll(() => db?.drop());
  beforeEach(() => resetTables(db.sql));

  const claimIds = async (overrides = {}) => (await taskClaimBatch(db.sql, claimParams(overrides))).map((t) => t.resultId);
  const tokens = async (key: string) => {
    const [row] = await db.sql<{ current: number }[]>`SELECT current_tokens::float8 AS current FROM rate_limits WHERE key = ${key}`;
    return row!.current;
  };

  test("lock_key: one row per key per batch, none while one is RUNNING", async () => {
    const [first, second, free] = await insertRows(db.sql, [
      { lockKey: "user:1", ageSeconds: 20 }, { lockKey: "user:1", ageSeconds: 10 }, { ageSeconds: 5 },
    ]);
    expect(await claimIds()).toEqual([first!, free!]);
    expect(await claimIds()).toEqual([]);
    await finishRows(db.sql, [first!]);
    expect(await claimIds()).toEqual([second!]);
  });

  test("lock_key is checked across queues, and '' is a key like any other", async () => {
    const [a, b, empty1, empty2] = await insertRows(db.sql, [
      { queue: "q1", lockKey: "k" }, { queue: "q2", lockKey: "k" }, { lockKey: "" }, { lockKey: "" },
    ]);
    expect(await claimIds({ queues: ["q1"] })).toEqual([a!]);
    expect(await claimIds({ queues: ["q2"] })).toEqual([]);
    expect(await claimIds()).toEqual([empty1!]);
    await finishRows(db.sql, [a!, empty1!]);
    expect(await claimIds({ queues: ["q2", "default"] })).toEqual([b!, empty2!]);
  });

  test("concurrency_key limit 2 with 10 READY rows: exactly 2, then one per finished row", async () => {
    const ids = await insertRows(db.sql, Array.from({ length: 10 }, (_, i) => ({
      concurrencyKey: "api", concurrencyLimit: 2, ageSeconds: 100 - i,
    })));
    expect(await claimIds()).toEqual(ids.slice(0, 2));
    expect(await claimIds()).toEqual([]);
    await finishRows(db.sql, [ids[0]!]);
    expect(await claimIds()).toEqual([ids[2]!]);
  });

  test("concurrency: an empty key or a limit ≤ 0 means unlimited; a full key does not block others", async () => {
    await insertRows(db.sql, [
      ...Array.from({ length: 3 }, () => ({ concurrencyKey: "", concurrencyLimit: 1 })),
      ...Array.from({ length: 3 }, () => ({ concurrencyKey: "x", concurrencyLimit: 0 })),
      ...Array.from({ length: 3 }, () => ({ concurrencyKey: "one", concurrencyLimit: 1, ageSeconds: 50 })),
    ]);
    const claimed = await taskClaimBatch(db.sql, claimParams());
    expect(claimed).toHaveLength(7);
    expect(claimed.filter((t) => t.concurrencyKey === "one")).toHaveLength(1);
  });

  test("rate limit: task:<path> shadows queue:<name> (even at rate 0); queue: shadows global", async () => {
    await setRateLimit(db.sql, "queue:default", { rate: 0.001, burst: 1, current: 0 });
    await setRateLimit(db.sql, "task:app.free", { rate: 0, burst: 1, current: 0 });
    await setRateLimit(db.sql, "global", { rate: 1000, burst: 1000 });
    const [free1, free2, limited] = await insertRows(db.sql, [
      { taskPath: "app.free" }, { taskPath: "app.free" }, { taskPath: "app.other" },
    ]);
    expect((await claimIds()).sort()).toEqual([free1!, free2!].sort());
    // global is full but shadowed by the empty queue bucket.
    expect(await claimIds()).toEqual([]);
    expect(await tokens("global")).toBe(1000);
    await setRateLimit(db.sql, "queue:default", { rate: 0, burst: 1 });
    expect(await claimIds()).toEqual([limited!]);
  });

  test("rate limit: each claimed row takes exactly one token; the rest wait", async () => {
    await setRateLimit(db.sql, "queue:default", { rate: 0.0001, burst: 3, current: 3 });
    const ids = await insertRows(db.sql, Array.from({ length: 10 }, (_, i) => ({ ageSeconds: 100 - i })));
    expect(await claimIds()).toEqual(ids.slice(0, 3));
    expect(await tokens("queue:default")).toBeLessThan(0.01);
    expect(await tokens("queue:default")).toBeGreaterThanOrEqual(0);
    expect(await claimIds()).toEqual([]);
  });

  test("rate limit: the global bucket applies when no task/queue key exists", async () => {
    await setRateLimit(db.sql, "global", { rate: 0.0001, burst: 2, current: 2 });
    await insertRows(db.sql, Array.from({ length: 5 }, (_, i) => ({ queue: i % 2 ? "a" : "b" })));
    expect(await claimIds({ queues: ["a", "b"] })).toHaveLength(2);
    expect(await claimIds({ queues: ["a", "b"] })).toHaveLength(0);
  });

  test("rate limit: a throttled key does not block rows behind it (no head-of-line blocking)", async () => {
    await setRateLimit(db.sql, "task:app.slow", { rate: 0.001, burst: 1, current: 0 });
    await insertRows(db.sql, Array.from({ length: 50 }, () => ({ taskPath: "app.slow", priority: 9, ageSeconds: 500 })));
    const others = await insertRows(db.sql, Array.from({ length: 3 }, () => ({ taskPath: "app.fast" })));
    expect((await claimIds({ limit: 5 })).sort()).toEqual([...others].sort());
  });

  test("rate limit: tokens refill lazily from last_refilled_at, capped at burst", async () => {
    await setRateLimit(db.sql, "queue:default", { rate: 2, burst: 5, current: 0, lastRefilledSecondsAgo: 1 });
    await insertRows(db.sql, Array.from({ length: 20 }, () => ({})));
    expect(await claimIds({ limit: 20 })).toHaveLength(2); // 0 + 1 s × 2/s
    await setRateLimit(db.sql, "queue:default", { rate: 2, burst: 5, current: 0, lastRefilledSecondsAgo: 100 });
    expect(await claimIds({ limit: 20 })).toHaveLength(5); // capped at burst
    await setRateLimit(db.sql, "queue:default", { rate: 20, burst: 5, current: 0 });
    expect(await claimIds({ limit: 20 })).toHaveLength(0);
    await Bun.sleep(120); // ≥ 2.4 tokens by the DB clock
    expect((await claimIds({ limit: 20 })).length).toBeGreaterThanOrEqual(2);
  });

  test("a batch mixing keyed and unkeyed rows claims all that qualify, in rank order", async () => {
    const ids = await insertRows(db.sql, [
      { ageSeconds: 60 }, { lockKey: "k", ageSeconds: 50 }, { lockKey: "k", ageSeconds: 40 },
      { concurrencyKey: "c", concurrencyLimit: 1, ageSeconds: 30 }, { ageSeconds: 20 },
      { concurrencyKey: "c", concurrencyLimit: 1, ageSeconds: 10 },
    ]);
    const claimed = await taskClaimBatch(db.sql, claimParams({ priorityAgingFactor: 60 }));
    expect(claimed.map((t) => t.resultId)).toEqual([ids[0]!, ids[1]!, ids[3]!, ids[4]!]);
    expect(claimed.every((t) => t.attempts === 1)).toBe(true);
  });

  test("a concurrency key shared by rows with different limits uses each row's own limit", async () => {
    const ids = await insertRows(db.sql, [
      { concurrencyKey: "mix", concurrencyLimit: 3, ageSeconds: 30 },
      { concurrencyKey: "mix", concurrencyLimit: 1, ageSeconds: 20 },
      { concurrencyKey: "mix", concurrencyLimit: 3, ageSeconds: 10 },
    ]);
    // Row 2 would be the second RUNNING row of the key, over its own limit 1.
    expect(await claimIds()).toEqual([ids[0]!, ids[2]!]);
  });
});
