// The idle collector (observability/memory.ts): one full collection per idle stretch, only once
// nothing runs and the last claim is idleMs old; never while a task runs or before any work.
import { expect, test } from "bun:test";
import { runIdleCollector, type WorkActivity } from "../../src/observability/memory.ts";
import { memoryLogger, type LogLine } from "../helpers/memory-logger.ts";

const IDLE_MS = 60;

test("collects once after each stretch of work, never while a task runs", async () => {
  const lines: LogLine[] = [];
  const work: { runningCount: number; lastClaimAt: Date | null } = { runningCount: 0, lastClaimAt: null };
  const stop = new AbortController();
  const collector = runIdleCollector(work as WorkActivity, memoryLogger(lines), stop.signal, IDLE_MS);
  const collections = () => lines.filter((line) => line.msg === "Idle: memory handed back").length;
  try {
    await Bun.sleep(IDLE_MS * 6);
    expect(collections()).toBe(0); // no work yet

    work.lastClaimAt = new Date();
    work.runningCount = 2;
    await Bun.sleep(IDLE_MS * 6);
    expect(collections()).toBe(0); // a task is still running

    work.runningCount = 0;
    await Bun.sleep(IDLE_MS * 6);
    expect(collections()).toBe(1);
    await Bun.sleep(IDLE_MS * 6);
    expect(collections()).toBe(1); // once per idle stretch

    work.lastClaimAt = new Date();
    await Bun.sleep(IDLE_MS * 6);
    expect(collections()).toBe(2);
    expect(lines.at(-1)?.attrs).toMatchObject({ rss_before_bytes: expect.any(Number), rss_bytes: expect.any(Number), gc_ms: expect.any(Number) });
  } finally {
    stop.abort();
    await collector;
  }
});
