import { afterEach, describe, expect, test } from "bun:test";
import net from "node:net";
import { eventStream } from "../../src/http/sse.ts";
import { EventBroker, eventJson, type TaskEvent } from "../../src/observability/events.ts";
import { expectQuick } from "../helpers/timing.ts";

interface Harness {
  broker: EventBroker;
  url: string;
  port: number;
  server: ReturnType<typeof Bun.serve>;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function startServer(options: { pingIntervalMs?: number; maxBacklog?: number } = {}): Harness {
  const broker = new EventBroker();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    fetch(request, srv) {
      srv.timeout(request, 0);
      return eventStream(broker, request, { pingIntervalMs: options.pingIntervalMs ?? 60_000, maxBacklog: options.maxBacklog });
    },
  });
  cleanups.push(() => void server.stop(true));
  const port = server.port ?? 0;
  return { broker, server, port, url: `http://127.0.0.1:${port}/events` };
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error("condition not reached in time");
    await Bun.sleep(10);
  }
}

/** Reads an SSE body and splits it into frames (the text between blank lines). */
class SseClient {
  readonly frames: string[] = [];
  eventCount = 0;
  private buffer = "";
  private readonly decoder = new TextDecoder();
  private readonly reader: { read(): Promise<{ done: true; value?: undefined } | { done: false; value: Uint8Array }> };

  constructor(readonly response: Response, readonly abort: AbortController) {
    if (response.body === null) throw new Error("no body");
    this.reader = response.body.getReader();
    cleanups.push(() => abort.abort());
  }

  static async connect(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const abort = new AbortController();
    const response = await fetch(url, { headers, signal: abort.signal });
    return new SseClient(response, abort);
  }

  events(): { id: number; data: string }[] {
    return this.frames
      .filter((frame) => frame.startsWith("id: "))
      .map((frame) => {
        const match = /^id: (\d+)\ndata: (.*)$/.exec(frame);
        if (match === null) throw new Error(`malformed frame ${JSON.stringify(frame)}`);
        return { id: Number(match[1]), data: match[2] as string };
      });
  }

  async readUntil(done: (client: SseClient) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!done(this)) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw new Error(`timed out with ${this.frames.length} frames`);
      const chunk = await Promise.race([this.reader.read(), Bun.sleep(remaining).then(() => null)]);
      if (chunk === null) continue;
      if (chunk.done) throw new Error("stream ended");
      this.buffer += this.decoder.decode(chunk.value, { stream: true });
      let end = this.buffer.indexOf("\n\n");
      while (end !== -1) {
        const frame = this.buffer.slice(0, end);
        this.frames.push(frame);
        if (frame.startsWith("id: ")) this.eventCount++;
        this.buffer = this.buffer.slice(end + 2);
        end = this.buffer.indexOf("\n\n");
      }
    }
  }
}

function publishN(broker: EventBroker, count: number, fields: Partial<TaskEvent> = {}): TaskEvent[] {
  return Array.from({ length: count }, (_, i) =>
    broker.publish({ level: "info", type: "task_started", msg: `event ${i}`, ...fields }),
  );
}

const asFrames = (events: TaskEvent[]): { id: number; data: string }[] =>
  events.map((e) => ({ id: e.id, data: eventJson(e) }));

describe("GET /events", () => {
  test("headers, retry line, replay of the buffer, then live events with id: lines", async () => {
    const { broker, url } = startServer();
    const before = publishN(broker, 3, { queue: "default", taskId: "42", workerId: "w1" });
    const client = await SseClient.connect(url);
    expect(client.response.status).toBe(200);
    expect(client.response.headers.get("content-type")).toBe("text/event-stream");
    expect(client.response.headers.get("cache-control")).toBe("no-cache");
    expect(client.response.headers.get("x-accel-buffering")).toBe("no");
    await client.readUntil((c) => c.eventCount >= 3);
    expect(client.frames[0]).toBe("retry: 3000");
    expect(client.events()).toEqual(asFrames(before));

    const live = publishN(broker, 2, { metadata: { attempt: "1" } });
    await client.readUntil((c) => c.eventCount >= 5);
    expect(client.events()).toEqual(asFrames([...before, ...live]));
    expect(broker.subscriberCount).toBe(1);
  });

  test("pings arrive at the configured interval", async () => {
    const { url } = startServer({ pingIntervalMs: 200 });
    const client = await SseClient.connect(url);
    const started = performance.now();
    await client.readUntil((c) => c.frames.filter((f) => f === ": ping").length >= 3, 3000);
    expect(performance.now() - started).toBeGreaterThan(400);
    expect(client.frames[0]).toBe("retry: 3000");
  });

  test("reconnecting with Last-Event-ID (or last_event_id) replays only the missed events", async () => {
    const { broker, url } = startServer();
    const first = publishN(broker, 3);
    const client = await SseClient.connect(url);
    await client.readUntil((c) => c.eventCount >= 3);
    client.abort.abort();
    await waitFor(() => broker.subscriberCount === 0);

    const missed = publishN(broker, 2);
    const resumed = await SseClient.connect(url, { "Last-Event-ID": String(first[2]?.id) });
    await resumed.readUntil((c) => c.eventCount >= 2);
    const live = publishN(broker, 1);
    await resumed.readUntil((c) => c.eventCount >= 3);
    expect(resumed.events()).toEqual(asFrames([...missed, ...live]));

    const viaQuery = await SseClient.connect(`${url}?last_event_id=${missed[1]?.id}`);
    await viaQuery.readUntil((c) => c.eventCount >= 1);
    expect(viaQuery.events()).toEqual(asFrames(live));
  });

  test("a filtered subscriber gets only matching events, in replay and live", async () => {
    const { broker, url } = startServer();
    const replayed = broker.publish({ level: "info", type: "t", msg: "old match", queue: "a", workerId: "w1", taskId: "7" });
    broker.publish({ level: "info", type: "t", msg: "old other", queue: "b", workerId: "w1", taskId: "7" });
    const client = await SseClient.connect(`${url}?queue=a&worker_id=w1&task_id=007`);
    await client.readUntil((c) => c.eventCount >= 1);
    broker.publish({ level: "info", type: "t", msg: "wrong task", queue: "a", workerId: "w1", taskId: "8" });
    broker.publish({ level: "info", type: "t", msg: "wrong worker", queue: "a", workerId: "w2", taskId: "7" });
    const live = broker.publish({ level: "info", type: "t", msg: "new match", queue: "a", workerId: "w1", taskId: "7" });
    await client.readUntil((c) => c.eventCount >= 2);
    expect(client.events()).toEqual(asFrames([replayed, live]));
  });

  test("a bad task_id is 400 invalid task_id", async () => {
    const { broker, url } = startServer();
    const response = await fetch(`${url}?task_id=not-a-number`);
    expect(response.status).toBe(400);
    expect(await response.text()).toBe("invalid task_id");
    expect(broker.subscriberCount).toBe(0);
  });

  test("HEAD is 200 with the SSE headers and no body", async () => {
    const { broker, url } = startServer();
    publishN(broker, 2);
    const response = await fetch(url, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    expect(response.headers.get("cache-control")).toBe("no-cache");
    expect(await response.text()).toBe("");
    expect(broker.subscriberCount).toBe(0);
  });

  test("a client that never reads is closed for backlog without slowing publish or a reading client", async () => {
    const { broker, port, url } = startServer({ maxBacklog: 500 });
    const reader = await SseClient.connect(url);
    await waitFor(() => broker.subscriberCount === 1);

    // Connected but never reading: the kernel buffers fill, then the stream's queue grows.
    const stalled = net.connect(port, "127.0.0.1");
    let stalledEnded = false;
    stalled.on("error", () => {});
    stalled.on("close", () => {
      stalledEnded = true;
    });
    stalled.pause();
    stalled.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    cleanups.push(() => stalled.destroy());
    await waitFor(() => broker.subscriberCount === 2);

    const total = 20_000;
    const readAll = reader.readUntil((c) => c.eventCount >= total, 25_000);
    const padding = "x".repeat(1000);
    let publishMs = 0;
    let stalledClosedAt = -1;
    let last: TaskEvent | undefined;
    for (let batch = 0; batch < total / 100; batch++) {
      const started = performance.now();
      for (let i = 0; i < 100; i++) last = broker.publish({ level: "info", type: "t", msg: `m${batch}`, metadata: { padding } });
      publishMs += performance.now() - started;
      if (stalledClosedAt < 0 && broker.subscriberCount === 1) stalledClosedAt = (batch + 1) * 100;
      // Yield so the reading client can keep up (bursts beyond maxBacklog in one tick would close it too).
      await Bun.sleep(1);
    }

    expectQuick(publishMs, 500, "20,000 publishes beside a stalled subscriber"); // publishing never waits for a client
    expect(stalledClosedAt).toBeGreaterThan(0);
    expect(stalledClosedAt).toBeLessThan(total);
    await readAll;
    expect(reader.events()).toHaveLength(total);
    expect(reader.events().at(-1)).toEqual(asFrames(last === undefined ? [] : [last])[0]);
    expect(broker.subscriberCount).toBe(1);
    // The server ended the stalled client's stream (the final chunk of the chunked body arrives
    // once it reads again), so a real client reconnects with Last-Event-ID.
    let received = "";
    stalled.on("data", (chunk: Buffer) => {
      received = (received + chunk.toString("latin1")).slice(-64);
    });
    stalled.resume();
    await waitFor(() => stalledEnded || received.endsWith("\r\n0\r\n\r\n"));
  }, 30_000);

  test("after the client aborts, the subscription and its ping timer are released", async () => {
    // No ping is due during the test, so only the disconnect itself can release the subscription.
    const { broker, url } = startServer({ pingIntervalMs: 60_000 });
    const client = await SseClient.connect(url);
    await client.readUntil((c) => c.frames.includes("retry: 3000"));
    expect(broker.subscriberCount).toBe(1);
    client.abort.abort();
    await waitFor(() => broker.subscriberCount === 0);
    publishN(broker, 5);
    expect(broker.subscriberCount).toBe(0);
  });
});
