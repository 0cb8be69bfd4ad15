import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadTls, type TlsSetup } from "../../src/http/tls.ts";
import { ReproqError } from "../../src/errors.ts";
import { createCertDir, issueTestCerts, OPENSSL, type CertDir } from "../helpers/certs.ts";
import { testWithTools } from "../helpers/tools.ts";

const withOpenssl = testWithTools(["openssl"]);

let certs: CertDir | undefined;
const file = (name: string) => (certs as CertDir).file(name);
const text = (name: string) => (certs as CertDir).text(name);

beforeAll(() => {
  certs = createCertDir();
  if (OPENSSL === null) return;
  issueTestCerts(certs);
});

afterAll(() => {
  certs?.remove();
});

async function configError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ReproqError);
    expect((error as ReproqError).code).toBe("config");
    return (error as ReproqError).message;
  }
  throw new Error("expected loadTls to reject");
}

const BROKEN_CERT_BLOCK = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
const serverPaths = () => ({ cert: file("server.pem"), key: file("server.key"), clientCa: "" });

/** Runs `body` against a Bun.serve HTTPS listener on 127.0.0.1 answering 200 "ok". */
async function withServer(tls: TlsSetup, body: (url: string, port: number) => Promise<void>): Promise<void> {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, tls, fetch: () => new Response("ok") });
  try {
    await body(`https://127.0.0.1:${server.port}/metrics`, server.port ?? 0);
  } finally {
    await server.stop(true);
  }
}

/** Status of a GET, or "refused" when the connection or handshake fails. */
async function statusOf(url: string, tls: Record<string, string>): Promise<number | "refused"> {
  try {
    const response = await fetch(url, { tls });
    await response.text();
    return response.status;
  } catch {
    return "refused";
  }
}

describe("loadTls: inputs", () => {
  test("all three paths empty means plain HTTP", async () => {
    expect(await loadTls({ cert: "", key: "", clientCa: "" })).toBeNull();
  });

  test("a cert or key missing while anything is set is an error", async () => {
    for (const paths of [
      { cert: "c.pem", key: "", clientCa: "" },
      { cert: "", key: "k.pem", clientCa: "" },
      { cert: "", key: "", clientCa: "ca.pem" },
      { cert: "c.pem", key: "", clientCa: "ca.pem" },
    ]) {
      expect(await configError(loadTls(paths))).toBe("metrics TLS requires both cert and key");
    }
  });

  test("an unreadable cert or key is a load error", async () => {
    const missing = join(tmpdir(), "reproq-no-such-dir", "cert.pem");
    expect(await configError(loadTls({ cert: missing, key: missing, clientCa: "" }))).toStartWith("load metrics TLS cert/key: ");
    expect(await configError(loadTls({ cert: missing, key: missing, clientCa: "" }))).toContain("ENOENT");
  });

  withOpenssl("a cert that is not a certificate, a key that is not a key, or a mismatched pair is a load error", async () => {
    const notCert = await configError(loadTls({ cert: file("server.key"), key: file("server.key"), clientCa: "" }));
    expect(notCert).toStartWith("load metrics TLS cert/key: ");
    expect(notCert).toContain("server.key is not valid PEM");
    const notKey = await configError(loadTls({ cert: file("server.pem"), key: file("server.pem"), clientCa: "" }));
    expect(notKey).toStartWith("load metrics TLS cert/key: private key");
    const mismatch = await configError(loadTls({ cert: file("server.pem"), key: file("client.key"), clientCa: "" }));
    expect(mismatch).toStartWith("load metrics TLS cert/key: ");
    expect(mismatch).toContain("does not match");
  });

  withOpenssl("an unreadable client CA is a read error", async () => {
    const message = await configError(loadTls({ ...serverPaths(), clientCa: file("no-such-ca.pem") }));
    expect(message).toStartWith("read metrics TLS client CA: ");
    expect(message).toContain("ENOENT");
  });

  withOpenssl("a client CA without a valid certificate is an error", async () => {
    writeFileSync(file("broken-ca.pem"), BROKEN_CERT_BLOCK);
    for (const clientCa of [file("ca.key"), file("broken-ca.pem")]) {
      expect(await configError(loadTls({ ...serverPaths(), clientCa }))).toBe("metrics TLS client CA has no valid certificates");
    }
  });

  withOpenssl("invalid blocks in the client CA are skipped, valid ones kept", async () => {
    writeFileSync(file("mixed-ca.pem"), BROKEN_CERT_BLOCK + (await text("ca.pem")));
    const setup = await loadTls({ ...serverPaths(), clientCa: file("mixed-ca.pem") });
    expect(setup?.ca).toHaveLength(1);
    expect(setup?.ca?.[0]?.trim()).toBe((await text("ca.pem")).trim());
  });

  withOpenssl("cert and key only: strings from the files, no client verification", async () => {
    expect(await loadTls(serverPaths())).toEqual({ cert: await text("server.pem"), key: await text("server.key") });
  });

  withOpenssl("with a client CA: ca, requestCert and rejectUnauthorized are set", async () => {
    const setup = await loadTls({ ...serverPaths(), clientCa: file("ca.pem") });
    expect(setup).toMatchObject({ requestCert: true, rejectUnauthorized: true });
    expect(setup?.ca).toHaveLength(1);
  });
});

describe("Bun.serve with loadTls", () => {
  withOpenssl("HTTPS GET works for a client trusting the CA", async () => {
    const setup = await loadTls(serverPaths());
    expect(setup).not.toBeNull();
    await withServer(setup as TlsSetup, async (url) => {
      expect(await statusOf(url, { ca: await text("ca.pem") })).toBe(200);
      // Plain HTTP on the TLS port gets no response.
      expect(await statusOf(url.replace("https:", "http:"), {})).not.toBe(200);
    });
  });

  withOpenssl("TLS 1.1 is refused, TLS 1.2 accepted", async () => {
    const setup = await loadTls(serverPaths());
    await withServer(setup as TlsSetup, async (_url, port) => {
      const handshake = async (version: string) => {
        // SECLEVEL=0 lets the openssl client offer old protocols, so any refusal is the server's.
        const proc = Bun.spawn([OPENSSL ?? "openssl", "s_client", "-connect", `127.0.0.1:${port}`, version, "-cipher", "DEFAULT@SECLEVEL=0"], {
          stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 10_000,
        });
        const output = (await new Response(proc.stdout).text()) + (await new Response(proc.stderr).text());
        await proc.exited;
        return output;
      };
      expect(await handshake("-tls1_1")).toContain("Cipher is (NONE)");
      expect(await handshake("-tls1_2")).toMatch(/New, TLSv1\.2, Cipher is [A-Z0-9-]+/);
    });
  });

  withOpenssl("mTLS: no client certificate refused, a CA-signed one accepted, a stranger's refused", async () => {
    const setup = await loadTls({ ...serverPaths(), clientCa: file("ca.pem") });
    const ca = await text("ca.pem");
    await withServer(setup as TlsSetup, async (url) => {
      expect(await statusOf(url, { ca })).toBe("refused");
      expect(await statusOf(url, { ca, cert: await text("client.pem"), key: await text("client.key") })).toBe(200);
      expect(await statusOf(url, { ca, cert: await text("stranger.pem"), key: await text("stranger.key") })).toBe("refused");
    });
  });

  withOpenssl("a client CA without requestCert would not ask for certificates (why loadTls sets it)", async () => {
    const setup = await loadTls(serverPaths());
    const ca = await text("ca.pem");
    await withServer({ ...(setup as TlsSetup), ca: [ca], rejectUnauthorized: true }, async (url) => {
      expect(await statusOf(url, { ca })).toBe(200);
    });
  });
});
