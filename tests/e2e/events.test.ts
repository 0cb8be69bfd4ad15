// GET|HEAD /events (SPEC §7) on the compiled worker against a real database: a long-lived stream
// with real 15 s pings that is never cut off, every lifecycle event with the right fields,
// Last-Event-ID resume and the replay buffer, filters, and a subscriber that never reads not
// slowing the worker down.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import type { Socket } from "bun";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { EXECUTORS_DIR } from "../helpers/executors/index.ts";
import { freePort } from "../helpers/net.ts";
import { baseWorkerArgs, enqueue, startWorker, statusCounts, stopWorker, waitFor, type WorkerProcess } from "../helpers/worker.ts";
import { expectQuick } from "../helpers/timing.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

interface EventData {
  ts: string;
  level: string;
  type: string;
  msg: string;
  queue?: string;
  task_id?: number;
  worker_id?: string;
  metadata?: Record<string, string>;
}

interface Frame {
  /** ms since the client connected */
  at: number;
  kind: "retry" | "ping" | "event";
  raw: string;
  id?: number;
  data?: EventData;
}

/** A minimal SSE client over fetch that records every frame until closed. */
class SseClient {
  readonly frames: Frame[] = [];
  /** Set when the server ended the stream (or it failed) before close() was called. */
  endedByServer: string | null = null;
  private closed = false;
  private done: Promise<void> = Promise.resolve();
  private readonly openedAt = performance.now();

  private constructor(
    readonly response: Response,
    private readonly abort: AbortController,
  ) {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const abort = new AbortController();
    const response = await fetch(url, { headers, signal: abort.signal });
    const client = new SseClient(response, abort);
    if (response.ok && response.body) client.done = client.pump(response.body);
    return client;
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf("\n\n");
        while (end !== -1) {
          this.frames.push(parseFrame(buffer.slice(0, end), performance.now() - this.openedAt));
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf("\n\n");
        }
      }
      if (!this.closed) this.endedByServer = `stream ended after ${Math.round(performance.now() - this.openedAt)} ms`;
    } catch (error) {
      if (!this.closed) this.endedByServer = `stream failed after ${Math.round(performance.now() - this.openedAt)} ms: ${String(error)}`;
    }
  }

  get events(): Frame[] {
    return this.frames.filter((frame) => frame.kind === "event");
  }

  get pings(): Frame[] {
    return this.frames.filter((frame) => frame.kind === "ping");
  }

  async close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    await this.done;
  }
}

function parseFrame(text: string, at: number): Frame {
  const lines = text.split("\n");
  if (lines.every((line) => line.startsWith(":"))) return { at, kind: "ping", raw: text };
  if (lines.length === 1 && lines[0]?.startsWith("retry:")) return { at, kind: "retry", raw: text };
  const frame: Frame = { at, kind: "event", raw: text };
  for (const line of lines) {
    if (line.startsWith("id: ")) frame.id = Number(line.slice(4));
    else if (line.startsWith("data: ")) frame.data = JSON.parse(line.slice(6)) as EventData;
    else throw new Error(`unexpected SSE line ${JSON.stringify(line)} in frame ${JSON.stringify(text)}`);
  }
  return frame;
}

const ids = (frames: Frame[]) => frames.map((frame) => frame.id as number);

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ flavour: "reproq", label: "events_e2e" });
});
afterAll(async () => {
  await db.drop();
});

async function startServing(extra: string[]): Promise<{ worker: WorkerProcess; base: string }> {
  const port = await freePort();
  const worker = startWorker([...baseWorkerArgs(db.dsn), "--metrics-addr", `127.0.0.1:${port}`, ...extra]);
  await waitFor(async () => worker.logs.some((line) => line.msg === "Serving health and metrics"), { what: "the HTTP server", timeoutMs: 20_000 });
  return { worker, base: `http://127.0.0.1:${port}` };
}

describe("/events on a running worker", () => {
  const WORKER_ID = "events-e2e-worker";
  let served: { worker: WorkerProcess; base: string };
  /** Everything the 40 s client received (test a); later tests reuse it. */
  let longRun: Frame[] = [];
  let successIds: string[] = [];
  let failingId = "";

  beforeAll(async () => {
    served = await startServing(["--worker-id", WORKER_ID, "--concurrency", "4", "--retry-base-seconds", "1", "--retry-max-seconds", "1", "--retry-jitter", "0"]);
  });
  afterAll(async () => {
    const code = await stopWorker(served.worker);
    if (code !== 0) console.log(served.worker.logs.slice(-20), served.worker.stderr());
    expect(code).toBe(0);
  });

  test("a 40 s stream gets real pings, is never cut off, and carries every event with its fields and an increasing id", async () => {
    const client = await SseClient.open(`${served.base}/events`);
    expect(client.response.status).toBe(200);
    expect(client.response.headers.get("content-type")).toStartWith("text/event-stream");
    await waitFor(async () => client.frames.length > 0, { what: "the retry frame", timeoutMs: 5_000 });
    expect(client.frames[0]?.raw).toBe("retry: 3000");

    const started = performance.now();
    // A task that fails on both of its attempts: task_retry, then task_failed.
    [failingId] = (await enqueue(db.sql, [{ taskPath: "tasks.e2e.failing", maxAttempts: 2, kwargs: { mode: "raise", message: "kaput" } }])) as [string];
    // 8 tasks, one every 4 s, the last one ~28 s into the stream.
    for (let i = 0; i < 8; i++) {
      const due = started + i * 4_000;
      if (performance.now() < due) await Bun.sleep(due - performance.now());
      successIds.push(...(await enqueue(db.sql, [{ taskPath: `tasks.e2e.job${i}`, kwargs: { mode: "success" } }])));
    }
    const streamEnd = started + 40_000;
    await Bun.sleep(Math.max(0, streamEnd - performance.now()));
    const endedEarly = client.endedByServer; // read before close() so our own abort does not count
    await client.close();
    longRun = client.frames;

    expect(endedEarly).toBeNull();
    // Pings at ~15 s and ~30 s; the old Go worker's streams died at ~10 s.
    expect(client.pings.length).toBeGreaterThanOrEqual(2);
    for (const ping of client.pings) expect(ping.raw).toBe(": ping");
    expect(client.pings[0]!.at).toBeGreaterThan(13_000);
    expect(client.pings[0]!.at).toBeLessThan(29_000); // the 15 s interval, not a 30 s one
    // Still receiving after the 30 s mark (the last task's events).
    expect(client.frames.at(-1)!.at).toBeGreaterThan(28_000);

    const events = client.events;
    for (const event of events) {
      expect(event.id).toBeNumber();
      expect(Number.isSafeInteger(event.id)).toBe(true);
      expect(event.data).toBeDefined();
    }
    const eventIds = ids(events);
    for (let i = 1; i < eventIds.length; i++) expect(eventIds[i]!).toBeGreaterThan(eventIds[i - 1]!);

    const ofTask = (taskId: string) => events.filter((event) => String(event.data!.task_id) === taskId).map((event) => event.data!);
    for (const [i, taskId] of successIds.entries()) {
      const taskEvents = ofTask(taskId);
      expect(taskEvents.map((event) => event.type)).toEqual(["task_started", "task_success"]);
      for (const event of taskEvents) {
        expect(event).toMatchObject({ queue: "default", worker_id: WORKER_ID, level: "info" });
        expect(event.metadata).toMatchObject({ task_path: `tasks.e2e.job${i}`, attempt: "1", max_attempts: "3", role: "worker" });
        expect(Number.isNaN(Date.parse(event.ts))).toBe(false);
      }
    }
    const failing = ofTask(failingId);
    expect(failing.map((event) => event.type)).toEqual(["task_started", "task_retry", "task_started", "task_failed"]);
    for (const event of failing) expect(event).toMatchObject({ queue: "default", worker_id: WORKER_ID });
    const [, retry, secondStart, failed] = failing as [EventData, EventData, EventData, EventData];
    expect(retry.level).toBe("warn");
    // The message is the task's own kwarg, so events carry it redacted (docs/observability.md).
    expect(retry.metadata).toMatchObject({ task_path: "tasks.e2e.failing", attempt: "1", max_attempts: "2", role: "worker", exception_class: "ValueError", error_message: "[REDACTED]" });
    expect(Number.isNaN(Date.parse(retry.metadata!.next_run!))).toBe(false);
    expect(secondStart.metadata).toMatchObject({ attempt: "2" });
    expect(failed.level).toBe("error");
    expect(failed.metadata).toMatchObject({ task_path: "tasks.e2e.failing", attempt: "2", max_attempts: "2", role: "worker", exception_class: "ValueError" });
    // Nothing but these tasks' events.
    expect(events.length).toBe(2 * successIds.length + 4);
  }, 90_000);

  test("Last-Event-ID resumes right after that event; without it the replay buffer is sent", async () => {
    const events = longRun.filter((frame) => frame.kind === "event");
    expect(events.length).toBeGreaterThan(10);
    const middle = Math.floor(events.length / 2);
    const readFor = async (headers: Record<string, string>, query = "") => {
      const client = await SseClient.open(`${served.base}/events${query}`, headers);
      expect(client.response.status).toBe(200);
      await Bun.sleep(1_000);
      await client.close();
      return client.events;
    };

    const resumed = await readFor({ "Last-Event-ID": String(events[middle]!.id) });
    expect(ids(resumed)).toEqual(ids(events.slice(middle + 1)));
    expect(resumed.map((frame) => frame.raw)).toEqual(events.slice(middle + 1).map((frame) => frame.raw));
    // The query parameter fallback for clients that cannot set headers.
    expect(ids(await readFor({}, `?last_event_id=${events[middle]!.id}`))).toEqual(ids(events.slice(middle + 1)));
    // The newest id: nothing to replay.
    expect(await readFor({ "Last-Event-ID": String(events.at(-1)!.id) })).toEqual([]);
    // No header: the whole buffer (fewer than 200 events so far).
    expect(ids(await readFor({}))).toEqual(ids(events));

    // Past 200 events, a fresh client gets exactly the newest 200.
    const before = (await statusCounts(db.sql)).SUCCESSFUL ?? 0;
    await enqueue(db.sql, Array.from({ length: 100 }, () => ({ kwargs: { mode: "success" } })));
    await waitFor(async () => (await statusCounts(db.sql)).SUCCESSFUL === before + 100, { what: "100 more tasks", timeoutMs: 45_000 });
    await Bun.sleep(200);
    const full = await readFor({});
    expect(full.length).toBe(200);
    const fullIds = ids(full);
    for (let i = 1; i < fullIds.length; i++) expect(fullIds[i]).toBe(fullIds[i - 1]! + 1);
    expect(fullIds[0]!).toBeGreaterThan(events.at(-1)!.id!); // the old ones fell out
    // An id that fell out of the buffer: everything still buffered.
    expect(ids(await readFor({ "Last-Event-ID": String(events[middle]!.id) }))).toEqual(fullIds);
  });

  test("filters: task_id, queue; a bad task_id is 400", async () => {
    // Two finished tasks: the replay for ?task_id= must hold only the first one's events.
    const [firstId, secondId] = (await enqueue(db.sql, [{ kwargs: { mode: "success" } }, { kwargs: { mode: "success" } }])) as [string, string];
    await waitFor(async () => {
      const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs where result_id in (${firstId}, ${secondId}) and status = 'SUCCESSFUL'`;
      return row!.n === 2;
    }, { what: "two tasks" });
    const byTask = await SseClient.open(`${served.base}/events?task_id=${firstId}`);
    const otherQueue = await SseClient.open(`${served.base}/events?queue=other`);
    const byWorker = await SseClient.open(`${served.base}/events?worker_id=${WORKER_ID}&queue=default`);
    const otherWorker = await SseClient.open(`${served.base}/events?worker_id=someone-else`);
    // A live task while the filtered clients are connected.
    const [liveId] = (await enqueue(db.sql, [{ kwargs: { mode: "success" } }])) as [string];
    const liveByTask = await SseClient.open(`${served.base}/events?task_id=${liveId}`);
    await waitFor(async () => byWorker.events.some((e) => String(e.data!.task_id) === liveId && e.data!.type === "task_success"), { what: "the live task's events" });
    await Bun.sleep(300);
    await Promise.all([byTask, otherQueue, byWorker, otherWorker, liveByTask].map((client) => client.close()));

    expect(byTask.events.map((e) => [String(e.data!.task_id), e.data!.type])).toEqual([[firstId, "task_started"], [firstId, "task_success"]]);
    for (const client of [otherQueue, otherWorker]) {
      expect(client.response.status).toBe(200);
      expect(client.frames.map((frame) => frame.kind)).toEqual(["retry"]); // no event, replayed or live
    }
    const workerTasks = new Set(byWorker.events.map((e) => String(e.data!.task_id)));
    expect(workerTasks.has(secondId)).toBe(true);
    expect(workerTasks.has(liveId)).toBe(true);
    expect(liveByTask.events.map((e) => [String(e.data!.task_id), e.data!.type])).toEqual([[liveId, "task_started"], [liveId, "task_success"]]);

    for (const bad of ["abc", "1.5", "99999999999999999999"]) {
      const response = await fetch(`${served.base}/events?task_id=${bad}`);
      expect(response.status).toBe(400);
      expect(await response.text()).toBe("invalid task_id");
    }
  });

  test("HEAD /events: 200, text/event-stream, no body", async () => {
    const started = performance.now();
    // A streamed body would never end: the abort would fail the test.
    const response = await fetch(`${served.base}/events`, { method: "HEAD", signal: AbortSignal.timeout(20_000) });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("text/event-stream");
    expect(await response.text()).toBe("");
    expectQuick(performance.now() - started, 500, "HEAD /events");
  });
});

/** Recv-Q of the local TCP socket on `port` (from `ss`), or null when ss is unavailable. */
function unreadBytes(port: number): number | null {
  if (Bun.which("ss") === null) return null;
  const out = Bun.spawnSync(["ss", "-tnH", "state", "established", "( sport = :" + port + " )"]).stdout.toString().trim();
  const match = /^\s*(\d+)/.exec(out);
  return match ? Number(match[1]) : null;
}

describe("a subscriber that never reads", () => {
  /** Consumes the payload and succeeds at once (no Python start-up). */
  const MINIMAL = ["/bin/sh", join(EXECUTORS_DIR, "minimal.sh")];
  const TASKS = 300;

  test("does not slow task processing, and /healthz still answers quickly", async () => {
    const served = await startServing(["--worker-id", "events-stall", "--queues", "stall", "--concurrency", "8", "--executor", "command", "--executor-command", MINIMAL.join(",")]);
    let stalled: Socket<undefined> | undefined;
    try {
      const done = async () => (await db.sql<{ n: number }[]>`select count(*)::int as n from task_runs where queue_name = 'stall' and status = 'SUCCESSFUL'`)[0]!.n;
      const run = async (target: number) => {
        const started = performance.now();
        await enqueue(db.sql, Array.from({ length: TASKS }, () => ({ queue: "stall", kwargs: { mode: "success" } })));
        await waitFor(async () => (await done()) === target, { what: `${target} tasks`, timeoutMs: 90_000, intervalMs: 20 });
        return performance.now() - started;
      };

      await run(TASKS); // warm-up: executor and connection pool started, claim path hot
      const baseline = await run(2 * TASKS);

      let received = 0;
      const port = Number(new URL(served.base).port);
      stalled = await Bun.connect({
        hostname: "127.0.0.1",
        port,
        socket: {
          open(socket) {
            socket.pause(); // never read: the kernel buffers fill and the server sees backpressure
          },
          data(_socket, chunk) {
            received += chunk.length;
          },
        },
      });
      stalled.write("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n");
      await Bun.sleep(300);

      let probing = true;
      const latencies: number[] = [];
      const statuses: number[] = [];
      const prober = (async () => {
        while (probing) {
          const t0 = performance.now();
          const response = await fetch(`${served.base}/healthz`, { signal: AbortSignal.timeout(5_000) });
          await response.text();
          latencies.push(performance.now() - t0);
          statuses.push(response.status);
          await Bun.sleep(100);
        }
      })();
      const withStall = await run(3 * TASKS);
      probing = false;
      await prober;

      // Proof that the client really stalled: bytes the server sent sit unread in its socket buffer.
      const unread = unreadBytes(stalled.localPort);
      console.log(`stalled subscriber: ${TASKS} tasks in ${Math.round(baseline)} ms without, ${Math.round(withStall)} ms with (client read ${received} bytes, ${unread ?? "?"} unread in its socket); /healthz max ${Math.round(Math.max(...latencies))} ms over ${latencies.length} probes`);
      expect(received).toBe(0);
      if (unread !== null) expect(unread).toBeGreaterThan(10_000);
      // Blocking on the stalled client would stop processing altogether; a busy machine varies runs.
      expect(withStall).toBeLessThan(3 * baseline + 5_000);
      expect(latencies.length).toBeGreaterThan(0);
      expect(statuses.every((status) => status === 200)).toBe(true);
      expectQuick(Math.max(...latencies), 300, "the slowest /healthz beside a stalled subscriber");

      // The worker is still fine, and a reading client still gets the newest events.
      const fresh = await SseClient.open(`${served.base}/events?queue=stall`);
      await Bun.sleep(500);
      await fresh.close();
      expect(fresh.events.length).toBe(200);
      expect(fresh.endedByServer).toBeNull();
    } finally {
      stalled?.end();
      const code = await stopWorker(served.worker);
      if (code !== 0) console.log(served.worker.logs.slice(-20), served.worker.stderr());
      expect(code).toBe(0);
    }
  }, 180_000);
});
