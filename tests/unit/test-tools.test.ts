// The test tooling's own promises: a test whose system tool is missing is skipped with the reason,
// or fails under CI=true; scripts/test-setup.ts installs missing tools with apt-get as root (a
// fake apt-get here: it records its arguments) and says what it installs.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../helpers/binary.ts";
import { testWithTools, TOOLS } from "../helpers/tools.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** An empty directory to use as PATH: no tool is found on it. */
function emptyBin(): string {
  const dir = mkdtempSync(join(tmpdir(), "reproq-tools-"));
  dirs.push(dir);
  return dir;
}

function run(args: string[], env: Record<string, string | undefined>): { code: number; out: string } {
  const base: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key !== "CI") base[key] = value;
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete base[key];
  else base[key] = value;
  const child = Bun.spawnSync([process.execPath, ...args], { cwd: ROOT, env: base, stdout: "pipe", stderr: "pipe" });
  return { code: child.exitCode ?? -1, out: child.stdout.toString() + child.stderr.toString() };
}

const FIXTURE = "./tests/unit/fixtures/needs-tmux.ts";

describe("describeWithTools", () => {
  test("a missing tool: the block is skipped and the reason printed", () => {
    const { code, out } = run(["test", FIXTURE], { PATH: emptyBin(), CI: undefined });
    expect(out).toContain('skipped "a block that needs tmux": tmux is not on PATH');
    expect(out).toContain("apt-get install -y tmux");
    expect(out).toMatch(/ 1 skip\n/);
    expect(out).toMatch(/ 0 fail\n/);
    expect(code).toBe(0);
  });

  test("a missing tool under CI=true: a failing test that names it", () => {
    const { code, out } = run(["test", FIXTURE], { PATH: emptyBin(), CI: "true" });
    expect(out).toContain("a block that needs tmux: tmux is not on PATH");
    expect(out).toContain("CI must run these tests, not skip them.");
    expect(out).toMatch(/ 1 fail\n/);
    expect(out).not.toMatch(/ [1-9]\d* skip\n/);
    expect(code).not.toBe(0);
  });

  testWithTools(["tmux"])("the tool present: the block runs", () => {
    const { code, out } = run(["test", FIXTURE], { CI: "true" });
    expect(out).toMatch(/ 1 pass\n/);
    expect(code).toBe(0);
  });
});

describe("scripts/test-setup.ts", () => {
  /** A PATH holding only a fake apt-get that appends its arguments to a log. */
  function fakeApt(): { bin: string; log: string } {
    const bin = emptyBin();
    const log = join(bin, "apt.log");
    writeFileSync(join(bin, "apt-get"), `#!/bin/sh\necho "$*" >> '${log}'\n`);
    chmodSync(join(bin, "apt-get"), 0o755);
    return { bin, log };
  }
  const onPathTools = Object.values(TOOLS).filter((tool) => !tool.name.includes("("));

  test("as root: installs what is missing with apt-get (update first) and says so", () => {
    if (process.getuid?.() !== 0) return; // the non-root branch is the next test
    const { bin, log } = fakeApt();
    const { code, out } = run(["run", "scripts/test-setup.ts"], { PATH: bin });
    expect(code).toBe(0);
    const calls = readFileSync(log, "utf8").trim().split("\n");
    expect(calls[0]).toBe("update -qq");
    for (const tool of onPathTools) expect(calls[1]).toContain(tool.debianPackage);
    expect(calls[1]).toStartWith("install -y -qq --no-install-recommends ");
    expect(out).toContain("test setup: installing ");
    // The fake installed nothing: the script says what is still missing, and does not fail.
    expect(out).toContain("test setup: still missing python3 (python3 is not on PATH), tmux (tmux is not on PATH)");
  });

  test("not root, or no apt-get: names what is missing and how to install it", () => {
    const { code, out } = run(["run", "scripts/test-setup.ts"], { PATH: emptyBin() });
    expect(code).toBe(0);
    expect(out).toContain("test setup: missing python3, tmux, shellcheck");
    expect(out).toMatch(/apt-get install -y python3 tmux shellcheck postgresql-client pgbouncer openssl/);
  });

  test("REPROQ_TEST_SETUP=skip leaves the machine alone", () => {
    const { bin, log } = fakeApt();
    const { code, out } = run(["run", "scripts/test-setup.ts"], { PATH: bin, REPROQ_TEST_SETUP: "skip" });
    expect(code).toBe(0);
    expect(out).toBe("");
    expect(() => readFileSync(log, "utf8")).toThrow();
  });
});
