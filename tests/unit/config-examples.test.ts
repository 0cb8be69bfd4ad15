// The example files and docs/configuration.md are generated from the settings registry; these
// tests keep the committed copies in step with it, and prove configs written for the Go worker
// still load without warnings.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GENERATED_FILES } from "../../scripts/gen-config-docs.ts";
import { parseConfigText } from "../../src/config/discover.ts";
import { loadConfig, type Config } from "../../src/config/index.ts";
import { KNOWN_FILE_KEYS } from "../../src/config/settings.ts";

const ROOT = join(import.meta.dir, "..", "..");
const EXAMPLES = ["reproq.example.yaml", "reproq.example.toml"];

const scratch = mkdtempSync(join(tmpdir(), "reproq-examples-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const loadFile = (path: string): Promise<Config> => loadConfig({ scope: "all", env: {}, cwd: ROOT, flags: { config: path } });

/** Every `section.key` (or top-level key) a parsed document holds. */
function keysOf(document: unknown): string[] {
  const keys: string[] = [];
  for (const [key, value] of Object.entries(document as Record<string, unknown>)) {
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      for (const inner of Object.keys(value)) keys.push(`${key}.${inner}`);
    } else keys.push(key);
  }
  return keys.sort();
}

/** The parts of a Config that come from settings (not where they came from). */
const settingsOf = (config: Config) => ({ ...config, configFile: null, sources: {} });

describe("generated files", () => {
  test.each(GENERATED_FILES.map(([path, render]) => [path, render] as const))(
    "%s matches the registry (run `bun run scripts/gen-config-docs.ts`)",
    async (path, render) => {
      expect(await Bun.file(join(ROOT, path)).text()).toBe(render());
    },
  );
});

describe("example files", () => {
  test.each(EXAMPLES)("%s lists every key", async (name) => {
    const document = parseConfigText(await Bun.file(join(ROOT, name)).text(), name);
    expect(keysOf(document)).toEqual([...KNOWN_FILE_KEYS].sort());
  });

  test.each(EXAMPLES)("%s loads with no warnings", async (name) => {
    const config = await loadFile(name);
    expect(config.warnings).toEqual([]);
    expect(config.configFile).toBe(name);
  });

  test("both formats give the same Config, with the Go example values", async () => {
    const [yaml, toml] = await Promise.all(EXAMPLES.map(loadFile));
    expect(settingsOf(toml as Config)).toEqual(settingsOf(yaml as Config));
    const config = yaml as Config;
    expect(config.dsn).toBe("postgres://user:pass@localhost:5432/reproq?sslmode=disable");
    expect(config.worker.workerId).toBe("worker-1");
    expect(config.worker.queues).toEqual(["default", "high"]);
    expect(config.worker.allowedTaskModules).toEqual(["myapp.tasks.", "tasks."]);
    expect(config.metrics.addr).toBe("127.0.0.1:9090");
    expect(config.metrics.allowCidrs).toEqual(["127.0.0.1/32"]);
    expect(config.worker.execTimeoutMs).toBe(3_600_000);
    expect(config.worker.executorEnvDeny).toEqual(["METRICS_AUTH_TOKEN"]);
  });
});

// A config in the shape the Go worker's templates use: only its keys, durations as strings.
const GO_YAML = `dsn: "postgres://user:pass@localhost:5432/reproq?sslmode=disable"
worker:
  dsn: ""
  worker_id: "worker-1"
  queues: [default, high]
  allowed_task_modules: ["myapp.tasks.", "tasks."]
  concurrency: 10
  poll_min_backoff: "100ms"
  poll_max_backoff: "5s"
  lease_seconds: 300
  heartbeat_seconds: 60
  reclaim_interval_seconds: 60
  python_bin: "python3"
  executor_module: "reproq_django.executor"
  payload_mode: "stdin"
  max_payload_bytes: 1048576
  max_stdout_bytes: 1048576
  max_stderr_bytes: 1048576
  logs_dir: ""
  exec_timeout: "1h"
  max_attempts_default: 3
  shutdown_timeout: "30s"
  priority_aging_factor: 60
  process_role: "worker"
beat:
  dsn: ""
  interval: "30s"
metrics:
  addr: "127.0.0.1:9090"
  port: 0
  auth_token: ""
  allow_cidrs: ["127.0.0.1/32"]
  auth_limit: 30
  auth_window: "1m"
  auth_max_entries: 1000
  tls_cert: ""
  tls_key: ""
  tls_client_ca: ""
`;

const GO_TOML = `dsn = "postgres://user:pass@localhost:5432/reproq?sslmode=disable"

[worker]
dsn = ""
worker_id = "worker-1"
queues = ["default","high"]
allowed_task_modules = ["myapp.tasks.","tasks."]
concurrency = 10
poll_min_backoff = "100ms"
poll_max_backoff = "5s"
lease_seconds = 300
heartbeat_seconds = 60
reclaim_interval_seconds = 60
python_bin = "python3"
executor_module = "reproq_django.executor"
payload_mode = "stdin"
max_payload_bytes = 1048576
max_stdout_bytes = 1048576
max_stderr_bytes = 1048576
logs_dir = ""
exec_timeout = "1h"
max_attempts_default = 3
shutdown_timeout = "30s"
priority_aging_factor = 60.0

[beat]
dsn = ""
interval = "30s"

[metrics]
addr = "127.0.0.1:9090"
port = 0
auth_token = ""
allow_cidrs = ["127.0.0.1/32"]
auth_limit = 30
auth_window = "1m"
auth_max_entries = 1000
tls_cert = ""
tls_key = ""
tls_client_ca = ""
`;

describe("configs written for the Go worker", () => {
  test.each([
    ["reproq.yaml", GO_YAML],
    ["reproq.toml", GO_TOML],
  ])("%s loads for every command with zero warnings", async (name, text) => {
    const dir = mkdtempSync(join(scratch, "go-"));
    writeFileSync(join(dir, name), text);
    for (const scope of ["worker", "beat", "db", "all"] as const) {
      const config = await loadConfig({ scope, env: {}, cwd: dir });
      expect(config.warnings).toEqual([]);
      expect(config.dsn).toBe("postgres://user:pass@localhost:5432/reproq?sslmode=disable");
      expect(config.worker.queues).toEqual(["default", "high"]);
      expect(config.beat.intervalMs).toBe(30_000);
      expect(config.metrics.authWindowMs).toBe(60_000);
    }
  });
});
