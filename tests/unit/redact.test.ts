// The redactor (observability/redact.ts) and the one place each sink applies it: log attributes,
// /events metadata, top's tail. End to end with real processes: tests/e2e/redaction.test.ts.
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { describeMissingEnvelope } from "../../src/executor/envelope.ts";
import { EventBroker } from "../../src/observability/events.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { isSecretName, payloadSecrets, REDACTED, redactPatterns, redactSecrets, taskRedactor } from "../../src/observability/redact.ts";
import type { ClaimedTask } from "../../src/queue/types.ts";
import { SseParser, toTailEvent } from "../../src/tui/sse.ts";
import { eventLine } from "../../src/tui/views/events.tsx";
import { Telemetry } from "../../src/worker/telemetry.ts";

const CANARY = "hunter2-SECRET";
const SPEC = JSON.stringify({
  task_path: "tasks.billing.charge",
  args: ["pos-CANARY", 42, "abc"],
  kwargs: { auth: { password: CANARY }, cards: [["déjà-vu-CANARY"]], note: 'say "hi"\nnow', mode: "live" },
});

describe("payloadSecrets", () => {
  test("strings of 4+ characters anywhere in args and kwargs, not keys, not numbers, not task_path", () => {
    expect(payloadSecrets(SPEC).sort()).toEqual(["déjà-vu-CANARY", CANARY, "live", "pos-CANARY", 'say "hi"\nnow'].sort());
  });

  test("a spec that is not a JSON object has none; a deeply nested one does not overflow", () => {
    expect(payloadSecrets("not json")).toEqual([]);
    expect(payloadSecrets("[1]")).toEqual([]);
    const depth = 100_000; // a recursive walk overflows the stack long before this
    expect(payloadSecrets(`{"args": [${"[".repeat(depth)}"deep-CANARY"${"]".repeat(depth)}]}`)).toEqual(["deep-CANARY"]);
  });
});

describe("the task's argument values", () => {
  const redact = taskRedactor(SPEC);

  test("as is, JSON-escaped and \\u-escaped; the rest of the message stays", () => {
    expect(redact(`login failed: password '${CANARY}' rejected for account 7`)).toBe(`login failed: password '${REDACTED}' rejected for account 7`);
    expect(redact(`{"note": ${JSON.stringify('say "hi"\nnow')}}`)).toBe(`{"note": "${REDACTED}"}`);
    expect(redact('card "d\\u00e9j\\u00e0-vu-CANARY" declined')).toBe(`card "${REDACTED}" declined`);
    expect(redact("positional pos-CANARY and short abc")).toBe(`positional ${REDACTED} and short abc`);
  });

  test("cut short by an excerpt just before …", () => {
    expect(redact(`last line: "connecting with hunter2-SE…"`)).toBe(`last line: "connecting with ${REDACTED}…"`);
    // Fewer than 4 characters of it left: nothing to recognise.
    expect(redact("ends with hun…")).toBe("ends with hun…");
    // The real excerpt: stdout without an envelope whose last line is cut at 200 characters mid-password.
    const stdout = `${"x".repeat(190)} pw=${CANARY} and more\n`;
    const message = describeMissingEnvelope(stdout, Buffer.byteLength(stdout));
    expect(message).toContain("pw=hunter…");
    expect(redact(message)).toBe(`no result envelope on stdout (${stdout.length} bytes, last line: "${"x".repeat(190)} pw=${REDACTED}…")`);
  });

  test("a 1 MB argument value cut short in a 500 KB message is still found, quickly", () => {
    const long = `${"k".repeat(1_000_000)}-CANARY`;
    const started = performance.now();
    expect(taskRedactor(JSON.stringify({ args: [long] }))(`${"k".repeat(500_000)}…`)).toBe(`${REDACTED}…`);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  test.skipIf(process.platform !== "linux")("a 20 MB argument value costs one copy of it, not one per spelling (peak RSS)", () => {
    const MB = 1024 * 1024;
    const rssMb = (field: "VmRSS" | "VmHWM") => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync("/proc/self/status", "utf8"))?.[1]) / 1024;
    const spec = JSON.stringify({ args: ["p".repeat(20 * MB)] });
    Bun.gc(true);
    writeFileSync("/proc/self/clear_refs", "5"); // resets VmHWM to the current RSS
    const base = rssMb("VmRSS");
    const redact = taskRedactor(spec);
    expect(redact("no luck with the upload")).toBe("no luck with the upload");
    // The parsed value itself is one copy (20 MB); its escaped spellings were two more.
    const peak = rssMb("VmHWM") - base;
    expect({ peakMb: Math.round(peak), underOneAndAHalfCopies: peak < 30 }).toMatchObject({ underOneAndAHalfCopies: true });
  });

  test("the payload is parsed only when there is text to scrub", () => {
    let parsed = 0;
    const spy = JSON.parse;
    JSON.parse = ((...args: Parameters<typeof JSON.parse>) => (parsed++, spy(...args))) as typeof JSON.parse;
    try {
      const lazy = taskRedactor(SPEC);
      expect(parsed).toBe(0);
      lazy("abc");
      expect(parsed).toBe(0);
      lazy(`x ${CANARY}`);
      lazy(`y ${CANARY}`);
      expect(parsed).toBe(1);
    } finally {
      JSON.parse = spy;
    }
  });
});

describe("secret-looking pairs (no payload needed)", () => {
  const cases: [string, string][] = [
    ["password=hunter2 user=bob", `password=${REDACTED} user=bob`],
    ["db_password: s3cret, retrying", `db_password: ${REDACTED}, retrying`],
    ['{"api_key": "sk_live_1", "region": "eu"}', `{"api_key": "${REDACTED}", "region": "eu"}`],
    ["{'secret': 'a b c', 'n': 1}", `{'secret': '${REDACTED}', 'n': 1}`],
    ['last line: "{\\"token\\": \\"abc\\", \\"ok\\": 1}"', `last line: "{\\"token\\": \\"${REDACTED}\\", \\"ok\\": 1}"`],
    ['cut: {"password": "hunter2-SE…', `cut: {"password": "${REDACTED}`],
    ["Authorization: Bearer abc.def.ghi (HTTP 401)", `Authorization: Bearer ${REDACTED} (HTTP 401)`],
    ["X-Api-Key: 123abc; AWS_SECRET_ACCESS_KEY=AKIA/xyz", `X-Api-Key: ${REDACTED}; AWS_SECRET_ACCESS_KEY=${REDACTED}`],
    ["?sessionid=9f8e&page=2 cookie=a1 auth=xyz credentials=u:p private_key=k access_key=k2", `?sessionid=${REDACTED}&page=2 cookie=${REDACTED} auth=${REDACTED} credentials=${REDACTED} private_key=${REDACTED} access_key=${REDACTED}`],
    ["next=token=zzz", `next=token=${REDACTED}`],
    ["--passwd=x1 passphrase: y2", `--passwd=${REDACTED} passphrase: ${REDACTED}`],
    ["connect postgres://app:pw123@db:5432/x failed", `connect postgres://app:${REDACTED}@db:5432/x failed`],
    ["sent Bearer eyJhbGciOi.eyJzdWIi.sig", `sent Bearer ${REDACTED}`],
  ];
  for (const [input, expected] of cases) {
    test(input, () => expect(redactPatterns(input)).toBe(expected));
  }

  test("ordinary text is left alone", () => {
    for (const text of [
      'File "/app/auth.py", line 3, in login',
      "author=Bob mode=live queue: default",
      "ValueError: invalid literal for int() with base 10: 'x'",
      "no result envelope on stdout (12 bytes, last line: \"done\") (exit code 1)",
    ]) expect(redactPatterns(text)).toBe(text);
  });

  test("secret-looking names", () => {
    for (const name of ["password", "PASSWD", "pwd", "client_secret", "authToken", "X-Auth-Token", "api-key", "APIKEY", "Authorization", "auth", "credentials", "private_key", "accessKey", "session", "sessionid", "set-cookie", "jwt"]) {
      expect([name, isSecretName(name)]).toEqual([name, true]);
    }
    for (const name of ["author", "task_path", "spec_hash", "result_id", "queue", "mode", "keyboard", "passage"]) {
      expect([name, isSecretName(name)]).toEqual([name, false]);
    }
  });

  test("both rules in one call", () => {
    expect(redactSecrets(`token=abc and ${CANARY}`, [CANARY])).toBe(`token=${REDACTED} and ${REDACTED}`);
  });
});

const FAILURE_MESSAGE = `billing API refused the login (HTTP 401): password '${CANARY}' rejected; api_key=sk_live_9`;
const REDACTED_MESSAGE = `billing API refused the login (HTTP 401): password '${REDACTED}' rejected; api_key=${REDACTED}`;

describe("each sink applies it once", () => {
  test("log lines: attributes of a task's logger lose its values and secret pairs; identifiers stay", async () => {
    const lines: string[] = [];
    const logger = await createLogger({ format: "json", level: "info", write: (line) => lines.push(line) });
    // A kwarg equal to the queue name must not hide the queue.
    const redact = taskRedactor(JSON.stringify({ args: [], kwargs: { password: CANARY, queue: "emails" } }));
    const log = logger.child({ result_id: "42", spec_hash: "h" }, redact);
    log.error("Task failed", { error_message: FAILURE_MESSAGE, queue: "emails", nested: { list: [`x ${CANARY}`] }, error: new Error(`boom ${CANARY}`) });
    logger.warn("Python pool stderr", { line: "retrying with token=abc123" });
    expect(lines.join("\n")).not.toContain(CANARY);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: "Task failed", result_id: "42", error_message: REDACTED_MESSAGE, queue: "emails", nested: { list: [`x ${REDACTED}`] }, error: `boom ${REDACTED}` });
    expect(JSON.parse(lines[1]!)).toMatchObject({ line: `retrying with token=${REDACTED}` });
  });

  test("/events: failure metadata loses the task's values; task_path and attempt stay", () => {
    const events = new EventBroker();
    const telemetry = new Telemetry({ metrics: null, events, workerId: "w1", role: "worker", poolSize: 1 });
    const task = { resultId: "42", queueName: "emails", specText: SPEC, attempts: 1, maxAttempts: 1 } as ClaimedTask;
    const decision = { type: "failure", error: { kind: "app_error", message: FAILURE_MESSAGE, exception_class: "RuntimeError" }, disposition: { type: "terminal" }, lastError: "" } as const;
    telemetry.recorded(task, "tasks.billing.charge", decision, "written", taskRedactor(SPEC));
    const [event] = events.since(null, {});
    expect(event!.metadata).toMatchObject({ task_path: "tasks.billing.charge", attempt: "1", exception_class: "RuntimeError", error_message: REDACTED_MESSAGE });
  });

  test("top's tail: shows the failure's message, scrubbed of secret pairs (it cannot know the payload)", () => {
    const data = { ts: "2026-03-10T09:30:05.000Z", level: "error", type: "task_failed", msg: "task failed", task_id: 7, metadata: { exception_class: "RuntimeError", error_message: "refused: api_key=sk_live_9 (HTTP 401)" } };
    const [frame, plain] = new SseParser().feed(`data: ${JSON.stringify(data)}\n\ndata: password=hunter2 leaked\n\n`);
    expect(eventLine(toTailEvent(frame!))).toBe(`09:30:05 error task_failed [task:7] task failed: RuntimeError: refused: api_key=${REDACTED} (HTTP 401)`);
    expect(toTailEvent(plain!).msg).toBe(`password=${REDACTED} leaked`);
  });
});
