// What the worker does with prepare/listen once a transaction pooler is (or is not) detected,
// for every way a setting can be given: default, flag, environment, config file.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type Config } from "../../src/config/index.ts";
import { poolerVerdict, refusalMessage, switchMessage, withoutSessionState } from "../../src/worker/pooler-guard.ts";

const dir = mkdtempSync(join(tmpdir(), "reproq-pooler-guard-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(flags: Record<string, string | boolean> = {}, env: Record<string, string> = {}): Promise<Config> {
  return loadConfig({ scope: "worker", flags, env, cwd: dir });
}

describe("poolerVerdict", () => {
  test("no pooler: nothing changes whatever the settings", async () => {
    expect(poolerVerdict(await load({ prepare: true }), false)).toEqual({ kind: "none" });
  });

  test("defaults are switched off, and the switched config has neither", async () => {
    const config = await load();
    expect(poolerVerdict(config, true)).toEqual({ kind: "switch", settings: ["database.prepare", "worker.listen"] });
    const safe = withoutSessionState(config);
    expect([safe.database.prepare, safe.worker.listen]).toEqual([false, false]);
    expect(poolerVerdict(safe, true)).toEqual({ kind: "safe" });
    expect(switchMessage()).toContain("--no-prepare --no-listen");
  });

  test("both off explicitly: safe, no warning", async () => {
    expect(poolerVerdict(await load({ prepare: false, listen: false }), true)).toEqual({ kind: "safe" });
  });

  test("explicit true from a flag, the environment or the config file is refused, naming where it came from", async () => {
    expect(poolerVerdict(await load({ prepare: true }), true)).toEqual({ kind: "refuse", settings: ["database.prepare = true (flag --prepare)"] });
    expect(poolerVerdict(await load({}, { REPROQ_LISTEN: "true" }), true)).toEqual({ kind: "refuse", settings: ["worker.listen = true (env REPROQ_LISTEN)"] });
    const file = join(dir, "reproq.toml");
    writeFileSync(file, "[database]\nprepare = true\n");
    const verdict = poolerVerdict(await load({ config: file }), true);
    expect(verdict.kind).toBe("refuse");
    expect(verdict.kind === "refuse" && verdict.settings[0]).toContain("database.prepare = true (file ");
    expect(refusalMessage(["database.prepare = true (flag --prepare)"])).toContain("Use --no-prepare --no-listen");
  });
});
