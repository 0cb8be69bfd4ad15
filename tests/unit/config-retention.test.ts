// The worker's retention settings ([retention]): off by default, reachable by file, env and flag
// (SPEC §4.1), durations with days, statuses limited to finished ones. No database.

import { describe, expect, test } from "bun:test";
import { parseAgeDuration } from "../../src/config/duration.ts";
import { configArgs } from "../../src/config/index.ts";
import { load, problemsOf, tempDir } from "../helpers/config.ts";

const DAY_MS = 86_400_000;

describe("retention settings", () => {
  test("off by default; all finished statuses, 5m interval, 1000-row batches", async () => {
    const config = await load();
    expect(config.retention).toEqual({ finishedOlderThanMs: 0, statuses: ["SUCCESSFUL", "FAILED", "CANCELLED"], intervalMs: 300_000, batchSize: 1000 });
  });

  test("file (YAML and TOML) < env < flag, each named in sources", async () => {
    const yaml = tempDir({ "reproq.yaml": "retention:\n  finished_older_than: 14d\n  statuses: [SUCCESSFUL]\n  interval: 1m\n  batch_size: 2500\n" });
    const fromFile = await load({ cwd: yaml });
    expect(fromFile.retention).toEqual({ finishedOlderThanMs: 14 * DAY_MS, statuses: ["SUCCESSFUL"], intervalMs: 60_000, batchSize: 2500 });
    expect(fromFile.sources["retention.finished_older_than"]).toBe("file reproq.yaml");

    const toml = tempDir({ "reproq.toml": '[retention]\nfinished_older_than = "30d"\nstatuses = ["FAILED", "cancelled"]\n' });
    expect((await load({ cwd: toml })).retention).toMatchObject({ finishedOlderThanMs: 30 * DAY_MS, statuses: ["FAILED", "CANCELLED"] });

    const env = {
      REPROQ_RETENTION_FINISHED_OLDER_THAN: "36h",
      REPROQ_RETENTION_STATUSES: "successful, failed",
      REPROQ_RETENTION_INTERVAL: "30s",
      REPROQ_RETENTION_BATCH_SIZE: "5000",
    };
    const fromEnv = await load({ cwd: yaml, env });
    expect(fromEnv.retention).toEqual({ finishedOlderThanMs: 36 * 3_600_000, statuses: ["SUCCESSFUL", "FAILED"], intervalMs: 30_000, batchSize: 5000 });
    expect(fromEnv.sources["retention.statuses"]).toBe("env REPROQ_RETENTION_STATUSES");

    const flags = {
      "retention-finished-older-than": "1d12h",
      "retention-statuses": "CANCELLED",
      "retention-interval": "10m",
      "retention-batch-size": "100",
    };
    const fromFlags = await load({ cwd: yaml, env, flags });
    expect(fromFlags.retention).toEqual({ finishedOlderThanMs: 36 * 3_600_000, statuses: ["CANCELLED"], intervalMs: 600_000, batchSize: 100 });
    expect(fromFlags.sources["retention.finished_older_than"]).toBe("flag --retention-finished-older-than");
  });

  test("the worker has the flags; utility commands do not", () => {
    expect(Object.keys(configArgs("worker"))).toEqual(expect.arrayContaining(["retention-finished-older-than", "retention-statuses", "retention-interval", "retention-batch-size"]));
    expect(Object.keys(configArgs("db"))).not.toContain("retention-finished-older-than");
  });

  test("bad values name the setting, the value and what is allowed", async () => {
    expect(await problemsOf({ env: { REPROQ_RETENTION_FINISHED_OLDER_THAN: "2 weeks" } })).toEqual([
      'retention.finished_older_than must be a duration like 14d, 12h or 90m, got "2 weeks" (from REPROQ_RETENTION_FINISHED_OLDER_THAN)',
    ]);
    expect(await problemsOf({ flags: { "retention-statuses": "SUCCESSFUL,RUNNING" } })).toEqual([
      "retention.statuses may only name SUCCESSFUL, FAILED, CANCELLED (READY, RUNNING and WAITING rows are never pruned), got SUCCESSFUL,RUNNING (from --retention-statuses)",
    ]);
    expect(await problemsOf({ flags: { "retention-batch-size": "0" } })).toEqual([
      "retention.batch_size must be an integer between 1 and 50000, got 0 (from --retention-batch-size)",
    ]);
    expect(await problemsOf({ flags: { "retention-interval": "0s" } })).toEqual([
      "retention.interval must be a duration > 0, got 0s (from --retention-interval)",
    ]);
  });
});

describe("parseAgeDuration", () => {
  test.each([
    ["14d", 14 * DAY_MS],
    ["1d12h", 36 * 3_600_000],
    ["1.5d", 36 * 3_600_000],
    ["36h", 36 * 3_600_000],
    ["90m", 5_400_000],
    ["0", 0],
  ])("%s", (text, ms) => expect(parseAgeDuration(text)).toBe(ms));

  test.each(["d", "14", "14 d", "2w", "1d-2h", ""])("%p is rejected", (text) => {
    expect(() => parseAgeDuration(text)).toThrow();
  });
});
