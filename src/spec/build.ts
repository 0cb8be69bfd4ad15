// The task spec exactly as reproq-django's ReproqBackend.enqueue builds it (django-contract §2.1):
// always the same keys, reserved kwargs removed, and Django's coercions (blank concurrency key →
// null, bad or negative concurrency limit → 0, missing priority → 0).

export const SPEC_VERSION = 1;
export const DEFAULT_QUEUE = "default";
export const DEFAULT_TIMEOUT_SECONDS = 900;
export const DEFAULT_MAX_ATTEMPTS = 3;

/** Kwargs the backend reads as enqueue options and strips from the task's kwargs. */
export const RESERVED_KWARGS = ["run_after", "lock_key", "priority", "concurrency_key", "concurrency_limit"] as const;

export interface TaskSpec {
  v: number;
  task_path: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  takes_context: boolean;
  queue_name: string;
  priority: number;
  lock_key: string | null;
  concurrency_key: string | null;
  concurrency_limit: number;
  run_after: string | null;
  exec: { timeout_seconds: number; max_attempts: number };
  provenance: { code_ref: string | null; pip_lock_hash: string | null };
}

export interface TaskSpecInput {
  taskPath: string;
  args?: readonly unknown[];
  /** Task kwargs. Reserved keys are removed; each is used as its option when the option is not given. */
  kwargs?: Readonly<Record<string, unknown>>;
  takesContext?: boolean;
  queueName?: string | null;
  priority?: number | null;
  lockKey?: string | null;
  concurrencyKey?: string | null;
  /** Coerced like Python's int(): invalid or negative → 0 (no limit). */
  concurrencyLimit?: unknown;
  /** Already in Python isoformat (see formatRunAfter), or null. */
  runAfter?: string | null;
  timeoutSeconds?: number;
  maxAttempts?: number;
  codeRef?: string | null;
  pipLockHash?: string | null;
}

export function buildTaskSpec(input: TaskSpecInput): TaskSpec {
  const kwargs: Record<string, unknown> = { ...(input.kwargs ?? {}) };
  const reserved: Record<string, unknown> = {};
  for (const key of RESERVED_KWARGS) {
    if (Object.hasOwn(kwargs, key)) {
      reserved[key] = kwargs[key];
      delete kwargs[key];
    }
  }
  const pick = <T>(given: T | undefined, key: (typeof RESERVED_KWARGS)[number]): unknown => (given !== undefined ? given : reserved[key]);
  const priority = pick(input.priority, "priority");
  const lockKey = pick(input.lockKey, "lock_key");
  const runAfter = pick(input.runAfter, "run_after");
  return {
    v: SPEC_VERSION,
    task_path: input.taskPath,
    args: [...(input.args ?? [])],
    kwargs,
    takes_context: input.takesContext ?? false,
    queue_name: input.queueName || DEFAULT_QUEUE,
    priority: typeof priority === "number" ? priority : 0,
    lock_key: typeof lockKey === "string" ? lockKey : null,
    concurrency_key: normalizeConcurrencyKey(pick(input.concurrencyKey, "concurrency_key")),
    concurrency_limit: coerceConcurrencyLimit(pick(input.concurrencyLimit, "concurrency_limit")),
    run_after: typeof runAfter === "string" ? runAfter : null,
    exec: {
      timeout_seconds: input.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
      max_attempts: input.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    },
    provenance: { code_ref: input.codeRef || null, pip_lock_hash: input.pipLockHash || null },
  };
}

/** Blank or whitespace-only (or not a string) → null, like the backend. */
export function normalizeConcurrencyKey(key: unknown): string | null {
  return typeof key === "string" && key.trim() !== "" ? key : null;
}

/** Python `int(value)` with errors and negatives becoming 0. */
export function coerceConcurrencyLimit(value: unknown): number {
  let n: number;
  if (typeof value === "boolean") n = value ? 1 : 0;
  else if (typeof value === "number") n = Number.isFinite(value) ? Math.trunc(value) : 0;
  else if (typeof value === "bigint") n = Number(value);
  else if (typeof value === "string" && /^\s*[+-]?\d+(_\d+)*\s*$/.test(value)) n = Number(value.replaceAll("_", "").trim());
  else n = 0;
  return n > 0 && Number.isSafeInteger(n) ? n : 0;
}

const ISO_DATETIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * An ISO 8601 date-time with an offset → Python's `isoformat()` of the same instant in UTC:
 * `2026-01-01T12:00:00+00:00`, or `…:00.123400+00:00` when there are microseconds. Returns null
 * for text that is not such a date-time; throws RangeError for a naive one (Django raises too).
 */
export function formatRunAfter(text: string): string | null {
  const match = ISO_DATETIME.exec(text.trim());
  if (!match) return null;
  const [, y, mo, d, h, mi, s = "00", fraction = "", zone] = match;
  if (zone === undefined) throw new RangeError("naive date-time: add an offset (Z or +HH:MM)");
  const year = Number(y), month = Number(mo), day = Number(d), hour = Number(h), minute = Number(mi), second = Number(s);
  const local = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(local);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) return null;
  let offsetMinutes = 0;
  if (zone.toUpperCase() !== "Z") {
    const digits = zone.replace(":", "");
    const zh = Number(digits.slice(1, 3)), zm = Number(digits.slice(3, 5));
    if (zh > 23 || zm > 59) return null;
    offsetMinutes = (zh * 60 + zm) * (digits.startsWith("-") ? -1 : 1);
  }
  const utc = new Date(local - offsetMinutes * 60_000);
  const micros = fraction.padEnd(6, "0");
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  const date = `${pad(utc.getUTCFullYear(), 4)}-${pad(utc.getUTCMonth() + 1)}-${pad(utc.getUTCDate())}`;
  const time = `${pad(utc.getUTCHours())}:${pad(utc.getUTCMinutes())}:${pad(utc.getUTCSeconds())}`;
  return `${date}T${time}${micros === "000000" ? "" : `.${micros}`}+00:00`;
}
