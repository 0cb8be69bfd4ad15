// The compiled binary as a user runs it: version, help, exit codes.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { runBinary } from "../helpers/binary.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

describe("reproq --version", () => {
  test("prints the package.json version with no database and no config", async () => {
    // An unreachable DSN and a proxy that goes nowhere: --version must not care.
    const cwd = mkdtempSync(join(tmpdir(), "reproq-version-"));
    const env = { HTTP_PROXY: "http://127.0.0.1:9", HTTPS_PROXY: "http://127.0.0.1:9" };
    for (const args of [["--version"], ["version"]]) {
      const started = performance.now();
      const result = await runBinary(args, { env, cwd });
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toBe(`reproq version ${pkg.version}\n`);
      expect(result.stderr).toBe("");
      expect(performance.now() - started).toBeLessThan(5_000);
    }
  });
});

describe("help and usage errors", () => {
  test("--help lists only built commands and exits 0", async () => {
    const result = await runBinary(["--help"]);
    expect(result.exitCode).toBe(0);
    const built = ["worker", "beat", "enqueue", "triage", "replay", "cancel", "prune", "limit", "queue", "migrate", "doctor", "config", "version", "demo", "top"];
    for (const command of built) expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
    // Hidden commands (the bun executor's child) must not be advertised.
    for (const hidden of ["exec"]) expect(result.stdout).not.toMatch(new RegExp(`^  ${hidden}\\b`, "m"));
  });

  test("every command answers --help with exit 0", async () => {
    for (const command of [["worker"], ["beat"], ["enqueue"], ["triage"], ["triage", "retry"], ["replay"], ["cancel"], ["prune", "expired"], ["limit", "set"], ["queue", "ls"], ["migrate"], ["doctor"], ["config"], ["version"]]) {
      const result = await runBinary([...command, "--help"]);
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toContain(`reproq ${command.join(" ")}`);
      expect(result.stdout).toContain("Usage:");
    }
  });

  test("unknown command, unknown flag and missing value exit 2 with one clear line", async () => {
    const cases: [string[], string][] = [
      [[], "missing command for 'reproq'"],
      [["bogus"], 'unknown command "bogus"'],
      [["migrate", "--bogus"], "unknown flag --bogus for 'reproq migrate'"],
      [["migrate", "--dsn"], "flag --dsn needs a value"],
      [["migrate", "stray"], 'unexpected argument "stray"'],
    ];
    for (const [args, message] of cases) {
      const result = await runBinary(args);
      expect(result.exitCode).toBe(2);
      expect(result.stderr.split("\n")[0]).toContain(message);
      expect(result.stderr).not.toContain("    at ");
    }
  });
});
