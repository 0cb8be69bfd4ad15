// Scrubbing secrets out of free text (error messages, tracebacks, stdout excerpts) before it
// reaches a log line, an /events event or top's event tail. Two rules:
//   1. the task's own argument values: every string of 4+ characters found anywhere in
//      spec_json's `args` and `kwargs` (also as it appears JSON-escaped, and cut short before "…");
//   2. the values of secret-looking pairs: `password=…`, `token: …`, `"api_key": "…"`,
//      `'secret': '…'`, `\"auth\": \"…\"`, `Authorization: Bearer …`, URL passwords.
// Keys and the rest of the text stay, so a message keeps what it says about the failure.

export const REDACTED = "[REDACTED]";
/** Shorter argument values are too likely to be ordinary words ("id", "yes") to be worth hiding. */
export const MIN_SECRET_CHARS = 4;

/** Text in, the same text with secrets replaced by REDACTED out. */
export type Redact = (text: string) => string;

/**
 * Attribute and metadata keys whose values identify the task rather than describe it (the
 * worker writes them, never the task): left as they are.
 */
export const IDENTIFIER_KEYS: ReadonlySet<string> = new Set([
  "result_id", "task_id", "spec_hash", "task_path", "queue", "worker_id", "role", "reason", "kind",
  "attempt", "max_attempts", "next_run",
]);

// Whole words of a name ("db_password" → db, password) and fragments of its letters joined
// ("x-api-key" → "xapikey"). "auth" and "session" only as words, so "author" is not a secret.
const SECRET_WORDS = new Set([
  "auth", "authorization", "cookie", "cookies", "credential", "credentials", "jwt", "pass", "passphrase",
  "passwd", "password", "pwd", "secret", "session", "sessionid", "token",
]);
const SECRET_FRAGMENTS = [
  "accesskey", "apikey", "authorization", "cookie", "credential", "passphrase", "passwd", "password",
  "privatekey", "secret", "sessionid", "sessionkey", "token",
];

/** Answers of isSecretName by key name: log and event attributes repeat a few names per task. */
const secretNameMemo = new Map<string, boolean>();
const SECRET_NAME_MEMO_MAX = 4_096;

/** Does a key name look like it holds a secret (password, api_key, X-Auth-Token, sessionid, …)? */
export function isSecretName(name: string): boolean {
  let secret = secretNameMemo.get(name);
  if (secret === undefined) {
    secret = looksSecret(name);
    if (secretNameMemo.size >= SECRET_NAME_MEMO_MAX) secretNameMemo.clear(); // names from task data can vary without bound
    secretNameMemo.set(name, secret);
  }
  return secret;
}

function looksSecret(name: string): boolean {
  const words = name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase().split(/[^a-z0-9]+/).filter((word) => word !== "");
  if (words.some((word) => SECRET_WORDS.has(word))) return true;
  const compact = words.join("");
  return SECRET_FRAGMENTS.some((fragment) => compact.includes(fragment));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Strings of 4+ characters anywhere in the spec's `args` and `kwargs` (values, not keys); longest first. */
export function payloadSecrets(specText: string): string[] {
  let spec: unknown;
  try {
    spec = JSON.parse(specText);
  } catch {
    return [];
  }
  if (!isPlainObject(spec)) return [];
  const found = new Set<string>();
  // An explicit stack: a deeply nested payload must not overflow the call stack.
  const pending: unknown[] = [spec.args, spec.kwargs];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === "string") {
      if (value.length >= MIN_SECRET_CHARS) found.add(value);
    } else if (Array.isArray(value)) pending.push(...value);
    else if (isPlainObject(value)) pending.push(...Object.values(value));
  }
  return [...found].sort((a, b) => b.length - a.length);
}

/** A character JSON.stringify escapes (quote, backslash, control), or one the ASCII spelling escapes. */
const NEEDS_ESCAPING = /["\\\u0000-\u001f\u007f-\uffff]/;

/**
 * Every way the values may appear in text, longest first: as is, JSON-escaped, and JSON-escaped
 * to ASCII (Python's json.dumps).
 */
function spellings(secrets: readonly string[]): string[] {
  const all = new Set<string>();
  for (const secret of secrets) {
    // Most values read the same in every spelling: add them without building the escaped copies
    // (for a large payload each copy is as large as the value).
    if (!NEEDS_ESCAPING.test(secret)) {
      all.add(secret);
      continue;
    }
    const escaped = JSON.stringify(secret).slice(1, -1);
    all.add(secret).add(escaped).add(escaped.replace(/[\u007f-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`));
  }
  return [...all].sort((a, b) => b.length - a.length);
}

/** Where the longest leading part (4+ characters) of `secret` that ends exactly at `end` starts, or -1. */
function cutStart(text: string, end: number, secret: string): number {
  const head = secret.slice(0, MIN_SECRET_CHARS);
  // Candidates are the occurrences of its first characters: linear, whatever the secret's length.
  for (let start = text.indexOf(head, Math.max(0, end - secret.length + 1)); start !== -1 && start <= end - MIN_SECRET_CHARS; start = text.indexOf(head, start + 1)) {
    if (secret.startsWith(text.slice(start, end))) return start;
  }
  return -1;
}

/** A value cut short by an excerpt ("…hunter2-SE…"): its leading 4+ characters right before "…". */
function redactCutValue(text: string, spelled: readonly string[]): string {
  let out = text;
  for (let at = out.indexOf("…"); at !== -1; at = out.indexOf("…", at + 1)) {
    for (const secret of spelled) {
      const start = cutStart(out, at, secret);
      if (start === -1) continue;
      out = `${out.slice(0, start)}${REDACTED}${out.slice(at)}`;
      at = start + REDACTED.length;
      break;
    }
  }
  return out;
}

function redactValues(text: string, spelled: readonly string[]): string {
  let out = text;
  for (const spelling of spelled) if (out.includes(spelling)) out = out.split(spelling).join(REDACTED);
  return out.includes("…") ? redactCutValue(out, spelled) : out;
}

// A key, optionally quoted (also as \" inside JSON text), then ":" or "=". Finding the key alone
// (not key + value in one pattern) lets the scan resume right after a key that is not a secret,
// so "next=token=abc" still finds "token".
const PAIR_KEY = /(?<![A-Za-z0-9_])(\\?["']?)([A-Za-z_][A-Za-z0-9_.-]*)\1[ \t]*[:=][ \t]*/g;
const PAIR_VALUE = new RegExp(
  [
    String.raw`(\\")(?:(?!\\").)*(\\")?`, // \"…\": JSON inside a JSON string
    String.raw`(")(?:[^"\\\n]|\\.)*(")?`, // "…" (an excerpt may cut off the closing quote)
    String.raw`(')(?:[^'\\\n]|\\.)*(')?`, // '…' (Python's repr)
    // bare (with an auth scheme); a value already partly redacted ("sk_[REDACTED]_9") is one value
    String.raw`((?:bearer|basic|digest|token)[ \t]+)?(?:[^\s,;&)\]}"'<>\\{[]|\[REDACTED\])+`,
  ].join("|"),
  "iy",
);
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:)[^\s@/]+@/gi;
const BEARER = /\b(bearer)[ \t]+[A-Za-z0-9._~+/=-]{8,}/gi;

function redactPairs(text: string): string {
  let out = "";
  let copied = 0;
  PAIR_KEY.lastIndex = 0;
  for (let key = PAIR_KEY.exec(text); key !== null; key = PAIR_KEY.exec(text)) {
    if (!isSecretName(key[2] ?? "")) continue;
    const start = key.index + key[0].length;
    PAIR_VALUE.lastIndex = start;
    const value = PAIR_VALUE.exec(text);
    if (value === null) continue;
    const open = value[1] ?? value[3] ?? value[5] ?? value[7] ?? "";
    const close = value[2] ?? value[4] ?? value[6] ?? "";
    out += `${text.slice(copied, start)}${open}${REDACTED}${close}`;
    copied = start + value[0].length;
    PAIR_KEY.lastIndex = copied;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

function redactSpelled(text: string, spelled: readonly string[]): string {
  if (text.length < MIN_SECRET_CHARS) return text;
  const withoutValues = spelled.length > 0 ? redactValues(text, spelled) : text;
  return redactPairs(withoutValues).replace(URL_PASSWORD, `$1${REDACTED}@`).replace(BEARER, `$1 ${REDACTED}`);
}

/** Replaces `secrets` (the task's argument values) and secret-looking pairs in `text`. */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  return redactSpelled(text, spellings(secrets));
}

/** Secret-looking pairs only: for text with no task behind it (or whose task is unknown, as in top). */
export const redactPatterns: Redact = (text) => redactSpelled(text, []);

/** The redactor for one task; its payload is parsed on first use, so a run that logs no free text never pays for it. */
export function taskRedactor(specText: string): Redact {
  let spelled: string[] | null = null;
  return (text) => {
    if (text.length < MIN_SECRET_CHARS) return text;
    spelled ??= spellings(payloadSecrets(specText));
    return redactSpelled(text, spelled);
  };
}

/** `redact` applied to every string of `record` except those under IDENTIFIER_KEYS; other values unchanged. */
export function redactRecord<T>(record: Readonly<Record<string, T>>, redact: Redact): Record<string, T | string> {
  const out: Record<string, T | string> = {};
  for (const [key, value] of Object.entries(record)) out[key] = typeof value === "string" && !IDENTIFIER_KEYS.has(key) ? redact(value) : value;
  return out;
}
