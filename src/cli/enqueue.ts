// reproq enqueue TASK_PATH: insert a READY task exactly as reproq-django's backend would (SPEC §2,
// §8): the same spec keys, canonical JSON, spec_hash, and dedup of an active identical spec.
// stdout carries only the result id (or, with --json, one JSON document); the human line goes to
// stderr, so `id=$(reproq enqueue …)` works on a terminal and in scripts alike.
import { defineCommand } from "citty";
import { configArgs } from "../config/index.ts";
import { DurationError, parseGoDuration } from "../config/duration.ts";
import { closeDb } from "../db/client.ts";
import { UsageError } from "../errors.ts";
import { clockIsoAfter, enqueueRowFromSpec, taskEnqueue, taskGet } from "../queue/enqueue.ts";
import {
  buildTaskSpec,
  canonicalJson,
  CanonicalJsonError,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_QUEUE,
  DEFAULT_TIMEOUT_SECONDS,
  formatRunAfter,
  parseJsonPreservingNumbers,
  PyFloat,
  RESERVED_KWARGS,
} from "../spec/index.ts";
import { flagValues, loadCommandConfig, openDatabase } from "./context.ts";
import { uiOf } from "./ui.ts";

const settingArgs = configArgs("db");
const INT32_MAX = 2_147_483_647;
/** The backend alias Django's default TASKS entry uses. */
const BACKEND_ALIAS = "default";

export default defineCommand({
  meta: {
    name: "enqueue",
    description: "Insert a READY task exactly as reproq-django would (canonical spec, spec_hash, dedup of active identical specs); prints the result id",
  },
  args: {
    ...settingArgs,
    task_path: { type: "positional", required: true, description: "Dotted path of the task function (myapp.tasks.send_email)" },
    args: { type: "string", valueHint: "json", description: "Positional arguments as a JSON array (default [])" },
    kwargs: { type: "string", valueHint: "json", description: "Keyword arguments as a JSON object (default {})" },
    queue: { type: "string", valueHint: "name", description: `Queue name (default "${DEFAULT_QUEUE}")` },
    priority: { type: "string", valueHint: "int", description: "Priority, higher runs first (default 0)" },
    "run-after": { type: "string", valueHint: "iso|+duration", description: "Not before this time: ISO 8601 with an offset, or +30s/+5m/+2h from the database clock" },
    "lock-key": { type: "string", valueHint: "key", description: "At most one RUNNING task per lock key" },
    "concurrency-key": { type: "string", valueHint: "key", description: "Concurrency group (with --concurrency-limit)" },
    "concurrency-limit": { type: "string", valueHint: "int", description: "Most RUNNING tasks of the concurrency group (default 0 = no limit)" },
    "max-attempts": { type: "string", valueHint: "int", description: `Attempts before FAILED (default ${DEFAULT_MAX_ATTEMPTS})` },
    timeout: { type: "string", valueHint: "seconds", description: `Run time limit in seconds (default ${DEFAULT_TIMEOUT_SECONDS})` },
    "code-ref": { type: "string", valueHint: "ref", description: "provenance.code_ref (Django's CODE_REF option; default null)" },
    "pip-lock-hash": { type: "string", valueHint: "hash", description: "provenance.pip_lock_hash (Django's PIP_LOCK_HASH option; default null)" },
    json: { type: "boolean", description: "Print {created, task} with the whole row as one JSON document" },
  },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    const input = parseInputs(args);
    const config = await loadCommandConfig(ui, "db", flagValues(args, Object.keys(settingArgs)));
    const sql = await openDatabase(config, { poolSize: 2 });
    try {
      const runAfter = input.runAfterSeconds !== null ? await clockIsoAfter(sql, { seconds: input.runAfterSeconds }) : input.runAfterIso;
      const spec = buildTaskSpec({ ...input.spec, runAfter });
      const row = enqueueRowFromSpec(spec, BACKEND_ALIAS);
      const specHash = row.specHash;
      const result = await taskEnqueue(sql, row);
      if (args.json) {
        const task = await taskGet(sql, { resultId: result.resultId });
        ui.out(JSON.stringify({ created: result.created, task }));
        return 0;
      }
      ui.out(result.resultId);
      if (result.created) ui.success(`Enqueued task ${result.resultId} (${spec.task_path} on queue ${spec.queue_name}, spec_hash ${specHash})`);
      else ui.info(`Task already queued as #${result.resultId} (an active task has the same spec_hash ${specHash}); nothing inserted`);
      return 0;
    } finally {
      await closeDb(sql);
    }
  },
});

interface ParsedInputs {
  spec: Parameters<typeof buildTaskSpec>[0];
  runAfterIso: string | null;
  runAfterSeconds: number | null;
}

/** Validates every flag before any connection; throws UsageError (exit 2) with one clear line. */
function parseInputs(args: Record<string, unknown>): ParsedInputs {
  const text = (name: string): string | undefined => (typeof args[name] === "string" ? (args[name] as string) : undefined);
  const taskPath = (text("task_path") ?? "").trim();
  if (!/^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$/.test(taskPath)) {
    throw new UsageError(`TASK_PATH must be a dotted Python path like myapp.tasks.send_email, got ${JSON.stringify(text("task_path") ?? "")}`);
  }
  const taskArgs = parseJsonFlag("args", text("args"), "array");
  const kwargs = parseJsonFlag("kwargs", text("kwargs"), "object");
  for (const key of RESERVED_KWARGS) {
    if (Object.hasOwn(kwargs, key)) throw new UsageError(`--kwargs key "${key}" is reserved by the backend: use --${key.replaceAll("_", "-")} instead`);
  }
  const concurrencyKey = text("concurrency-key");
  const concurrencyLimit = parseIntFlag("concurrency-limit", text("concurrency-limit"), 0, INT32_MAX);
  if (concurrencyLimit !== undefined && concurrencyLimit > 0 && (concurrencyKey === undefined || concurrencyKey.trim() === "")) {
    throw new UsageError("--concurrency-limit needs --concurrency-key");
  }
  const queue = text("queue");
  if (queue !== undefined && queue.trim() === "") throw new UsageError("--queue must not be empty");
  const run = parseRunAfter(text("run-after"));
  const spec = {
    taskPath,
    args: taskArgs,
    kwargs,
    queueName: queue ?? DEFAULT_QUEUE,
    priority: parseIntFlag("priority", text("priority"), -INT32_MAX - 1, INT32_MAX) ?? 0,
    lockKey: text("lock-key") ?? null,
    concurrencyKey: concurrencyKey ?? null,
    concurrencyLimit: concurrencyLimit ?? 0,
    maxAttempts: parseIntFlag("max-attempts", text("max-attempts"), 1, INT32_MAX) ?? DEFAULT_MAX_ATTEMPTS,
    timeoutSeconds: parseIntFlag("timeout", text("timeout"), 1, INT32_MAX) ?? DEFAULT_TIMEOUT_SECONDS,
    codeRef: text("code-ref") || null,
    pipLockHash: text("pip-lock-hash") || null,
  };
  // Refuse now what canonical JSON or jsonb would refuse later (lone surrogates, NUL, NaN).
  try {
    canonicalJson({ args: spec.args, kwargs: spec.kwargs });
  } catch (err) {
    if (err instanceof CanonicalJsonError) throw new UsageError(`--args/--kwargs cannot be stored: ${err.message}`);
    throw err;
  }
  if (containsNul(spec)) throw new UsageError("--args/--kwargs contain a NUL character (\\u0000), which PostgreSQL cannot store in jsonb");
  return { spec, ...run };
}

function parseJsonFlag(name: "args", raw: string | undefined, want: "array"): unknown[];
function parseJsonFlag(name: "kwargs", raw: string | undefined, want: "object"): Record<string, unknown>;
function parseJsonFlag(name: string, raw: string | undefined, want: "array" | "object"): unknown {
  const expected = want === "array" ? "a JSON array" : "a JSON object";
  if (raw === undefined) return want === "array" ? [] : {};
  let value: unknown;
  try {
    value = parseJsonPreservingNumbers(raw);
  } catch (err) {
    throw new UsageError(`--${name} must be ${expected}, got invalid JSON ${JSON.stringify(shorten(raw))} (${(err as Error).message})`);
  }
  const isArray = Array.isArray(value);
  const isObject = typeof value === "object" && value !== null && !isArray && !(value instanceof PyFloat);
  if ((want === "array" && !isArray) || (want === "object" && !isObject)) {
    throw new UsageError(`--${name} must be ${expected}, got ${describeJson(value)} ${JSON.stringify(shorten(raw))}`);
  }
  return value;
}

function describeJson(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof PyFloat || typeof value === "number" || typeof value === "bigint") return "a number";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}

function shorten(raw: string): string {
  return raw.length > 80 ? `${raw.slice(0, 77)}...` : raw;
}

function parseIntFlag(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  const value = /^[+-]?\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isSafeInteger(value)) throw new UsageError(`--${name} must be an integer, got ${JSON.stringify(raw)}`);
  if (value < min || value > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** `+30s`/`+5m`/`+1h30m` → seconds from the database clock; ISO 8601 with an offset → isoformat text. */
function parseRunAfter(raw: string | undefined): { runAfterIso: string | null; runAfterSeconds: number | null } {
  if (raw === undefined || raw.trim() === "") return { runAfterIso: null, runAfterSeconds: null };
  const trimmed = raw.trim();
  const bad = (why: string) => new UsageError(`--run-after must be an ISO 8601 time with an offset (2026-01-01T12:00:00Z) or +DURATION (+30s, +5m, +2h), got ${JSON.stringify(raw)}${why}`);
  if (trimmed.startsWith("+")) {
    let ms: number;
    try {
      ms = parseGoDuration(trimmed.slice(1));
    } catch (err) {
      if (err instanceof DurationError) throw bad("");
      throw err;
    }
    if (trimmed.slice(1).startsWith("-") || trimmed.slice(1).startsWith("+")) throw bad("");
    return { runAfterIso: null, runAfterSeconds: ms / 1000 };
  }
  let iso: string | null;
  try {
    iso = formatRunAfter(trimmed);
  } catch (err) {
    if (err instanceof RangeError) throw bad(`: ${err.message}`);
    throw err;
  }
  if (iso === null) throw bad("");
  return { runAfterIso: iso, runAfterSeconds: null };
}

function containsNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\0");
  if (Array.isArray(value)) return value.some(containsNul);
  if (value !== null && typeof value === "object" && !(value instanceof PyFloat)) {
    return Object.entries(value).some(([key, inner]) => key.includes("\0") || containsNul(inner));
  }
  return false;
}
