import { describe, expect, test } from "bun:test";
import {
  EventBroker,
  type EventFilter,
  eventJson,
  matchesFilter,
  parseEventFilter,
  type TaskEvent,
} from "../../src/observability/events.ts";

function filterOf(query: string): EventFilter {
  const parsed = parseEventFilter(new URLSearchParams(query));
  if ("error" in parsed) throw new Error(`unexpected filter error for ${query}`);
  return parsed;
}

function event(fields: Partial<TaskEvent>): TaskEvent {
  return { id: 1, ts: "2025-01-02T03:04:05.678Z", level: "info", type: "task_started", msg: "task started", ...fields };
}

describe("event filter", () => {
  test("queue, worker_id and task_id must all match (scenario 36)", () => {
    const filter = filterOf("queue=default&worker_id=w1&task_id=42");
    expect(filter).toEqual({ queue: "default", workerId: "w1", taskId: "42" });
    expect(matchesFilter(event({ queue: "default", workerId: "w1", taskId: "42" }), filter)).toBe(true);
    expect(matchesFilter(event({ queue: "other", workerId: "w1", taskId: "42" }), filter)).toBe(false);
    expect(matchesFilter(event({ queue: "default", workerId: "w2", taskId: "42" }), filter)).toBe(false);
    expect(matchesFilter(event({ queue: "default", workerId: "w1", taskId: "43" }), filter)).toBe(false);
    expect(matchesFilter(event({ workerId: "w1", taskId: "42" }), filter)).toBe(false);
    expect(matchesFilter(event({ queue: "default", workerId: "w1" }), filter)).toBe(false);
  });

  test("a non-numeric or out-of-range task_id is an error (scenario 37)", () => {
    for (const bad of ["not-a-number", "4 2", "0x2a", "1.5", "9223372036854775808", "-9223372036854775809", "+"]) {
      expect(parseEventFilter(new URLSearchParams({ task_id: bad }))).toEqual({ error: "invalid task_id" });
    }
  });

  test("values are trimmed, empty means no filter, task ids compare as integers", () => {
    expect(filterOf("queue=%20%20&worker_id=&task_id=%20")).toEqual({});
    expect(matchesFilter(event({}), filterOf(""))).toBe(true);
    const filter = filterOf("task_id=%20+042%20&queue=%20default%20");
    expect(filter).toEqual({ taskId: "42", queue: "default" });
    expect(matchesFilter(event({ queue: "default", taskId: "42" }), filter)).toBe(true);
    expect(matchesFilter(event({ queue: "default", taskId: "0042" }), filter)).toBe(true);
    expect(filterOf("task_id=9223372036854775807").taskId).toBe("9223372036854775807");
    expect(filterOf("task_id=-9223372036854775808").taskId).toBe("-9223372036854775808");
    const big = filterOf("task_id=9007199254740993");
    expect(matchesFilter(event({ taskId: "9007199254740993" }), big)).toBe(true);
    expect(matchesFilter(event({ taskId: "9007199254740992" }), big)).toBe(false);
  });
});

describe("event JSON", () => {
  test("Go key order, metadata sorted, a 19-digit task_id as a raw number", () => {
    const json = eventJson(
      event({
        queue: "default",
        taskId: "9223372036854775807",
        workerId: "host-123",
        metadata: { task_path: "myapp.tasks.x", attempt: "1", role: "worker", max_attempts: "3" },
      }),
    );
    expect(json).toBe(
      '{"ts":"2025-01-02T03:04:05.678Z","level":"info","type":"task_started","msg":"task started",' +
        '"queue":"default","task_id":9223372036854775807,"worker_id":"host-123",' +
        '"metadata":{"attempt":"1","max_attempts":"3","role":"worker","task_path":"myapp.tasks.x"}}',
    );
    expect(JSON.parse(json)).toHaveProperty("task_id");
  });

  test("empty queue, task id 0 or absent, empty worker id and empty metadata are omitted", () => {
    const expected = '{"ts":"2025-01-02T03:04:05.678Z","level":"warn","type":"task_retry","msg":"a \\"quoted\\"\\nline"}';
    const base = { level: "warn" as const, type: "task_retry", msg: 'a "quoted"\nline' };
    expect(eventJson(event(base))).toBe(expected);
    expect(eventJson(event({ ...base, queue: "", taskId: "0", workerId: "", metadata: {} }))).toBe(expected);
    expect(eventJson(event({ ...base, taskId: "000" }))).toBe(expected);
    expect(eventJson(event({ ...base, taskId: "abc" }))).toBe(expected);
    expect(eventJson(event({ ...base, taskId: "007" }))).toContain('"task_id":7}');
  });
});

describe("EventBroker", () => {
  test("publish fills id and ts; ids increase; a later broker's ids exceed an earlier one's", () => {
    let clock = Date.parse("2025-06-01T12:00:00.000Z");
    const first = new EventBroker({ now: () => clock });
    const a = first.publish({ level: "info", type: "task_started", msg: "task started", taskId: "5" });
    const b = first.publish({ level: "info", type: "task_success", msg: "task succeeded", ts: "2020-01-01T00:00:00.000Z" });
    expect(a.ts).toBe("2025-06-01T12:00:00.000Z");
    expect(b.ts).toBe("2020-01-01T00:00:00.000Z");
    expect(b.id).toBe(a.id + 1);
    expect(Number.isSafeInteger(a.id)).toBe(true);
    for (let i = 0; i < 500; i++) first.publish({ level: "info", type: "t", msg: "m" });
    const lastOfFirst = first.publish({ level: "info", type: "t", msg: "m" });
    clock += 1;
    const second = new EventBroker({ now: () => clock });
    const next = second.publish({ level: "info", type: "t", msg: "m" });
    expect(next.id).toBeGreaterThan(lastOfFirst.id);
    // A client resuming from the old process's last id replays everything the new one buffered.
    expect(second.since(lastOfFirst.id, {}).map((e) => e.id)).toEqual([next.id]);
  });

  test("the replay buffer keeps the last 200, oldest first, filtered and after lastId", () => {
    const broker = new EventBroker();
    const published: TaskEvent[] = [];
    for (let i = 1; i <= 450; i++) {
      published.push(broker.publish({ level: "info", type: "t", msg: `m${i}`, queue: i % 2 === 0 ? "even" : "odd" }));
    }
    const all = broker.since(null, {});
    expect(all).toHaveLength(200);
    expect(all.map((e) => e.msg)).toEqual(published.slice(250).map((e) => e.msg));
    expect(broker.since(null, { queue: "even" })).toHaveLength(100);
    const cut = published[439] as TaskEvent;
    expect(broker.since(cut.id, {}).map((e) => e.msg)).toEqual(published.slice(440).map((e) => e.msg));
    expect(broker.since((published[449] as TaskEvent).id, {})).toEqual([]);
    expect(new EventBroker({ bufferSize: 3 }).since(null, {})).toEqual([]);
  });

  test("subscribe: replay then live events, none lost or duplicated at the boundary", () => {
    const broker = new EventBroker();
    const seen: string[] = [];
    let subscription: ReturnType<EventBroker["subscribe"]> | undefined;
    for (let i = 0; i < 5; i++) broker.publish({ level: "info", type: "t", msg: `before${i}` });
    // A second subscriber registers from inside a publish callback, mid-stream.
    const outer = broker.subscribe({}, (e) => {
      if (e.msg === "before-trigger" && subscription === undefined) {
        subscription = broker.subscribe({}, (live) => seen.push(live.msg), null);
        for (const replayed of subscription.replay) seen.push(replayed.msg);
      }
    }, null);
    broker.publish({ level: "info", type: "t", msg: "before-trigger" });
    broker.publish({ level: "info", type: "t", msg: "after" });
    expect(seen).toEqual(["before0", "before1", "before2", "before3", "before4", "before-trigger", "after"]);
    expect(broker.subscriberCount).toBe(2);
    subscription?.unsubscribe();
    subscription?.unsubscribe();
    outer.unsubscribe();
    expect(broker.subscriberCount).toBe(0);
    broker.publish({ level: "info", type: "t", msg: "unheard" });
    expect(seen).not.toContain("unheard");
  });

  test("live delivery honours the filter", () => {
    const broker = new EventBroker();
    const got: string[] = [];
    const sub = broker.subscribe(filterOf("queue=a&task_id=7"), (e) => got.push(e.msg), null);
    broker.publish({ level: "info", type: "t", msg: "match", queue: "a", taskId: "7" });
    broker.publish({ level: "info", type: "t", msg: "other-queue", queue: "b", taskId: "7" });
    broker.publish({ level: "info", type: "t", msg: "other-task", queue: "a", taskId: "8" });
    expect(got).toEqual(["match"]);
    sub.unsubscribe();
  });

  test("a throwing subscriber affects neither publish nor other subscribers", () => {
    const broker = new EventBroker();
    const got: number[] = [];
    broker.subscribe({}, () => {
      throw new Error("boom");
    }, null);
    broker.subscribe({}, (e) => got.push(e.id), null);
    const published = [1, 2, 3].map(() => broker.publish({ level: "error", type: "t", msg: "m" }));
    expect(got).toEqual(published.map((e) => e.id));
    expect(broker.since(null, {})).toHaveLength(3);
  });

  test("published events are frozen snapshots of the input", () => {
    const broker = new EventBroker();
    const metadata: Record<string, string> = { b: "2", a: "1" };
    const published = broker.publish({ level: "info", type: "t", msg: "m", metadata });
    metadata.c = "3";
    expect(Object.isFrozen(published)).toBe(true);
    expect(eventJson(published)).toContain('"metadata":{"a":"1","b":"2"}}');
  });
});
