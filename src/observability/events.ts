// Task lifecycle event broker behind GET /events: a replay ring buffer plus live subscribers.
// Publishing is synchronous, never blocks and never throws; transport (SSE) lives in http/sse.ts.

export type EventLevel = "info" | "warn" | "error";

export interface TaskEvent {
  /** Increasing, unique across worker restarts (see EventBroker); the SSE `id:` field. */
  id: number;
  /** RFC 3339 UTC with milliseconds. */
  ts: string;
  level: EventLevel;
  type: string;
  msg: string;
  queue?: string;
  /** The task's result_id as decimal digits (64-bit ids do not fit a JS number). */
  taskId?: string;
  workerId?: string;
  metadata?: Readonly<Record<string, string>>;
}

export type EventInput = Omit<TaskEvent, "id" | "ts"> & { ts?: string };

export interface EventFilter {
  queue?: string;
  workerId?: string;
  /** Base-10 int64, normalised (no leading zeros or "+"). */
  taskId?: string;
}

export type EventListener = (event: TaskEvent) => void;

export interface EventSubscription {
  /** Buffered events after `lastId` that match the filter, oldest first. */
  replay: TaskEvent[];
  unsubscribe(): void;
}

export interface EventBrokerOptions {
  /** Replay buffer length; default 200. */
  bufferSize?: number;
  /** Wall clock in milliseconds; default Date.now. */
  now?: () => number;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const DIGITS = /^[0-9]+$/;

/** Digits without leading zeros ("042" → "42", "000" → "0"); null when not all digits. */
function canonicalDigits(value: string): string | null {
  if (!DIGITS.test(value)) return null;
  const stripped = value.replace(/^0+/, "");
  return stripped === "" ? "0" : stripped;
}

/** The event's task id as a canonical integer string; an absent or non-numeric id counts as 0. */
function eventTaskId(event: TaskEvent): string {
  return event.taskId === undefined ? "0" : (canonicalDigits(event.taskId) ?? "0");
}

/** Go's strconv.ParseInt(s, 10, 64): optional sign, digits, int64 range. Canonical string or null. */
export function parseInt64(value: string): string | null {
  const match = /^([+-]?)([0-9]+)$/.exec(value);
  if (match === null) return null;
  const parsed = BigInt(`${match[1] === "-" ? "-" : ""}${match[2]}`);
  if (parsed < INT64_MIN || parsed > INT64_MAX) return null;
  return parsed.toString();
}

/** Reads `queue`, `worker_id`, `task_id` (each trimmed; empty means no filter). */
export function parseEventFilter(params: URLSearchParams): EventFilter | { error: "invalid task_id" } {
  const filter: EventFilter = {};
  const queue = params.get("queue")?.trim() ?? "";
  const workerId = params.get("worker_id")?.trim() ?? "";
  const taskId = params.get("task_id")?.trim() ?? "";
  if (queue !== "") filter.queue = queue;
  if (workerId !== "") filter.workerId = workerId;
  if (taskId !== "") {
    const parsed = parseInt64(taskId);
    if (parsed === null) return { error: "invalid task_id" };
    filter.taskId = parsed;
  }
  return filter;
}

/** AND of the supplied filters; task ids compare as integers. */
export function matchesFilter(event: TaskEvent, filter: EventFilter): boolean {
  if (filter.queue !== undefined && (event.queue ?? "") !== filter.queue) return false;
  if (filter.workerId !== undefined && (event.workerId ?? "") !== filter.workerId) return false;
  if (filter.taskId !== undefined && eventTaskId(event) !== (parseInt64(filter.taskId) ?? filter.taskId)) return false;
  return true;
}

/** The Go worker's event JSON: fixed key order, empty optional keys omitted, metadata keys sorted. */
export function eventJson(event: TaskEvent): string {
  let json = `{"ts":${JSON.stringify(event.ts)},"level":${JSON.stringify(event.level)},"type":${JSON.stringify(event.type)},"msg":${JSON.stringify(event.msg)}`;
  if (event.queue) json += `,"queue":${JSON.stringify(event.queue)}`;
  const taskId = event.taskId === undefined ? null : canonicalDigits(event.taskId);
  // Raw digits, not a JS number, so ids above 2^53 keep their precision.
  if (taskId !== null && taskId !== "0") json += `,"task_id":${taskId}`;
  if (event.workerId) json += `,"worker_id":${JSON.stringify(event.workerId)}`;
  if (event.metadata !== undefined) {
    const keys = Object.keys(event.metadata).sort();
    if (keys.length > 0) {
      const metadata = event.metadata;
      json += `,"metadata":{${keys.map((key) => `${JSON.stringify(key)}:${JSON.stringify(String(metadata[key]))}`).join(",")}}`;
    }
  }
  return `${json}}`;
}

interface Subscriber {
  filter: EventFilter;
  onEvent: EventListener;
  active: boolean;
}

/**
 * Ids start at the broker's creation time in microseconds and go up by one per event, so a new
 * worker process's ids exceed the previous one's (unless it averaged over 1000 events per ms) and a
 * client resuming with an old Last-Event-ID receives every buffered event of the new process.
 */
export class EventBroker {
  private readonly bufferSize: number;
  private readonly now: () => number;
  private readonly ring: (TaskEvent | undefined)[];
  private ringStart = 0;
  private ringLength = 0;
  private nextId: number;
  // Replaced, never mutated, so publish iterates a stable list while callbacks (un)subscribe.
  private subscribers: readonly Subscriber[] = [];

  constructor(options: EventBrokerOptions = {}) {
    this.bufferSize = Math.max(1, Math.floor(options.bufferSize ?? 200));
    this.now = options.now ?? Date.now;
    this.ring = new Array<TaskEvent | undefined>(this.bufferSize);
    this.nextId = Math.floor(this.now()) * 1000;
  }

  get subscriberCount(): number {
    return this.subscribers.length;
  }

  /** Stores and fans out one event; returns it (frozen) with its id and ts. */
  publish(input: EventInput): TaskEvent {
    const event = this.build(input);
    this.ring[(this.ringStart + this.ringLength) % this.bufferSize] = event;
    if (this.ringLength < this.bufferSize) this.ringLength++;
    else this.ringStart = (this.ringStart + 1) % this.bufferSize;
    for (const subscriber of this.subscribers) {
      if (!subscriber.active || !matchesFilter(event, subscriber.filter)) continue;
      try {
        subscriber.onEvent(event);
      } catch {
        // A failing subscriber must not affect the worker or the other subscribers.
      }
    }
    return event;
  }

  /** Buffered events with id > lastId (all when null) that match the filter, oldest first. */
  since(lastId: number | null, filter: EventFilter): TaskEvent[] {
    const out: TaskEvent[] = [];
    for (let offset = 0; offset < this.ringLength; offset++) {
      const event = this.ring[(this.ringStart + offset) % this.bufferSize];
      if (event === undefined || (lastId !== null && event.id <= lastId)) continue;
      if (matchesFilter(event, filter)) out.push(event);
    }
    return out;
  }

  /** Snapshot and registration happen in one synchronous step: nothing is missed or repeated. */
  subscribe(filter: EventFilter, onEvent: EventListener, lastId: number | null): EventSubscription {
    const subscriber: Subscriber = { filter, onEvent, active: true };
    const replay = this.since(lastId, filter);
    this.subscribers = [...this.subscribers, subscriber];
    return {
      replay,
      unsubscribe: () => {
        if (!subscriber.active) return;
        subscriber.active = false;
        this.subscribers = this.subscribers.filter((entry) => entry !== subscriber);
      },
    };
  }

  private build(input: EventInput): TaskEvent {
    const event: TaskEvent = {
      id: this.nextId++,
      ts: input.ts || this.timestamp(),
      level: input.level,
      type: input.type,
      msg: input.msg,
    };
    if (input.queue) event.queue = input.queue;
    if (input.taskId) event.taskId = input.taskId;
    if (input.workerId) event.workerId = input.workerId;
    if (input.metadata !== undefined && Object.keys(input.metadata).length > 0) {
      event.metadata = Object.freeze({ ...input.metadata });
    }
    return Object.freeze(event);
  }

  private timestamp(): string {
    const date = new Date(this.now());
    return Number.isNaN(date.getTime()) ? new Date().toISOString() : date.toISOString();
  }
}
