// Config loading: precedence, DSN, discovery, value formats, freezing and citty args. No database.

import { describe, expect, test } from "bun:test";
import { CONFIG_FILE_NAMES, configArgs, type Config } from "../../src/config/index.ts";
import { load, problemsOf, tempDir } from "../helpers/config.ts";

describe("precedence", () => {
  const file = { "reproq.yaml": "worker:\n  concurrency: 4\n" };

  test("default when nothing is given", async () => {
    const config = await load();
    expect(config.worker.concurrency).toBe(10);
    expect(config.sources["worker.concurrency"]).toBe("default");
  });

  test("file beats default", async () => {
    const config = await load({ cwd: tempDir(file) });
    expect(config.worker.concurrency).toBe(4);
    expect(config.sources["worker.concurrency"]).toBe("file reproq.yaml");
  });

  test("env beats file", async () => {
    const config = await load({ cwd: tempDir(file), env: { REPROQ_CONCURRENCY: "6" } });
    expect(config.worker.concurrency).toBe(6);
    expect(config.sources["worker.concurrency"]).toBe("env REPROQ_CONCURRENCY");
  });

  test("flag beats env and file", async () => {
    const config = await load({ cwd: tempDir(file), env: { REPROQ_CONCURRENCY: "6" }, flags: { concurrency: "8" } });
    expect(config.worker.concurrency).toBe(8);
    expect(config.sources["worker.concurrency"]).toBe("flag --concurrency");
  });

  test("an env var that is set but empty is ignored", async () => {
    const config = await load({ cwd: tempDir(file), env: { REPROQ_CONCURRENCY: "", QUEUE_NAMES: "" } });
    expect(config.worker.concurrency).toBe(4);
    expect(config.worker.queues).toEqual(["default"]);
  });

  test("an empty string in the file does not clear a default", async () => {
    const config = await load({ cwd: tempDir({ "reproq.yaml": 'worker:\n  python_bin: ""\n  logs_dir:\n' }) });
    expect(config.worker.pythonBin).toBe("python3");
  });

  test("bool flags from citty (--no-x) and env words", async () => {
    expect((await load({ flags: { prepare: false } })).database.prepare).toBe(false);
    expect((await load({ env: { REPROQ_PREPARE: "OFF" } })).database.prepare).toBe(false);
    expect((await load({ env: { LOW_MEMORY_MODE: " Yes " } })).lowMemoryMode).toBe(true);
    expect((await load({ env: { LOW_MEMORY_MODE: "0" } })).lowMemoryMode).toBe(false);
  });
});

describe("DSN", () => {
  const yaml = "dsn: postgres://top\nworker:\n  dsn: postgres://worker\nbeat:\n  dsn: postgres://beat\n";

  test("worker.dsn overrides dsn for the worker, beat.dsn for beat, top-level for other scopes", async () => {
    const cwd = tempDir({ "reproq.yaml": yaml });
    expect((await load({ cwd, scope: "worker" })).dsn).toBe("postgres://worker");
    expect((await load({ cwd, scope: "beat" })).dsn).toBe("postgres://beat");
    expect((await load({ cwd, scope: "db" })).dsn).toBe("postgres://top");
  });

  test("an empty worker.dsn leaves the top-level dsn in force", async () => {
    const cwd = tempDir({ "reproq.yaml": 'dsn: postgres://top\nworker:\n  dsn: ""\n' });
    expect((await load({ cwd })).dsn).toBe("postgres://top");
  });

  test("DATABASE_URL beats the file and --dsn beats DATABASE_URL", async () => {
    const cwd = tempDir({ "reproq.yaml": yaml });
    const env = { DATABASE_URL: "postgres://env" };
    expect((await load({ cwd, env })).dsn).toBe("postgres://env");
    expect((await load({ cwd, env, flags: { dsn: "postgres://flag" } })).dsn).toBe("postgres://flag");
  });

  test('no DSN anywhere gives ""', async () => {
    expect((await load()).dsn).toBe("");
  });
});

describe("discovery", () => {
  /** Candidate files from position `from` on, each setting concurrency to its 1-based position. */
  const candidates = (from = 0) =>
    Object.fromEntries(
      CONFIG_FILE_NAMES.slice(from).map((name, i) => {
        const n = from + i + 1;
        return [name, name.endsWith(".toml") ? `[worker]\nconcurrency = ${n}\n` : `worker:\n  concurrency: ${n}\n`];
      }),
    );
  const flagged = { "flagged.yaml": "worker:\n  concurrency: 50\n", "env.toml": "[worker]\nconcurrency = 60\n" };

  test("--config beats REPROQ_CONFIG beats the well-known names", async () => {
    const cwd = tempDir({ ...candidates(), ...flagged });
    const env = { REPROQ_CONFIG: "env.toml" };
    const viaFlag = await load({ cwd, env, flags: { config: "flagged.yaml" } });
    expect([viaFlag.configFile, viaFlag.worker.concurrency]).toEqual(["flagged.yaml", 50]);
    const viaEnv = await load({ cwd, env });
    expect([viaEnv.configFile, viaEnv.worker.concurrency]).toEqual(["env.toml", 60]);
  });

  test("well-known names are tried in order", async () => {
    for (const [index, name] of CONFIG_FILE_NAMES.entries()) {
      const config = await load({ cwd: tempDir(candidates(index)) });
      expect([config.configFile, config.worker.concurrency]).toEqual([name, index + 1]);
    }
  });

  test("a directory named reproq.yaml is skipped", async () => {
    const config = await load({ cwd: tempDir({ "reproq.yaml/": "", "reproq.yml": "worker:\n  concurrency: 7\n" }) });
    expect([config.configFile, config.worker.concurrency]).toEqual(["reproq.yml", 7]);
  });

  test("no file at all", async () => {
    expect((await load()).configFile).toBeNull();
  });

  test("an explicit path that does not exist is an error naming its origin", async () => {
    expect(await problemsOf({ flags: { config: "missing.yaml" } })).toEqual([
      "config file missing.yaml not found (from --config)",
    ]);
    expect(await problemsOf({ env: { REPROQ_CONFIG: "gone.toml" } })).toEqual([
      "config file gone.toml not found (from REPROQ_CONFIG)",
    ]);
    expect(await problemsOf({ flags: { config: "" } })).toEqual(["missing value for --config"]);
  });

  test("an unsupported extension is an error", async () => {
    const cwd = tempDir({ "conf.json": "{}" });
    expect(await problemsOf({ cwd, flags: { config: "conf.json" } })).toEqual([
      'unsupported config file extension ".json" for conf.json (use .yaml, .yml or .toml)',
    ]);
  });

  test("parse errors name the file (TOML with line and column)", async () => {
    const toml = await problemsOf({ cwd: tempDir({ "reproq.toml": "[worker]\nconcurrency = = 3\n" }) });
    expect(toml).toHaveLength(1);
    expect(toml[0]).toMatch(/^cannot parse reproq\.toml: .+ \(line 2, column \d+\)$/);
    const yaml = await problemsOf({ cwd: tempDir({ "reproq.yaml": "worker: [1,\n" }) });
    expect(yaml[0]).toMatch(/^cannot parse reproq\.yaml: .+ \(line 1, column \d+\)$/);
  });

  test("YAML syntax errors say where: line and column of the offending spot", async () => {
    const cases: [string, string][] = [
      ["worker:\n  concurrency: 4\n  queues: [a, b\n", "(line 3, column 11)"], // unclosed [
      ["worker:\n  concurrency: 4\n key: value\n", "(line 3, column 2)"], // bad indentation
      ["# settings\nworker:\n  concurrency: 4\n  queues: [a,\n    b]\n  listen: : true\n", "(line 6, column 11)"],
      ["worker:\n\tconcurrency: 4\n", "(line 2, column 2)"], // a tab
    ];
    for (const [text, where] of cases) {
      const problems = await problemsOf({ cwd: tempDir({ "reproq.yml": text }) });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toStartWith("cannot parse reproq.yml: ");
      expect(problems[0]).toEndWith(` ${where}`);
    }
  });
});

describe("lists", () => {
  test("comma lists from env and flags are trimmed and empties dropped", async () => {
    const config = await load({
      env: { QUEUE_NAMES: " high , ,low,", METRICS_ALLOW_CIDRS: "10.0.0.0/8, ::1" },
      flags: { "allowed-task-modules": "app.tasks., ,other.tasks." },
    });
    expect(config.worker.queues).toEqual(["high", "low"]);
    expect(config.metrics.allowCidrs).toEqual(["10.0.0.0/8", "::1"]);
    expect(config.worker.allowedTaskModules).toEqual(["app.tasks.", "other.tasks."]);
  });

  test("an empty queue list means default; an empty allow-list stays empty", async () => {
    const config = await load({ flags: { queues: " , ", "allowed-task-modules": "," } });
    expect(config.worker.queues).toEqual(["default"]);
    expect(config.worker.allowedTaskModules).toEqual([]);
    const fromFile = await load({ cwd: tempDir({ "reproq.toml": "[worker]\nqueues = []\n" }) });
    expect(fromFile.worker.queues).toEqual(["default"]);
  });
});

describe("values", () => {
  test("durations become milliseconds; memory_log_interval takes bare seconds", async () => {
    const config = await load({
      flags: { "exec-timeout": "1m30s", "memory-log-interval": "120" },
      env: { REPROQ_BEAT_INTERVAL: "250ms" },
    });
    expect(config.worker.execTimeoutMs).toBe(90_000);
    expect(config.memoryLogIntervalMs).toBe(120_000);
    expect(config.beat.intervalMs).toBe(250);
    expect((await load({ env: { REPROQ_MEMORY_LOG_INTERVAL: "45s" } })).memoryLogIntervalMs).toBe(45_000);
    expect((await load()).memoryLogIntervalMs).toBe(0);
  });

  test("worker_id defaults to <hostname>-<pid>; roles default per command", async () => {
    const config = await load({ env: { REPROQ_PROCESS_ROLE: "" } });
    expect(config.worker.workerId).toMatch(new RegExp(`-${process.pid}$`));
    expect(config.worker.processRole).toBe("worker");
    expect(config.beat.processRole).toBe("beat");
    const role = await load({ scope: "beat", env: { REPROQ_PROCESS_ROLE: "scheduler" } });
    expect(role.beat.processRole).toBe("scheduler");
  });

  test("numeric strings in the file are accepted", async () => {
    const config = await load({ cwd: tempDir({ "reproq.yaml": 'worker:\n  concurrency: "12"\n  retry_jitter: "0.5"\n' }) });
    expect([config.worker.concurrency, config.worker.retryJitter]).toEqual([12, 0.5]);
  });

  test("env is a snapshot without undefined entries", async () => {
    const config = await load({ env: { PGHOST: "db", UNSET: undefined } });
    expect(config.env).toEqual({ PGHOST: "db" });
  });
});

describe("the Config object", () => {
  test("is deeply frozen", async () => {
    const config = await load();
    expect(Object.isFrozen(config)).toBe(true);
    for (const part of [config.worker, config.worker.queues, config.metrics, config.sources, config.env, config.warnings]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    expect(() => {
      (config.worker as { concurrency: number }).concurrency = 99;
    }).toThrow(TypeError);
    expect(() => (config.worker.queues as string[]).push("x")).toThrow(TypeError);
    expect(config.worker.concurrency).toBe(10);
  });
});

describe("configArgs", () => {
  test("never sets a default; bools are boolean, everything else string", () => {
    for (const scope of ["worker", "beat", "db", "all"] as const) {
      for (const [name, def] of Object.entries(configArgs(scope))) {
        expect(def).not.toHaveProperty("default");
        expect(["string", "boolean"]).toContain(def.type ?? "");
        expect(name).toMatch(/^[a-z][a-z-]*$/);
      }
    }
    expect(configArgs("worker")["prepare"]?.type).toBe("boolean");
    expect(configArgs("worker")["concurrency"]).toEqual({
      type: "string",
      description: "Max concurrent tasks; 100 for bun-inprocess unless set (default 10, env REPROQ_CONCURRENCY)",
      valueHint: "n",
    });
  });

  test("scopes get their own flags", () => {
    expect(Object.keys(configArgs("db")).sort()).toEqual(
      ["config", "connect-timeout", "db-pool-size", "dsn", "log-format", "log-level", "prepare"].sort(),
    );
    const beat = Object.keys(configArgs("beat"));
    expect(beat).toContain("interval");
    expect(beat).toContain("process-role");
    expect(beat).not.toContain("concurrency");
    const worker = Object.keys(configArgs("worker"));
    for (const flag of ["worker-id", "queues", "metrics-addr", "metrics-auth-window", "low-memory-mode", "exec-timeout"]) {
      expect(worker).toContain(flag);
    }
    expect(worker).not.toContain("interval");
  });
});
