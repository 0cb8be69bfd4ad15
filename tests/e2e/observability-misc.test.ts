// Observability odds and ends on the compiled binary with a real database (SPEC §7): low memory
// mode without an HTTP server, periodic memory-usage log lines (worker and beat), the start-up
// warning for an unauthenticated endpoint on all interfaces, and /healthz following the database.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { parseDsn } from "../../src/db/dsn.ts";
import { buildDsn, createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { freePort } from "../helpers/net.ts";
import { startTcpProxy } from "../helpers/tcp-proxy.ts";
import { baseWorkerArgs, enqueue, startWorker, stopWorker, waitFor, type WorkerProcess } from "../helpers/worker.ts";
import { expectQuick } from "../helpers/timing.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const NO_AUTH_WARNING = "Metrics endpoint has no auth; bind to localhost or set --metrics-auth-token";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ flavour: "reproq", label: "observability_e2e" });
});
afterAll(async () => {
  await db.drop();
});

async function stop(worker: WorkerProcess): Promise<void> {
  const code = await stopWorker(worker);
  if (code !== 0) console.log(worker.logs.slice(-20), worker.stderr());
  expect(code).toBe(0);
}

const logged = (worker: WorkerProcess, msg: string) => worker.logs.filter((line) => line.msg === msg);

async function succeeded(ids: string[]): Promise<boolean> {
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs where result_id in ${db.sql(ids)} and status = 'SUCCESSFUL'`;
  return row!.n === ids.length;
}

/** How a connection attempt to 127.0.0.1:port ends: "connected" or the error. */
async function probePort(port: number): Promise<string> {
  try {
    const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    socket.end();
    return "connected";
  } catch (error) {
    return String((error as { code?: string }).code ?? error);
  }
}

describe("LOW_MEMORY_MODE", () => {
  test("runs tasks, warns that the metrics server is skipped, and listens on nothing", async () => {
    const port = await freePort();
    const worker = startWorker([...baseWorkerArgs(db.dsn), "--queues", "lowmem", "--metrics-addr", `127.0.0.1:${port}`], { LOW_MEMORY_MODE: "true" });
    try {
      const ids = await enqueue(db.sql, [{ queue: "lowmem" }, { queue: "lowmem" }]);
      await waitFor(() => succeeded(ids), { what: "tasks in low memory mode" });
      const skipped = logged(worker, "Skipping metrics server due to low memory mode");
      expect(skipped).toHaveLength(1);
      expect(skipped[0]).toMatchObject({ level: "WARN", addr: `127.0.0.1:${port}` });
      expect(logged(worker, "Serving health and metrics")).toEqual([]);
      expect(await probePort(port)).toBe("ECONNREFUSED");
      const failed = await fetch(`http://127.0.0.1:${port}/healthz`).then(() => null, (error: unknown) => error);
      expect(failed).not.toBeNull();
    } finally {
      await stop(worker);
    }
  });
});

describe("REPROQ_MEMORY_LOG_INTERVAL", () => {
  function checkMemoryLines(proc: WorkerProcess): number {
    const lines = logged(proc, "reproq memory usage");
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) {
      expect(line.level).toBe("INFO");
      for (const key of ["heap_alloc_bytes", "heap_sys_bytes", "rss_bytes"]) {
        expect(typeof line[key]).toBe("number");
        expect(line[key] as number).toBeGreaterThan(0);
      }
      for (const key of ["heap_idle_bytes", "heap_inuse_bytes"]) expect(typeof line[key]).toBe("number");
    }
    // The first line at start, the next about one interval later.
    const gap = Date.parse(String(lines[1]!.time)) - Date.parse(String(lines[0]!.time));
    expect(gap).toBeGreaterThan(700);
    expectQuick(gap, 1_000, "one 1 s memory-log interval");
    return gap;
  }

  test("the worker logs memory usage at start and then every second", async () => {
    const worker = startWorker([...baseWorkerArgs(db.dsn), "--queues", "memlog"], { REPROQ_MEMORY_LOG_INTERVAL: "1s" });
    try {
      await waitFor(async () => logged(worker, "reproq memory usage").length >= 1, { what: "the first memory line", timeoutMs: 20_000 });
      const first = Date.parse(String(logged(worker, "reproq memory usage")[0]!.time));
      const starting = worker.logs.find((line) => typeof line.time === "string");
      await waitFor(async () => logged(worker, "reproq memory usage").length >= 3, { what: "more memory lines", timeoutMs: 20_000 });
      const gap = checkMemoryLines(worker);
      // At start, not after one interval: well before the second line (a loaded machine stretches both).
      expect(first - Date.parse(String(starting!.time))).toBeLessThan(gap / 2);
    } finally {
      await stop(worker);
    }
  });

  test("so does reproq beat", async () => {
    const beat = startWorker(["beat", "--dsn", db.dsn, "--log-format", "json", "--interval", "30s"], { REPROQ_MEMORY_LOG_INTERVAL: "1s" });
    try {
      await waitFor(async () => logged(beat, "reproq memory usage").length >= 3 || beat.proc.exitCode !== null, { what: "beat memory lines", timeoutMs: 20_000 });
      if (beat.proc.exitCode !== null) console.log(beat.logs, beat.stderr());
      checkMemoryLines(beat);
      expect(logged(beat, "reproq memory usage")[0]).toMatchObject({ role: "beat" });
    } finally {
      await stop(beat);
    }
  });

  test("without it, no memory lines", async () => {
    const port = await freePort();
    const worker = startWorker([...baseWorkerArgs(db.dsn), "--queues", "memlog", "--metrics-addr", `127.0.0.1:${port}`]);
    try {
      await waitFor(async () => logged(worker, "Serving health and metrics").length > 0, { what: "the HTTP server", timeoutMs: 20_000 });
      await Bun.sleep(1_500);
      expect(logged(worker, "reproq memory usage")).toEqual([]);
    } finally {
      await stop(worker);
    }
  });
});

describe("the no-auth warning", () => {
  async function serving(flags: string[]): Promise<WorkerProcess> {
    const worker = startWorker([...baseWorkerArgs(db.dsn), "--queues", "warn", ...flags]);
    await waitFor(async () => logged(worker, "Serving health and metrics").length > 0 || worker.proc.exitCode !== null, { what: "the HTTP server", timeoutMs: 20_000 });
    return worker;
  }

  test("--metrics-port (all interfaces) without token or allow-list warns", async () => {
    const port = await freePort();
    const worker = await serving(["--metrics-port", String(port)]);
    try {
      expect(logged(worker, "Serving health and metrics")).toHaveLength(1);
      const warning = logged(worker, NO_AUTH_WARNING);
      expect(warning).toHaveLength(1);
      expect(warning[0]).toMatchObject({ level: "WARN" });
      const response = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(response.status).toBe(200);
      // Every interface means IPv6 too (as Go's ":port"), when the host has IPv6.
      if (ipv6Loopback()) expect((await fetch(`http://[::1]:${port}/healthz`)).status).toBe(200);
    } finally {
      await stop(worker);
    }
  });

  test("--metrics-addr 127.0.0.1:PORT does not warn", async () => {
    const port = await freePort();
    const worker = await serving(["--metrics-addr", `127.0.0.1:${port}`]);
    try {
      expect(logged(worker, "Serving health and metrics")).toHaveLength(1);
      expect(worker.logs.filter((line) => line.level === "WARN" && String(line.msg).includes("no auth"))).toEqual([]);
    } finally {
      await stop(worker);
    }
  });

  test("--metrics-port with --metrics-auth-token does not warn", async () => {
    const port = await freePort();
    const worker = await serving(["--metrics-port", String(port), "--metrics-auth-token", "t0ken-for-the-test"]);
    try {
      expect(logged(worker, "Serving health and metrics")).toHaveLength(1);
      expect(logged(worker, NO_AUTH_WARNING)).toEqual([]);
    } finally {
      await stop(worker);
    }
  });
});

describe("/healthz follows the database", () => {
  test("503 unhealthy while the database is unreachable, 200 ok once it is back", async () => {
    const target = parseDsn(db.dsn, process.env);
    const proxy = await startTcpProxy({ host: target.host, port: target.port });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const worker = startWorker([...baseWorkerArgs(buildDsn({ ...target, host: "127.0.0.1", port: proxy.port })), "--queues", "health", "--metrics-addr", `127.0.0.1:${port}`]);
    const health = async () => {
      const response = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(8_000) });
      return { status: response.status, body: await response.text() };
    };
    const verbose = async () => {
      const response = await fetch(`${base}/healthz?verbose=1`, { signal: AbortSignal.timeout(8_000) });
      return { status: response.status, json: (await response.json()) as Record<string, Record<string, unknown>> & { status: string } };
    };
    try {
      await waitFor(async () => logged(worker, "Serving health and metrics").length > 0, { what: "the HTTP server", timeoutMs: 20_000 });
      await waitFor(async () => (await health()).status === 200, { what: "healthy", timeoutMs: 10_000 });
      expect(await health()).toEqual({ status: 200, body: "ok" });
      const up = await verbose();
      expect(up.status).toBe(200);
      expect(up.json.status).toBe("ok");
      expect(up.json.database).toMatchObject({ ok: true });
      expect(up.json.worker_loop).toMatchObject({ ok: true });

      proxy.cut();
      const cutAt = performance.now();
      await waitFor(async () => (await health()).status === 503, { what: "503 after the cut", timeoutMs: 10_000, intervalMs: 200 });
      console.log(`/healthz went 503 ${Math.round(performance.now() - cutAt)} ms after the database was cut`);
      expect(await health()).toEqual({ status: 503, body: "unhealthy" });
      const down = await verbose();
      expect(down.status).toBe(503);
      expect(down.json.status).toBe("unhealthy");
      expect(down.json.database).toMatchObject({ ok: false, latency_ms: null });
      expect(down.json.worker_loop).toMatchObject({ ok: true });
      expect(JSON.stringify(down.json)).not.toContain("ECONNREFUSED"); // the error text stays in the log
      expect(worker.logs.some((line) => line.msg === "Health check failed" && line.level === "WARN")).toBe(true);

      proxy.restore();
      const restoredAt = performance.now();
      await waitFor(async () => (await health()).status === 200, { what: "200 after the restore", timeoutMs: 20_000, intervalMs: 200 });
      console.log(`/healthz back to 200 ${Math.round(performance.now() - restoredAt)} ms after the database came back`);
      expect(await health()).toEqual({ status: 200, body: "ok" });
      const back = await verbose();
      expect(back.json.database).toMatchObject({ ok: true });
      expect(back.json.worker_loop).toMatchObject({ ok: true });

      // And the worker still works.
      const ids = await enqueue(db.sql, [{ queue: "health" }]);
      await waitFor(() => succeeded(ids), { what: "a task after the outage", timeoutMs: 30_000 });
    } finally {
      await stop(worker);
      await proxy.close();
    }
  });
});

function ipv6Loopback(): boolean {
  try {
    const probe = Bun.listen({ hostname: "::1", port: 0, socket: { data() {} } });
    probe.stop(true);
    return true;
  } catch {
    return false;
  }
}
