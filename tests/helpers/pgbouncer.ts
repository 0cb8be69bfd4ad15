// A real PgBouncer started by a test: a generated ini (auth_type trust, the given pool_mode) on a
// free port, forwarding every database to the test server. PgBouncer refuses to run as root, so
// as root it drops to `nobody` (-u). Tests skip with PGBOUNCER_MISSING when the binary is absent.
import { existsSync, chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { parseDsn } from "../../src/db/dsn.ts";
import { baseDsn, buildDsn } from "./db.ts";
import { freePort } from "./net.ts";

const CANDIDATES = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer", "/usr/local/bin/pgbouncer"];

/** Path of the pgbouncer binary, or null. */
export const PGBOUNCER: string | null = CANDIDATES.find((path) => existsSync(path)) ?? Bun.which("pgbouncer");

export const PGBOUNCER_MISSING = "pgbouncer is not installed (Debian: apt-get install pgbouncer)";

export interface PgBouncer {
  port: number;
  /** The DSN of `database` through this PgBouncer. */
  dsnFor(database: string): string;
  output(): string;
  stop(): Promise<void>;
}

export async function startPgBouncer(poolMode: "transaction" | "session", options: { poolSize?: number } = {}): Promise<PgBouncer> {
  if (!PGBOUNCER) throw new Error(PGBOUNCER_MISSING);
  const base = parseDsn(await baseDsn(), process.env);
  const dir = mkdtempSync(join(tmpdir(), "reproq-pgbouncer-"));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const users = join(dir, "users.txt");
  // Clients are trusted; PgBouncer logs in to the server with this password (the embedded test
  // server uses scram-sha-256; the local one trusts and ignores it).
  writeFileSync(users, `"${base.user}" "${base.password ?? ""}"\n`, { mode: 0o644 });
  const ini = join(dir, "pgbouncer.ini");
  writeFileSync(ini, [
    "[databases]",
    `* = host=${base.host} port=${base.port}`,
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${port}`,
    "unix_socket_dir =",
    "auth_type = trust",
    `auth_file = ${users}`,
    `pool_mode = ${poolMode}`,
    "max_client_conn = 500",
    `default_pool_size = ${options.poolSize ?? 20}`,
    "ignore_startup_parameters = extra_float_digits",
    "",
  ].join("\n"), { mode: 0o644 });
  const asRoot = process.getuid?.() === 0;
  const proc: Subprocess<"ignore", "pipe", "pipe"> = Bun.spawn([PGBOUNCER, ...(asRoot ? ["-u", "nobody"] : []), ini], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let text = "";
  const pump = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) text += decoder.decode(chunk, { stream: true });
  })();
  const deadline = performance.now() + 10_000;
  while (!text.includes("process up")) {
    if (proc.exitCode !== null || performance.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`pgbouncer did not start:\n${text}`);
    }
    await Bun.sleep(25);
  }
  return {
    port,
    dsnFor: (database) => buildDsn({ ...base, host: "127.0.0.1", port, database, sslmode: "disable" }),
    output: () => text,
    async stop() {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
      await proc.exited;
      clearTimeout(timer);
      await pump.catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
