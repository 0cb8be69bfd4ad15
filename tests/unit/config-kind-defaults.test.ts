// Concurrency and claim batch defaults sized for the executor kind; a value set anywhere wins.
import { describe, expect, test } from "bun:test";
import { explainConfig, sourcePhrase } from "../../src/config/index.ts";
import { load, tempDir } from "../helpers/config.ts";

describe("executor-sized defaults", () => {
  test("bun-inprocess gets more slots and bigger claims, and `reproq config` says why", async () => {
    const config = await load({ flags: { executor: "bun-inprocess" } });
    expect(config.worker).toMatchObject({ concurrency: 100, claimBatchSize: 200, shortTaskBoundMs: 0 });
    const shown = explainConfig(config, "worker").find((s) => s.key === "worker.concurrency");
    expect(shown).toMatchObject({ value: "100", source: "default for bun-inprocess" });
    expect(sourcePhrase(config, "worker.claim_batch_size")).toBe("(default for bun-inprocess)");
  });

  test("process kinds keep concurrency = process slots (the general default)", async () => {
    for (const executor of ["python", "python-pool", "bun", "command"]) {
      const flags = executor === "command" ? { executor, "executor-command": "/bin/true" } : { executor };
      const config = await load({ flags });
      expect(config.worker).toMatchObject({ concurrency: 10, claimBatchSize: 100, shortTaskBoundMs: 0 });
    }
  });

  test("a value from a flag, env or the file wins over the kind's default", async () => {
    expect((await load({ flags: { executor: "bun-inprocess", concurrency: "7" } })).worker.concurrency).toBe(7);
    expect((await load({ flags: { executor: "bun-inprocess" }, env: { REPROQ_CLAIM_BATCH_SIZE: "30" } })).worker.claimBatchSize).toBe(30);
    const cwd = tempDir({ "reproq.yaml": "worker:\n  executor: bun-inprocess\n  concurrency: 12\n" });
    expect((await load({ cwd })).worker).toMatchObject({ concurrency: 12, claimBatchSize: 200 });
    expect((await load({ flags: { executor: "bun-inprocess", "short-task-bound": "50ms" } })).worker.shortTaskBoundMs).toBe(50);
    expect((await load({ flags: { executor: "python", "short-task-bound": "20ms" } })).worker.shortTaskBoundMs).toBe(20);
  });

  test("short_task_bound is at most 100ms, and the error names the unit", async () => {
    await expect(load({ flags: { "short-task-bound": "101ms" } })).rejects.toThrow("worker.short_task_bound must be a duration between 0 and 100ms, got 101ms");
  });
});
