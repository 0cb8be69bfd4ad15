// TLS and mTLS for the worker's HTTP listener. Files are read and checked once at start-up so a
// bad path or a mismatched key is a clear config error instead of a failed handshake later.
//
// Bun's server refuses TLS 1.0 and 1.1 by default (there is no minVersion option in its
// TLSOptions), so the TLS 1.2 floor needs no setting; tests/unit/http-tls.test.ts guards it.
// A client CA alone does not make Bun ask for client certificates: `requestCert: true` does, and
// `rejectUnauthorized: true` then refuses clients without a certificate the CA signed.
import { X509Certificate, createPrivateKey } from "node:crypto";
import { readFile } from "node:fs/promises";
import { ReproqError, errorMessage } from "../errors.ts";

/** The `tls` value handed to `Bun.serve`. */
export interface TlsSetup {
  cert: string;
  key: string;
  /** Client CA certificates (PEM, one per entry); present only for mTLS. */
  ca?: string[];
  requestCert?: boolean;
  rejectUnauthorized?: boolean;
}

export interface TlsPaths {
  cert: string;
  key: string;
  clientCa: string;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Runs a PEM parser, naming the file in the error (OpenSSL's reasons alone are cryptic). */
function parsePem<T>(what: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new Error(`${what} is not valid PEM (${errorMessage(error)})`, { cause: error });
  }
}

async function loadKeyPair(certPath: string, keyPath: string): Promise<{ cert: string; key: string }> {
  try {
    const [cert, key] = await Promise.all([readFile(certPath, "utf8"), readFile(keyPath, "utf8")]);
    const x509 = parsePem(`certificate ${certPath}`, () => new X509Certificate(cert));
    const privateKey = parsePem(`private key ${keyPath}`, () => createPrivateKey(key));
    if (!x509.checkPrivateKey(privateKey)) throw new Error(`private key ${keyPath} does not match certificate ${certPath}`);
    return { cert, key };
  } catch (error) {
    throw new ReproqError("config", `load metrics TLS cert/key: ${errorMessage(error)}`, { cause: error });
  }
}

/** The CA file's certificates that parse; invalid blocks are skipped, as Go's cert pool does. */
async function loadClientCa(path: string): Promise<string[]> {
  let pem: string;
  try {
    pem = await readFile(path, "utf8");
  } catch (error) {
    throw new ReproqError("config", `read metrics TLS client CA: ${errorMessage(error)}`, { cause: error });
  }
  const valid = (pem.match(PEM_CERTIFICATE) ?? []).filter((block) => {
    try {
      new X509Certificate(block);
      return true;
    } catch {
      return false;
    }
  });
  if (valid.length === 0) throw new ReproqError("config", "metrics TLS client CA has no valid certificates");
  return valid;
}

/** Null when TLS is off (all three paths empty); otherwise the checked options for Bun.serve. */
export async function loadTls(paths: TlsPaths): Promise<TlsSetup | null> {
  if (paths.cert === "" && paths.key === "" && paths.clientCa === "") return null;
  if (paths.cert === "" || paths.key === "") throw new ReproqError("config", "metrics TLS requires both cert and key");
  const pair = await loadKeyPair(paths.cert, paths.key);
  if (paths.clientCa === "") return pair;
  const ca = await loadClientCa(paths.clientCa);
  return { ...pair, ca, requestCert: true, rejectUnauthorized: true };
}
