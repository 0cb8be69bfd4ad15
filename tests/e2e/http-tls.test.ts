// The worker's HTTP endpoints over TLS and mTLS (SPEC §7), on the compiled binary with a real
// database: certificates made with openssl for the test, and the start-up errors for bad files.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { runBinary } from "../helpers/binary.ts";
import { createCertDir, issueTestCerts, OPENSSL, type CertDir } from "../helpers/certs.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { freePort } from "../helpers/net.ts";
import { baseWorkerArgs, enqueue, startWorker, stopWorker, waitFor, type WorkerProcess } from "../helpers/worker.ts";
import { testWithTools } from "../helpers/tools.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const withOpenssl = testWithTools(["openssl"]);

let db: TestDatabase;
let certs: CertDir;
beforeAll(async () => {
  db = await createTestDatabase({ flavour: "reproq", label: "http_tls_e2e" });
  certs = createCertDir();
  if (OPENSSL !== null) issueTestCerts(certs);
});
afterAll(async () => {
  certs?.remove();
  await db.drop();
});

type Outcome = { status: number; body: string } | { error: string };

/** A GET that never throws: the status and body, or the error (refused, handshake failure, …). */
async function get(url: string, tls: Record<string, string> = {}): Promise<Outcome> {
  try {
    const response = await fetch(url, { tls, signal: AbortSignal.timeout(5_000) });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    return { error: String(error) };
  }
}

async function startTlsWorker(extra: string[]): Promise<{ worker: WorkerProcess; port: number }> {
  const port = await freePort();
  const worker = startWorker([
    ...baseWorkerArgs(db.dsn), "--metrics-addr", `127.0.0.1:${port}`,
    "--metrics-tls-cert", certs.file("server.pem"), "--metrics-tls-key", certs.file("server.key"), ...extra,
  ]);
  await waitFor(async () => worker.logs.some((line) => line.msg === "Serving health and metrics") || worker.proc.exitCode !== null, { what: "the HTTPS server", timeoutMs: 20_000 });
  const serving = worker.logs.find((line) => line.msg === "Serving health and metrics");
  if (!serving) throw new Error(`worker did not start: ${worker.stderr()} ${JSON.stringify(worker.logs)}`);
  expect(serving).toMatchObject({ addr: `https://127.0.0.1:${port}`, tls: true });
  return { worker, port };
}

async function stop(worker: WorkerProcess): Promise<void> {
  const code = await stopWorker(worker);
  if (code !== 0) console.log(worker.logs.slice(-20), worker.stderr());
  expect(code).toBe(0);
}

describe("TLS", () => {
  withOpenssl("HTTPS with the CA trusted answers 200 ok; plain HTTP on the same port does not", async () => {
    const { worker, port } = await startTlsWorker([]);
    try {
      const ca = await certs.text("ca.pem");
      expect(await get(`https://127.0.0.1:${port}/healthz`, { ca })).toEqual({ status: 200, body: "ok" });
      const metrics = await get(`https://127.0.0.1:${port}/metrics`, { ca });
      expect("status" in metrics && metrics.status).toBe(200);
      expect("body" in metrics && metrics.body).toContain("reproq_");
      expect(worker.logs.find((line) => line.msg === "Serving health and metrics")).toMatchObject({ mtls: false });

      // Without the CA the self-signed chain is not trusted.
      expect(await get(`https://127.0.0.1:${port}/healthz`)).toHaveProperty("error");
      // Plain HTTP to the TLS port never gets a 200.
      const plain = await get(`http://127.0.0.1:${port}/healthz`);
      expect("status" in plain && plain.status === 200).toBe(false);
    } finally {
      await stop(worker);
    }
  });

  withOpenssl("mTLS: a client without a certificate, or with a stranger's, is refused; a CA-signed client certificate gets /healthz and /metrics", async () => {
    const { worker, port } = await startTlsWorker(["--metrics-tls-client-ca", certs.file("ca.pem")]);
    try {
      expect(worker.logs.find((line) => line.msg === "Serving health and metrics")).toMatchObject({ mtls: true });
      const ca = await certs.text("ca.pem");
      const client = { ca, cert: await certs.text("client.pem"), key: await certs.text("client.key") };
      const stranger = { ca, cert: await certs.text("stranger.pem"), key: await certs.text("stranger.key") };

      for (const path of ["/healthz", "/metrics", "/events"]) {
        const anonymous = await get(`https://127.0.0.1:${port}${path}`, { ca });
        expect(anonymous).toHaveProperty("error");
        expect(await get(`https://127.0.0.1:${port}${path}`, stranger)).toHaveProperty("error");
      }
      expect(await get(`https://127.0.0.1:${port}/healthz`, client)).toEqual({ status: 200, body: "ok" });
      const metrics = await get(`https://127.0.0.1:${port}/metrics`, client);
      expect("status" in metrics && metrics.status).toBe(200);
      expect("body" in metrics && metrics.body).toContain("# TYPE reproq_");
      // mTLS counts as auth: no "no auth" warning.
      expect(worker.logs.some((line) => String(line.msg).startsWith("Metrics endpoint has no auth"))).toBe(false);
    } finally {
      await stop(worker);
    }
  });
});

describe("bad TLS inputs stop the worker at start-up with exit code 2", () => {
  async function expectConfigFailure(tlsArgs: string[], message: string): Promise<void> {
    const port = await freePort();
    const [taskId] = await enqueue(db.sql, [{ kwargs: { mode: "success" } }]);
    const result = await runBinary([...baseWorkerArgs(db.dsn), "--metrics-addr", `127.0.0.1:${port}`, ...tlsArgs], { timeoutMs: 20_000 });
    if (result.exitCode !== 2) console.log(result.stdout, result.stderr);
    expect(result.exitCode).toBe(2);
    // Config errors are reported by the CLI on stderr (src/cli/run.ts → ui.error).
    expect(result.stderr).toContain(message);
    // Nothing is listening, and the worker never started claiming.
    expect(await get(`http://127.0.0.1:${port}/healthz`)).toHaveProperty("error");
    const [row] = await db.sql<{ status: string }[]>`select status from task_runs where result_id = ${taskId!}`;
    expect(row?.status).toBe("READY");
    await db.sql`delete from task_runs where result_id = ${taskId!}`;
  }

  withOpenssl("a missing certificate file: load metrics TLS cert/key", async () => {
    await expectConfigFailure(["--metrics-tls-cert", certs.file("no-such-cert.pem"), "--metrics-tls-key", certs.file("server.key")], "load metrics TLS cert/key: ");
  });

  withOpenssl("a client CA file without a certificate: metrics TLS client CA has no valid certificates", async () => {
    writeFileSync(certs.file("empty-ca.pem"), "not a certificate\n");
    await expectConfigFailure([
      "--metrics-tls-cert", certs.file("server.pem"), "--metrics-tls-key", certs.file("server.key"),
      "--metrics-tls-client-ca", certs.file("empty-ca.pem"),
    ], "metrics TLS client CA has no valid certificates");
  });

  test("a key without a certificate is refused by the settings check", async () => {
    // Caught before src/http/tls.ts would say "metrics TLS requires both cert and key".
    await expectConfigFailure(["--metrics-tls-key", "/nonexistent/server.key"], "metrics.tls_cert and metrics.tls_key must be set together");
  });

});
