// Bounded capture of a child's output stream. Within the cap (max_stdout_bytes /
// max_stderr_bytes) everything is kept. Over it, the first half and the last half of the cap are
// kept — the end is where tracebacks and the result envelope are — around a marker that says how
// many bytes were dropped; both cuts fall on UTF-8 character boundaries. Everything is still read
// (and the excess thrown away), so a chatty task never gets EPIPE/SIGPIPE (the Go worker closed the
// pipe at the cap and broke such tasks). For stdout the last cap + 1 bytes are also kept, so a
// result envelope line of up to the cap is found after any amount of output.

const decoder = new TextDecoder("utf-8");

/** Put where the middle of an over-long stream was dropped. */
export function truncationMarker(droppedBytes: number, setting: string): string {
  return `\n… [TRUNCATED: ${droppedBytes} bytes dropped (${setting})] …\n`;
}

export interface CaptureOptions {
  /** The setting that caps this stream, named in the marker: max_stdout_bytes, max_stderr_bytes. */
  setting: string;
  /** Keep the last limit + 1 bytes for the envelope search (stdout). */
  envelopeWindow?: boolean;
}

export const STDOUT_CAPTURE: CaptureOptions = { setting: "max_stdout_bytes", envelopeWindow: true };
export const STDERR_CAPTURE: CaptureOptions = { setting: "max_stderr_bytes" };

/** How many trailing bytes a capture keeps: limit + 1 for the envelope window, else the displayed tail. */
export function tailWindowBytes(limit: number, envelopeWindow: boolean): number {
  return envelopeWindow ? limit + 1 : limit - Math.floor(limit / 2);
}

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

/** How many continuation bytes (the rest of a character cut off at the front) `bytes` starts with. */
function leadingContinuationBytes(bytes: Uint8Array): number {
  let skip = 0;
  while (skip < Math.min(3, bytes.length) && ((bytes[skip] ?? 0) & 0xc0) === 0x80) skip += 1;
  return skip;
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]?.length === total) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

export class BoundedCapture {
  /** The first `limit` bytes; only the first half of them once the stream went over. */
  private head: Uint8Array[] = [];
  private headBytes = 0;
  /** Whole chunks covering at least the last `window` bytes: tail[tailFirst…]. */
  private tail: Uint8Array[] = [];
  private tailFirst = 0;
  private tailBytes = 0;
  private readonly window: number;
  private readonly headLimit: number;
  /** Every byte the stream produced, kept or not. */
  totalBytes = 0;

  constructor(
    readonly limit: number,
    private readonly options: CaptureOptions,
  ) {
    this.headLimit = Math.floor(limit / 2);
    this.window = tailWindowBytes(limit, options.envelopeWindow ?? false);
  }

  /**
   * A capture rebuilt from what another process kept (the python pool): the first `limit` bytes
   * (all of them when the stream fit), the last tailWindowBytes() bytes, and the count of all bytes.
   */
  static fromParts(limit: number, options: CaptureOptions, head: Uint8Array, tail: Uint8Array, totalBytes: number): BoundedCapture {
    const capture = new BoundedCapture(limit, options);
    const kept = head.subarray(0, limit);
    capture.totalBytes = Math.max(totalBytes, kept.length);
    capture.head = [kept];
    capture.headBytes = kept.length;
    if (capture.truncated) {
      capture.tail.push(tail);
      capture.tailBytes = tail.length;
    }
    return capture;
  }

  get truncated(): boolean {
    return this.totalBytes > this.limit;
  }

  /** Bytes held in memory (head and tail chunks), for tests of the bound. */
  get retainedBytes(): number {
    return this.headBytes + this.tailBytes;
  }

  push(chunk: Uint8Array): void {
    const before = this.totalBytes;
    this.totalBytes += chunk.length;
    if (before < this.limit) {
      const room = this.limit - before;
      const kept = chunk.length <= room ? chunk : chunk.subarray(0, room);
      this.head.push(kept);
      this.headBytes += kept.length;
    }
    if (this.truncated && this.headBytes > this.headLimit) {
      // Over the cap for good: only the first half is shown, so only that is kept.
      this.head = [concat(this.head, this.headBytes).slice(0, this.headLimit)];
      this.headBytes = this.headLimit;
    }
    this.tail.push(chunk);
    this.tailBytes += chunk.length;
    // Drop whole chunks from the front while the rest still covers the window. Small chunks
    // (a task flushing every line) make the list long, so the front moves by index and the list is
    // compacted now and then instead of shift()ed per chunk.
    while (this.tail.length - this.tailFirst > 1 && this.tailBytes - (this.tail[this.tailFirst]?.length ?? 0) >= this.window) {
      this.tailBytes -= this.tail[this.tailFirst]?.length ?? 0;
      this.tailFirst += 1;
    }
    if (this.tailFirst >= 1024 && this.tailFirst * 2 >= this.tail.length) {
      this.tail = this.tail.slice(this.tailFirst);
      this.tailFirst = 0;
    }
  }

  /** The kept head and tail bytes (cut on character boundaries) and how many bytes lie between. */
  private parts(): { head: Uint8Array; tail: Uint8Array; dropped: number } {
    const headAll = concat(this.head, this.headBytes);
    if (!this.truncated) return { head: headAll, tail: new Uint8Array(0), dropped: 0 };
    const headCut = headAll.subarray(0, this.headLimit);
    const head = headCut.subarray(0, completeUtf8Length(headCut));
    const tailAll = concat(this.tail.slice(this.tailFirst), this.tailBytes);
    const tailCut = tailAll.subarray(Math.max(0, tailAll.length - (this.limit - this.headLimit)));
    const tail = tailCut.subarray(leadingContinuationBytes(tailCut));
    return { head, tail, dropped: this.totalBytes - head.length - tail.length };
  }

  /** Bytes left out of render(): 0 when the stream fit. */
  get droppedBytes(): number {
    return this.parts().dropped;
  }

  /** The stream as text; over the limit, its head and tail around truncationMarker(). */
  render(): string {
    const { head, tail, dropped } = this.parts();
    if (!this.truncated) return decoder.decode(head);
    return decoder.decode(head) + truncationMarker(dropped, this.options.setting) + decoder.decode(tail);
  }

  /**
   * Where to look for the result envelope: all of a stream that fit, else its last `limit` + 1
   * bytes from the first complete line (a line that started before them is dropped, so a line of
   * up to `limit` bytes, newline included, is always whole here).
   */
  envelopeText(): string {
    if (!this.truncated) return decoder.decode(concat(this.head, this.headBytes));
    const all = concat(this.tail.slice(this.tailFirst), this.tailBytes);
    const window = all.subarray(Math.max(0, all.length - (this.limit + 1)));
    if (window.length === this.totalBytes) return decoder.decode(window);
    const firstBreak = window.indexOf(0x0a);
    return firstBreak === -1 ? "" : decoder.decode(window.subarray(firstBreak + 1));
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
