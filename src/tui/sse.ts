// Server-Sent Events for the events tail: a small incremental parser of `id:`/`data:` frames
// (comments such as `: ping` are counted but carry nothing) and the shape of one shown event.
// Shown text is scrubbed of secret-looking pairs: the worker already removed the task's argument
// values, but top may be tailing a worker that does not.
import { redactPatterns } from "../observability/redact.ts";

export interface SseFrame {
  id: string | null;
  data: string;
}

export interface TailEvent {
  id: string | null;
  ts: string;
  level: string;
  type: string;
  msg: string;
  /** A failure's `exception_class: error_message` from the metadata; null for other events. */
  detail: string | null;
  queue: string | null;
  taskId: string | null;
  workerId: string | null;
}

/** Feeds text chunks in, returns complete frames; handles \n and \r\n and split chunks. */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private id: string | null = null;
  comments = 0;

  feed(chunk: string): SseFrame[] {
    this.buffer += chunk;
    const frames: SseFrame[] = [];
    let newline = this.buffer.search(/\r?\n/);
    while (newline !== -1) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + (this.buffer[newline] === "\r" ? 2 : 1));
      const frame = this.line(line);
      if (frame) frames.push(frame);
      newline = this.buffer.search(/\r?\n/);
    }
    return frames;
  }

  private line(line: string): SseFrame | null {
    if (line === "") {
      if (this.data.length === 0) return null;
      const frame = { id: this.id, data: this.data.join("\n") };
      this.data = [];
      return frame;
    }
    if (line.startsWith(":")) {
      this.comments++;
      return null;
    }
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.id = value;
    return null;
  }
}

function stringOr(value: unknown, fallback: string | null): string | null {
  return typeof value === "string" && value !== "" ? value : fallback;
}

/** "ValueError: boom", "boom" or null, from an event's metadata. */
function failureDetail(metadata: unknown): string | null {
  if (typeof metadata !== "object" || metadata === null) return null;
  const { exception_class: exceptionClass, error_message: message } = metadata as Record<string, unknown>;
  const text = [exceptionClass, message].filter((part) => typeof part === "string" && part !== "").join(": ");
  return text === "" ? null : redactPatterns(text);
}

/** A frame's JSON as a TailEvent; a frame that is not JSON becomes a plain "message" event. */
export function toTailEvent(frame: SseFrame): TailEvent {
  const taskId = /"task_id"\s*:\s*"?(\d+)/.exec(frame.data)?.[1] ?? null;
  try {
    const body = JSON.parse(frame.data) as Record<string, unknown>;
    return {
      id: frame.id,
      ts: stringOr(body.ts, "") ?? "",
      level: stringOr(body.level, "info") ?? "info",
      type: stringOr(body.type, "event") ?? "event",
      msg: redactPatterns(stringOr(body.msg, "") ?? ""),
      detail: failureDetail(body.metadata),
      queue: stringOr(body.queue, null),
      taskId,
      workerId: stringOr(body.worker_id, null),
    };
  } catch {
    return { id: frame.id, ts: "", level: "info", type: "message", msg: redactPatterns(frame.data), detail: null, queue: null, taskId, workerId: null };
  }
}

/** Reconnect delay after `failures` consecutive failures: 1 s doubling to 30 s. */
export function backoffMs(failures: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, failures - 1));
}
