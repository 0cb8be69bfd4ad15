// Canary secrets through every sink a failed task reaches (compiled worker, real executor
// processes, real database): the worker's JSON and pretty logs, GET /events, and `reproq top`'s
// event tail in a real terminal. The task's own kwarg (nested), an api_key and a session from the
// environment (not in the payload) must be gone everywhere, while the rest of each message stays.
// errors_json keeps the verbatim message: it is what Django shows the developer, next to the
// payload in spec_json.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { ensureBinary } from "../helpers/binary.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { freePort } from "../helpers/net.ts";
import { closeAllTerminals, PROMPT, Terminal } from "../helpers/tmux.ts";
import { testWithTools } from "../helpers/tools.ts";
import { baseWorkerArgs, enqueue, startWorker, stopWorker, waitFor, type WorkerProcess } from "../helpers/worker.ts";

setDefaultTimeout(90_000);

/** The task's kwarg, nested under kwargs.auth.password. */
const PASSWORD = "hunter2-SECRET";
/** Not in the payload: only the key=value pattern can catch these. */
const API_KEY = "sk_live_CANARY_4242";
const SESSION = "sess_CANARY_9191";
const CANARIES = [PASSWORD, API_KEY, SESSION];
const LEAK_ENV = { FAKE_LEAK_API_KEY: API_KEY, FAKE_LEAK_SESSION: SESSION };

/** What must survive in each message (nothing of it comes from the payload). */
const RAISED_PARTS = ["billing API refused the login (HTTP 401)", "rejected; api_key=[REDACTED]"];
const NO_ENVELOPE_PARTS = ["no result envelope on stdout", "login refused for", "session=[REDACTED] (HTTP 401)", "(exit code 1)"];

let db: TestDatabase;
beforeAll(async () => {
  ensureBinary();
  db = await createTestDatabase({ flavour: "reproq", label: "redaction_e2e" });
});
afterAll(async () => {
  closeAllTerminals();
  await db.drop();
});

function expectNoCanary(text: string, where: string): void {
  for (const canary of CANARIES) {
    if (text.includes(canary)) throw new Error(`${where} contains the canary ${canary}:\n${text}`);
  }
}

/** A task that raises with the password in its message (2 attempts), and one without an envelope. */
async function enqueueLeaks(prefix: string): Promise<{ raised: string; noEnvelope: string }> {
  const [raised, noEnvelope] = await enqueue(db.sql, [
    { taskPath: `tasks.${prefix}.raise`, maxAttempts: 2, kwargs: { mode: "leak", auth: { password: PASSWORD } } },
    { taskPath: `tasks.${prefix}.no_envelope`, maxAttempts: 1, kwargs: { mode: "leak_no_envelope", auth: { password: PASSWORD } } },
  ]);
  return { raised: raised!, noEnvelope: noEnvelope! };
}

async function waitFailed(ids: string[]): Promise<void> {
  await waitFor(async () => {
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs where result_id in ${db.sql(ids)} and status = 'FAILED'`;
    return row!.n === ids.length;
  }, { what: "both tasks FAILED", timeoutMs: 45_000 });
}

const RETRY_FAST = ["--retry-base-seconds", "1", "--retry-max-seconds", "1", "--retry-jitter", "0"];

describe("JSON log, /events and top's event tail", () => {
  let worker: WorkerProcess;
  let base = "";
  let ids: { raised: string; noEnvelope: string };

  beforeAll(async () => {
    const port = await freePort();
    worker = startWorker([...baseWorkerArgs(db.dsn), "--metrics-addr", `127.0.0.1:${port}`, ...RETRY_FAST], LEAK_ENV);
    base = `http://127.0.0.1:${port}`;
    await waitFor(async () => worker.logs.some((line) => line.msg === "Serving health and metrics"), { what: "the HTTP server", timeoutMs: 20_000 });
    ids = await enqueueLeaks("json");
    await waitFailed([ids.raised, ids.noEnvelope]);
  });
  afterAll(async () => {
    expect(await stopWorker(worker)).toBe(0);
  });

  test("errors_json keeps the verbatim message (what Django shows the developer)", async () => {
    const rows = await db.sql<{ result_id: string; errors_json: { message: string }[] }[]>`
      select result_id::text, errors_json from task_runs where result_id in ${db.sql([ids.raised, ids.noEnvelope])}`;
    for (const row of rows) expect(row.errors_json.at(-1)!.message).toContain(PASSWORD);
  });

  test("worker JSON log: no canary; the failure lines keep the message", () => {
    expectNoCanary(worker.logs.map((line) => JSON.stringify(line)).join("\n") + worker.stderr(), "the JSON log");
    const failures = (id: string) => worker.logs.filter((line) => line.result_id === id && String(line.msg).startsWith("Task failed"));
    const raised = failures(ids.raised);
    expect(raised.map((line) => line.msg)).toEqual(["Task failed; retrying", "Task failed"]);
    for (const line of raised) {
      expect(line.exception_class).toBe("RuntimeError");
      for (const part of RAISED_PARTS) expect(String(line.error_message)).toContain(part);
      expect(String(line.error_message)).toContain("password '[REDACTED]' rejected");
    }
    const [noEnvelope] = failures(ids.noEnvelope);
    for (const part of NO_ENVELOPE_PARTS) expect(String(noEnvelope!.error_message)).toContain(part);
    expect(String(noEnvelope!.error_message)).toContain('{\\"password\\": \\"[REDACTED]\\"}');
  });

  test("/events: no canary; task_retry and task_failed keep the message", async () => {
    const abort = new AbortController();
    const response = await fetch(`${base}/events`, { signal: abort.signal });
    const reader = response.body!.getReader();
    let text = "";
    const decoder = new TextDecoder();
    // The replay buffer holds every event so far; read until the no-envelope task's failure.
    while (!text.includes(`"task_id":${ids.noEnvelope},"worker_id"`) || !text.includes("no result envelope")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    abort.abort();
    expectNoCanary(text, "the /events stream");
    const events = text.split("\n").filter((line) => line.startsWith("data: ")).map((line) => JSON.parse(line.slice(6)) as { type: string; task_id: number; metadata?: Record<string, string> });
    const of = (id: string) => events.filter((event) => String(event.task_id) === id && event.metadata?.error_message !== undefined);
    expect(of(ids.raised).map((event) => event.type)).toEqual(["task_retry", "task_failed"]);
    for (const event of of(ids.raised)) {
      expect(event.metadata!.exception_class).toBe("RuntimeError");
      for (const part of RAISED_PARTS) expect(event.metadata!.error_message).toContain(part);
    }
    expect(of(ids.noEnvelope).map((event) => event.type)).toEqual(["task_failed"]);
    for (const part of NO_ENVELOPE_PARTS) expect(of(ids.noEnvelope)[0]!.metadata!.error_message).toContain(part);
  });

  testWithTools(["tmux"])("reproq top's event tail (tmux): no canary; the failures show their message", async () => {
    const term = Terminal.open({ columns: 320, rows: 40 });
    await term.waitFor((s) => s.includes(PROMPT), "the shell prompt");
    term.type(`${ensureBinary()} top --dsn '${db.dsn}' --events-url ${base}/events`);
    term.keys("Enter");
    await term.waitFor((s) => s.includes("● OK"), "the overview");
    term.keys("e");
    // The overview's failure list (from errors_json) shows the verbatim message; the tail must not.
    const screen = await term.waitFor((s) => s.includes("task_failed") && s.includes("no result envelope on stdout"), "the failure events in the tail");
    expectNoCanary(screen, "top's event tail");
    const failedLines = screen.split("\n").filter((line) => line.includes("task_failed") || line.includes("task_retry"));
    expect(failedLines.length).toBe(3);
    for (const line of failedLines.filter((l) => l.includes(`task:${ids.raised}`))) {
      expect(line).toContain("RuntimeError");
      for (const part of RAISED_PARTS) expect(line).toContain(part);
    }
    const noEnvelope = failedLines.find((line) => line.includes(`task:${ids.noEnvelope}`))!;
    for (const part of NO_ENVELOPE_PARTS) expect(noEnvelope).toContain(part);
    term.keys("q");
    await term.waitFor((s) => s.trimEnd().endsWith(PROMPT), "the shell prompt after quitting");
  });
});

test("pretty log: no canary; the failure lines keep the message", async () => {
  const args = baseWorkerArgs(db.dsn).map((arg) => (arg === "json" ? "pretty" : arg));
  const worker = startWorker([...args, ...RETRY_FAST], LEAK_ENV);
  const ids = await enqueueLeaks("pretty");
  await waitFailed([ids.raised, ids.noEnvelope]);
  expect(await stopWorker(worker)).toBe(0);
  const output = `${worker.logs.map((line) => (typeof line.unparsed === "string" ? line.unparsed : JSON.stringify(line))).join("\n")}\n${worker.stderr()}`;
  expectNoCanary(output, "the pretty log");
  const lines = output.split("\n");
  const failures = lines.filter((line) => line.includes("Task failed"));
  expect(failures.length).toBe(3);
  const raised = failures.filter((line) => line.includes("RuntimeError"));
  expect(raised.length).toBe(2);
  for (const line of raised) for (const part of RAISED_PARTS) expect(line).toContain(part);
  const noEnvelope = failures.find((line) => line.includes("no result envelope"))!;
  for (const part of NO_ENVELOPE_PARTS) expect(noEnvelope).toContain(part);
});
