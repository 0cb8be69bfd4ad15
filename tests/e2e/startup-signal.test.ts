// SIGTERM while `reproq worker` / `reproq beat` is still starting (here: stuck on a database that
// answers slowly) ends the process with 0 at once, not with the default action's 143 — a
// container stopped right after it started, or a worker restarted and stopped again in quick
// succession, is not a failure. Nothing is claimed or registered by then.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { parseDsn } from "../../src/db/dsn.ts";
import { BINARY, ensureBinary } from "../helpers/binary.ts";
import { buildDsn, createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.ts";
import { baseWorkerArgs, enqueue, startWorker, statusCounts } from "../helpers/worker.ts";

setDefaultTimeout(60_000);

let db: TestDatabase | undefined;
let proxy: TcpProxy | undefined;

afterAll(async () => {
  await proxy?.close();
  await db?.drop();
});

async function slowDsn(): Promise<string> {
  db ??= await createTestDatabase({ flavour: "reproq", label: "startup_signal" });
  if (proxy === undefined) {
    const target = parseDsn(db.dsn, process.env);
    // Every reply from the server arrives 3 s late: start-up sits in its first round trips.
    proxy = await startTcpProxy({ host: target.host, port: target.port }, { replyDelayMs: 3_000 });
  }
  return buildDsn({ ...parseDsn(db.dsn, process.env), host: "127.0.0.1", port: proxy.port });
}

describe("SIGTERM during start-up", () => {
  test("worker: exits 0 promptly, says so, claims and registers nothing", async () => {
    const dsn = await slowDsn();
    await enqueue(db!.sql, [{ taskPath: "tasks.noop.run" }]);
    const accepted = proxy!.accepted;
    const worker = startWorker(baseWorkerArgs(dsn));
    // Start-up has reached the database (a connection through the proxy) and waits for its answer.
    const deadline = performance.now() + 10_000;
    while (proxy!.accepted === accepted && performance.now() < deadline) await Bun.sleep(20);
    expect(proxy!.accepted).toBeGreaterThan(accepted);
    const sent = performance.now();
    worker.signal("SIGTERM");
    const code = await worker.exited;
    const tookMs = performance.now() - sent;
    expect(code).toBe(0);
    expect(tookMs).toBeLessThan(2_000); // the slow database is not waited for
    expect(worker.logs.some((line) => String(line.msg).startsWith("Shutdown requested while starting"))).toBe(true);
    expect(await statusCounts(db!.sql)).toEqual({ READY: 1 });
    const registered = await db!.sql<{ n: number }[]>`select count(*)::int as n from reproq_workers`;
    expect(registered[0]!.n).toBe(0);
  });

  test("beat: exits 0 promptly", async () => {
    const dsn = await slowDsn();
    ensureBinary();
    const accepted = proxy!.accepted;
    const beat = Bun.spawn([BINARY, "beat", "--dsn", dsn, "--log-format", "json"], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const deadline = performance.now() + 10_000;
    while (proxy!.accepted === accepted && performance.now() < deadline) await Bun.sleep(20);
    expect(proxy!.accepted).toBeGreaterThan(accepted);
    beat.kill("SIGTERM");
    expect(await beat.exited).toBe(0);
    expect(await new Response(beat.stdout).text()).toContain("Shutdown requested while starting");
  });
});
