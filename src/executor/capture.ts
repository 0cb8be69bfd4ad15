// Bounded capture of a child's output stream. The first `limit` bytes are kept; everything after
// is still read and thrown away, so a chatty task never gets EPIPE/SIGPIPE (the Go worker closed
// the pipe at the cap and broke such tasks). A small tail window of the latest bytes is also kept
// so an envelope printed after a flood of output can still be found.
import { TRUNCATION_MARKER } from "./types.ts";

const decoder = new TextDecoder("utf-8");

/** Length of `bytes` without a multi-byte UTF-8 sequence cut off at the end. */
function completeUtf8Length(bytes: Uint8Array): number {
  // Look back at most 3 bytes for the lead byte of the last sequence.
  for (let back = 1; back <= Math.min(3, bytes.length); back += 1) {
    const byte = bytes[bytes.length - back] ?? 0;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? bytes.length - back : bytes.length;
  }
  return bytes.length;
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

export class BoundedCapture {
  private readonly head: Uint8Array[] = [];
  private headBytes = 0;
  private readonly tail: Uint8Array[] = [];
  private tailBytes = 0;
  /** Every byte the stream produced, kept or not. */
  totalBytes = 0;

  constructor(
    readonly limit: number,
    readonly tailLimit = 0,
  ) {}

  /**
   * A capture rebuilt from what another process kept (the python pool): the first `limit` bytes,
   * the last `tailLimit` bytes and the count of all bytes.
   */
  static fromParts(limit: number, tailLimit: number, head: Uint8Array, tail: Uint8Array, totalBytes: number): BoundedCapture {
    const capture = new BoundedCapture(limit, tailLimit);
    const kept = head.subarray(0, limit);
    if (kept.length > 0) capture.head.push(kept);
    capture.headBytes = kept.length;
    const window = totalBytes > limit ? tail : head;
    if (tailLimit > 0 && window.length > 0) {
      capture.tail.push(window);
      capture.tailBytes = window.length;
    }
    capture.totalBytes = Math.max(totalBytes, kept.length);
    return capture;
  }

  get truncated(): boolean {
    return this.totalBytes > this.limit;
  }

  push(chunk: Uint8Array): void {
    this.totalBytes += chunk.length;
    const room = this.limit - this.headBytes;
    if (room > 0) {
      const kept = chunk.length <= room ? chunk : chunk.subarray(0, room);
      this.head.push(kept);
      this.headBytes += kept.length;
    }
    if (this.tailLimit <= 0) return;
    this.tail.push(chunk);
    this.tailBytes += chunk.length;
    // Drop whole chunks from the front while the rest still covers the window.
    while (this.tail.length > 1 && this.tailBytes - (this.tail[0]?.length ?? 0) >= this.tailLimit) {
      this.tailBytes -= this.tail.shift()?.length ?? 0;
    }
  }

  /** The kept bytes as text, without the marker; a character cut at the limit is dropped. */
  keptText(): string {
    const bytes = concat(this.head, this.headBytes);
    return decoder.decode(this.truncated ? bytes.subarray(0, completeUtf8Length(bytes)) : bytes);
  }

  /** The kept text, with TRUNCATION_MARKER appended when the stream went over the limit. */
  render(): string {
    return this.truncated ? this.keptText() + TRUNCATION_MARKER : this.keptText();
  }

  /** The last complete lines within the tail window (a partial first line is dropped). */
  tailText(): string {
    const bytes = concat(this.tail, this.tailBytes);
    const window = bytes.subarray(Math.max(0, bytes.length - this.tailLimit));
    const text = decoder.decode(window);
    if (window.length === this.totalBytes) return text;
    const firstBreak = text.indexOf("\n");
    return firstBreak === -1 ? "" : text.slice(firstBreak + 1);
  }
}

export interface Pump {
  /** Resolves at EOF, on a read error, or once cancel() was called. */
  readonly done: Promise<void>;
  cancel(): void;
}

/** Reads `stream` into `capture` until EOF; cancel() stops waiting (e.g. a grandchild holds it). */
export function pump(stream: ReadableStream<Uint8Array>, capture: BoundedCapture): Pump {
  const reader = stream.getReader();
  const done = (async () => {
    try {
      for (;;) {
        const { value, done: ended } = await reader.read();
        if (ended) return;
        if (value) capture.push(value);
      }
    } catch {
      // A read error ends the capture with what we have; the exit status tells the story.
    }
  })();
  return {
    done,
    cancel: () => {
      reader.cancel().catch(() => {});
    },
  };
}
