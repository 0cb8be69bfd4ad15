// `reproq doctor`: a checklist of everything the worker needs. Each check is ok, warn or fail;
// the command exits 1 when any check fails. Checks that depend on an earlier failure (no DSN →
// no connection → no schema) are skipped rather than reported as more failures.
import { loadConfig, type Config } from "../config/index.ts";
import { closeDb, connectDb, type Sql } from "../db/client.ts";
import { describeDsn, parseDsn } from "../db/dsn.ts";
import { schemaStatus } from "../db/migrate.ts";
import { detectTransactionPooler } from "../db/pooler.ts";
import { checkSchema, type SchemaCheck } from "../db/schema-check.ts";
import { MIN_SERVER_VERSION, serverInfo } from "../db/server.ts";
import { ConfigError, errorMessage } from "../errors.ts";
import { probeExecutor, type ProbeStatus } from "../executor/probe.ts";
import { pythonSpeedHint } from "../executor/python-pool/speed-hint.ts";
import { poolerVerdict, refusalMessage, SAFE_ENV, SAFE_FLAGS } from "../worker/pooler-guard.ts";
import { hazardChecks } from "./hazards.ts";
import { queuedTaskPathCheck, workerSettingChecks } from "./worker-settings.ts";

export type CheckStatus = ProbeStatus;

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  detail: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: DoctorCheck[];
}

export interface DoctorOptions {
  flags: Record<string, string | boolean | undefined>;
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** Loads the full configuration; on problems, falls back to the database settings alone. */
async function configChecks(options: DoctorOptions): Promise<{ config: Config | null; checks: DoctorCheck[] }> {
  const base = { flags: options.flags, ...(options.env ? { env: options.env } : {}), ...(options.cwd ? { cwd: options.cwd } : {}) };
  try {
    const config = await loadConfig({ ...base, scope: "all" });
    const where = config.configFile ?? "no config file; defaults, environment and flags";
    const checks: DoctorCheck[] = [{ name: "config", status: "ok", detail: `valid (${where})` }];
    for (const warning of config.warnings) checks.push({ name: "config", status: "warn", detail: warning });
    return { config, checks };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const checks = error.problems.map((problem): DoctorCheck => ({ name: "config", status: "fail", detail: problem }));
    try {
      return { config: await loadConfig({ ...base, scope: "db" }), checks };
    } catch {
      return { config: null, checks };
    }
  }
}

/** Columns are summarised per table (one line) unless one of them fails; everything else is listed. */
function schemaToChecks(results: SchemaCheck[]): DoctorCheck[] {
  const columnsOf = (table: string) => results.filter((result) => result.name.startsWith(`column ${table}.`));
  const out: DoctorCheck[] = [];
  for (const result of results) {
    if (result.name.startsWith("column ")) continue;
    out.push({ name: result.name, status: result.ok ? "ok" : "fail", detail: result.detail });
    const table = /^table (.+)$/.exec(result.name)?.[1];
    if (!table || !result.ok) continue;
    const columns = columnsOf(table);
    const failing = columns.filter((column) => !column.ok);
    if (failing.length === 0) out.push({ name: `columns of ${table}`, status: "ok", detail: `all ${columns.length} present with usable types` });
    for (const column of failing) out.push({ name: column.name, status: "fail", detail: column.detail });
  }
  return out;
}

async function databaseChecks(sql: Sql): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const server = await serverInfo(sql);
  checks.push(server.versionNumber >= MIN_SERVER_VERSION
    ? { name: "server version", status: "ok", detail: `PostgreSQL ${server.version}` }
    : { name: "server version", status: "fail", detail: `PostgreSQL ${server.version}; reproq needs 12 or newer` });
  checks.push(...schemaToChecks(await checkSchema(sql)));
  const status = await schemaStatus(sql);
  checks.push(status.pending.length === 0
    ? { name: "migrations", status: "ok", detail: `all ${status.applied.length} applied` }
    : { name: "migrations", status: "fail", detail: `pending: ${status.pending.join(", ")}; run \`reproq migrate\`` });
  if (status.unknown.length > 0) {
    checks.push({ name: "migrations", status: "warn", detail: `applied by a newer reproq: ${status.unknown.join(", ")}; upgrade this binary` });
  }
  if (status.changed.length > 0) {
    checks.push({ name: "migrations", status: "warn", detail: `applied from a different text: ${status.changed.join(", ")}` });
  }
  return checks;
}

/** Whether prepared statements and LISTEN would cross a transaction pooler (pooler-guard.ts). */
async function poolerCheck(config: Config): Promise<DoctorCheck> {
  const name = "connection pooler";
  const verdict = poolerVerdict(config, await detectTransactionPooler({ dsn: config.dsn, env: config.env, connectTimeoutMs: config.database.connectTimeoutMs, applicationName: "reproq doctor" }));
  switch (verdict.kind) {
    case "none":
      return { name, status: "ok", detail: "no transaction pooler detected (the server connection stays the same between statements)" };
    case "safe":
      return { name, status: "ok", detail: "transaction pooler detected; prepared statements and LISTEN are off" };
    case "switch":
      return { name, status: "warn", detail: `transaction pooler detected; the worker switches ${verdict.settings.join(" and ")} off at start-up: make it explicit with ${SAFE_FLAGS} (or ${SAFE_ENV})` };
    case "refuse":
      return { name, status: "fail", detail: refusalMessage(verdict.settings) };
  }
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const { config, checks } = await configChecks(options);
  if (config) checks.push(...(await workerSettingChecks(config)));
  const dsn = config?.dsn.trim() ?? "";
  if (!config || dsn === "") {
    checks.push({ name: "dsn", status: "fail", detail: "DSN required (use --dsn, DATABASE_URL, or config file)" });
  } else {
    await connectAndCheck(config, checks);
  }
  if (config) {
    checks.push(...(await probeExecutor(config.worker, config.env)));
    const speedHint = pythonSpeedHint(config.worker);
    if (speedHint !== null) checks.push({ name: "python executor speed", status: "ok", detail: speedHint });
  }
  return { ok: checks.every((check) => check.status !== "fail"), checks };
}

async function connectAndCheck(config: Config, checks: DoctorCheck[]): Promise<void> {
  let described: string;
  try {
    described = describeDsn(parseDsn(config.dsn, config.env));
    checks.push({ name: "dsn", status: "ok", detail: described });
  } catch (error) {
    checks.push({ name: "dsn", status: "fail", detail: errorMessage(error) });
    return;
  }
  let sql: Sql;
  const started = performance.now();
  try {
    sql = await connectDb({
      dsn: config.dsn,
      env: config.env,
      poolSize: 2,
      connectTimeoutMs: config.database.connectTimeoutMs,
      prepare: false, // a handful of statements, safe through any pooler (the pooler check is below)
      applicationName: "reproq doctor",
    });
  } catch (error) {
    checks.push({ name: "connect", status: "fail", detail: errorMessage(error) });
    return;
  }
  try {
    checks.push({ name: "connect", status: "ok", detail: `connected in ${Math.round(performance.now() - started)} ms` });
    checks.push(await poolerCheck(config));
    checks.push(...(await databaseChecks(sql)));
    if (checks.some((check) => check.name === "table task_runs" && check.status === "ok")) {
      checks.push(await queuedTaskPathCheck(sql, config.worker.allowedTaskModules));
    }
    checks.push(...(await hazardChecks(sql).catch((error: unknown): DoctorCheck[] => [{ name: "database hazards", status: "warn", detail: `could not read: ${errorMessage(error)}` }])));
  } catch (error) {
    checks.push({ name: "database", status: "fail", detail: errorMessage(error) });
  } finally {
    await closeDb(sql);
  }
}
