// Throw-away certificates for TLS tests, made with the openssl command line in a temporary
// directory: a CA (ca.pem/ca.key), a server certificate for 127.0.0.1 signed by it
// (server.pem/server.key), a client certificate signed by it (client.pem/client.key) and a
// self-signed client certificate from a CA nobody trusts (stranger.pem/stranger.key).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The openssl executable, or null when it is not on PATH (tests then skip). */
export const OPENSSL = Bun.which("openssl");

export interface CertDir {
  dir: string;
  /** Absolute path of a file in the directory. */
  file(name: string): string;
  /** Contents of a file in the directory. */
  text(name: string): Promise<string>;
  /** Runs openssl in the directory; throws with its stderr on failure. */
  openssl(...args: string[]): void;
  /** A key and a certificate signed by `ca.pem`, with the given extensions (extfile lines). */
  issue(name: string, subject: string, extensions: string): void;
  /** Removes the directory. Idempotent. */
  remove(): void;
}

/** An empty temporary directory with the helpers above; no certificates yet. */
export function createCertDir(prefix = "reproq-tls-"): CertDir {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]): void => {
    const result = Bun.spawnSync([OPENSSL ?? "openssl", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    if (result.exitCode !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${result.stderr.toString()}`);
  };
  return {
    dir,
    file,
    text: (name) => Bun.file(file(name)).text(),
    openssl,
    issue(name, subject, extensions) {
      openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject);
      writeFileSync(file(`${name}.ext`), extensions);
      openssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`);
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Creates ca, server (127.0.0.1), client and stranger key pairs in `certs` (needs openssl). */
export function issueTestCerts(certs: CertDir): void {
  certs.openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=reproq test CA");
  certs.issue("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  certs.issue("client", "/CN=reproq test client", "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n");
  // A client certificate from a CA the server does not trust.
  certs.openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "stranger.key", "-out", "stranger.pem", "-days", "2",
    "-subj", "/CN=stranger", "-addext", "extendedKeyUsage=clientAuth");
}
