// Configuration through the compiled binary: precedence, discovery, and invalid settings that
// must fail with exit 2 before any connection is attempted.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { ROOT, runBinary } from "../helpers/binary.ts";
import { tempDir } from "../helpers/config.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

interface ConfigJson {
  config_file: string | null;
  warnings: string[];
  settings: Record<string, { value: string; source: string }>;
}

async function effective(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<ConfigJson> {
  const result = await runBinary(["config", "--json", ...args], options);
  expect(result.stderr).toBe("");
  expect(result.exitCode).toBe(0);
  return JSON.parse(result.stdout) as ConfigJson;
}

describe("precedence and discovery", () => {
  test("flag beats env beats file beats default", async () => {
    const cwd = tempDir({ "reproq.yaml": "worker:\n  concurrency: 3\n  lease_seconds: 120\n  heartbeat_seconds: 20\n" });
    const all = await effective(["--for", "worker", "--concurrency", "7"], { cwd, env: { REPROQ_CONCURRENCY: "5", REPROQ_LEASE_SECONDS: "90" } });
    expect(all.settings["worker.concurrency"]).toEqual({ value: "7", source: "flag --concurrency" });
    expect(all.settings["worker.lease_seconds"]).toEqual({ value: "90", source: "env REPROQ_LEASE_SECONDS" });
    expect(all.settings["worker.heartbeat_seconds"]).toEqual({ value: "20", source: "file reproq.yaml" });
    expect(all.settings["worker.reclaim_interval_seconds"]).toEqual({ value: "60", source: "default" });
    expect(all.config_file).toBe("reproq.yaml");
  });

  test("--config beats REPROQ_CONFIG beats reproq.yaml beats .reproq.toml", async () => {
    const cwd = tempDir({
      "reproq.yaml": "worker:\n  concurrency: 2\n",
      ".reproq.toml": "[worker]\nconcurrency = 3\n",
      "env.toml": "[worker]\nconcurrency = 4\n",
      "flag.yml": "worker:\n  concurrency: 5\n",
    });
    const pick = async (args: string[], env: Record<string, string> = {}) =>
      (await effective(["--for", "worker", ...args], { cwd, env })).settings["worker.concurrency"]?.value;
    expect(await pick(["--config", "flag.yml"], { REPROQ_CONFIG: "env.toml" })).toBe("5");
    expect(await pick([], { REPROQ_CONFIG: "env.toml" })).toBe("4");
    expect(await pick([])).toBe("2");
    const onlyDot = tempDir({ ".reproq.toml": "[worker]\nconcurrency = 3\n" });
    expect((await effective(["--for", "worker"], { cwd: onlyDot })).settings["worker.concurrency"]?.value).toBe("3");
  });

  test("the example files load with no warnings", async () => {
    for (const file of ["reproq.example.yaml", "reproq.example.toml"]) {
      const config = await effective(["--config", join(ROOT, file)]);
      expect(config.warnings).toEqual([]);
      expect(config.settings["worker.queues"]?.value).toBe("default,high");
      expect(config.settings.dsn?.value).toBe("postgres://user:***@localhost:5432/reproq?sslmode=disable");
    }
  });

  test("an unknown key is a warning naming the key and the file, not an error", async () => {
    const cwd = tempDir({ "reproq.yaml": "worker:\n  concurency: 4\n" });
    const result = await runBinary(["config", "--for", "worker"], { cwd });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toContain('unknown key "worker.concurency" in reproq.yaml');
    expect(result.stderr).toContain('did you mean "worker.concurrency"?');
  });
});

describe("invalid settings: exit 2, clear message, no connection attempt", () => {
  let connections = 0;
  let listener: Bun.TCPSocketListener | undefined;
  beforeAll(() => {
    // Stands in for PostgreSQL: any connection attempt is counted.
    listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (socket) => void (connections++, socket.end()), data: () => {} } });
  });
  afterAll(() => listener?.stop(true));

  const cases: { name: string; args: string[]; file?: string; env?: Record<string, string>; message: string }[] = [
    { name: "bad duration", args: ["--poll-min-backoff", "fast"], message: `worker.poll_min_backoff must be a duration like 250ms, 1m30s or 1h, got "fast" (from --poll-min-backoff)` },
    { name: "concurrency 0", args: [], file: "worker:\n  concurrency: 0\n", message: "worker.concurrency must be an integer ≥ 1, got 0 (from reproq.yaml)" },
    { name: "negative lease", args: [], env: { REPROQ_LEASE_SECONDS: "-5" }, message: "worker.lease_seconds must be an integer ≥ 1, got -5 (from REPROQ_LEASE_SECONDS)" },
    { name: "unknown payload mode", args: ["--payload-mode", "fast"], message: `worker.payload_mode must be one of stdin, file, inline, got "fast" (from --payload-mode)` },
    { name: "scalar where a list is expected", args: [], file: "worker:\n  queues: default\n", message: `worker.queues must be a list of strings, got "default" (from reproq.yaml)` },
    { name: "max backoff below min", args: [], file: "worker:\n  poll_min_backoff: 2s\n  poll_max_backoff: 1s\n", message: "worker.poll_max_backoff must be ≥ worker.poll_min_backoff" },
  ];

  for (const testCase of cases) {
    test(testCase.name, async () => {
      const cwd = tempDir(testCase.file ? { "reproq.yaml": testCase.file } : {});
      const port = listener?.port ?? 0;
      const dsn = `postgres://postgres@127.0.0.1:${port}/postgres`;
      const result = await runBinary(["config", "--for", "worker", "--dsn", dsn, ...testCase.args], { cwd, env: testCase.env ?? {} });
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toContain(testCase.message);
      expect(result.stderr).not.toContain("    at ");
    });
  }

  test("a database command with a bad setting exits 2 before connecting", async () => {
    const port = listener?.port ?? 0;
    const before = connections;
    const result = await runBinary(["migrate", "--dsn", `postgres://postgres@127.0.0.1:${port}/postgres`, "--connect-timeout", "soon"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`database.connect_timeout must be a duration like 250ms, 1m30s or 1h, got "soon" (from --connect-timeout)`);
    expect(connections).toBe(before);
  });

  test("the listener does count connections (the test above can fail)", async () => {
    const port = listener?.port ?? 0;
    const before = connections;
    const result = await runBinary(["migrate", "--dsn", `postgres://postgres@127.0.0.1:${port}/postgres`, "--connect-timeout", "2s"]);
    expect(result.exitCode).toBe(1);
    expect(connections).toBeGreaterThan(before);
  });
});
