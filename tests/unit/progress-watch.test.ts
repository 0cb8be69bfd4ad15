// ProgressWatch: a waiting attempt counts from its start, failures from the first one since the
// last success; a success or the end of every attempt clears it.
import { expect, test } from "bun:test";
import { ProgressWatch } from "../../src/observability/progress.ts";

test("an attempt still waiting counts from when it began; ending it clears the stall", () => {
  const watch = new ProgressWatch();
  expect(watch.stalledMs()).toBe(0);
  const endFirst = watch.begin();
  const started = performance.now();
  const endSecond = watch.begin();
  expect(watch.pendingCount).toBe(2);
  expect(watch.stalledMs(started + 5_000)).toBeGreaterThanOrEqual(5_000);
  endFirst();
  endSecond();
  expect(watch.pendingCount).toBe(0);
  expect(watch.stalledMs(started + 5_000)).toBe(0);
});

test("failures count from the first failure until a success", async () => {
  const watch = new ProgressWatch();
  await expect(watch.track(() => Promise.reject(new Error("down")))).rejects.toThrow("down");
  const first = performance.now();
  await expect(watch.track(() => Promise.reject(new Error("still down")))).rejects.toThrow("still down");
  expect(watch.stalledMs(first + 10_000)).toBeGreaterThanOrEqual(9_999);
  expect(await watch.track(async () => 7)).toBe(7);
  expect(watch.stalledMs(first + 10_000)).toBe(0);
});
