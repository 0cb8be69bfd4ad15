import { describe, expect, test } from "bun:test";
import { BoundedCapture, pump } from "../../src/executor/capture.ts";
import { formatDuration } from "../../src/executor/executor.ts";
import { payloadSizeProblem, preparePayload } from "../../src/executor/payload.ts";
import { TRUNCATION_MARKER } from "../../src/executor/index.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("BoundedCapture", () => {
  test("keeps everything under the limit, no marker", () => {
    const capture = new BoundedCapture(100);
    capture.push(bytes("hello "));
    capture.push(bytes("world"));
    expect(capture.truncated).toBe(false);
    expect(capture.render()).toBe("hello world");
  });

  test("cap 5, 'hello world' keeps 'hello' and appends the marker", () => {
    const capture = new BoundedCapture(5);
    capture.push(bytes("hello world"));
    expect(capture.truncated).toBe(true);
    expect(capture.totalBytes).toBe(11);
    expect(capture.keptText()).toBe("hello");
    expect(capture.render()).toBe(`hello${TRUNCATION_MARKER}`);
  });

  test("exactly at the limit is not truncated", () => {
    const capture = new BoundedCapture(5);
    capture.push(bytes("hel"));
    capture.push(bytes("lo"));
    expect(capture.truncated).toBe(false);
    expect(capture.render()).toBe("hello");
  });

  test("a multi-byte character cut at the limit is dropped, not garbled", () => {
    for (const limit of [4, 5, 6]) {
      const capture = new BoundedCapture(limit);
      capture.push(bytes("abc€€")); // € is 3 bytes: cut at 4 and 5 falls inside it
      const kept = capture.keptText();
      expect(kept).toBe(limit === 6 ? "abc€" : "abc");
      expect(kept).not.toContain("\uFFFD");
    }
    const emoji = new BoundedCapture(4);
    emoji.push(bytes("ab😀c")); // 4-byte character, 2 of its bytes kept
    expect(emoji.keptText()).toBe("ab");
  });

  test("invalid UTF-8 from the child becomes replacement characters, never a crash", () => {
    const capture = new BoundedCapture(10);
    capture.push(new Uint8Array([0x61, 0xff, 0x62]));
    expect(capture.render()).toBe("a\uFFFDb");
  });

  test("the tail window holds the last complete lines beyond the limit", () => {
    const capture = new BoundedCapture(10, 32);
    capture.push(bytes("x".repeat(100)));
    capture.push(bytes('\npartial line\n{"ok": true}\n'));
    // The last 32 bytes are "xxxxx\npartial line\n{…}\n"; the cut "xxxxx" line is dropped.
    expect(capture.tailText()).toBe('partial line\n{"ok": true}\n');
    const small = new BoundedCapture(100, 64);
    small.push(bytes("all of it\n"));
    expect(small.tailText()).toBe("all of it\n");
  });
});

describe("pump", () => {
  test("reads a stream to EOF into the capture", async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 10; i += 1) controller.enqueue(bytes("0123456789"));
        controller.close();
      },
    });
    const capture = new BoundedCapture(25);
    await pump(stream, capture).done;
    expect(capture.totalBytes).toBe(100);
    expect(capture.keptText()).toBe("0123456789012345678901234");
  });

  test("cancel() ends a stream that never closes", async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes("some"));
      },
    });
    const capture = new BoundedCapture(100);
    const running = pump(stream, capture);
    await Bun.sleep(20);
    running.cancel();
    await running.done;
    expect(capture.keptText()).toBe("some");
  });
});

describe("payload", () => {
  test("size check counts UTF-8 bytes and uses the exact Go message", () => {
    expect(payloadSizeProblem("x".repeat(15), 10)).toBe("payload size 15 exceeds limit 10");
    expect(payloadSizeProblem("x".repeat(10), 10)).toBeNull();
    expect(payloadSizeProblem("€€€€", 10)).toBe("payload size 12 exceeds limit 10");
  });

  test("argument flags per mode", async () => {
    expect((await preparePayload("stdin", "{}", "1", "/tmp")) as object).toMatchObject({ args: ["--payload-stdin"], stdin: "{}" });
    expect((await preparePayload("inline", "{}", "1", "/tmp")) as object).toMatchObject({ args: ["--payload-json", "{}"], stdin: null });
    expect(await preparePayload("bogus" as never, "{}", "1", "/tmp")).toEqual({ error: "invalid payload mode: bogus" });
  });

  test("file mode reports temp file errors", async () => {
    const result = await preparePayload("file", "{}", "1", "/nonexistent-dir-for-reproq-test");
    expect("error" in result && result.error.startsWith("failed to create temp file: ")).toBe(true);
  });
});

test("formatDuration", () => {
  expect(formatDuration(30_000)).toBe("30s");
  expect(formatDuration(1500)).toBe("1.5s");
  expect(formatDuration(250)).toBe("250ms");
});
