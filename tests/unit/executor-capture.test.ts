import { describe, expect, test } from "bun:test";
import { BoundedCapture, pump } from "../../src/executor/capture.ts";
import { formatDuration } from "../../src/executor/executor.ts";
import { payloadSizeProblem, preparePayload } from "../../src/executor/payload.ts";
import { truncationMarker } from "../../src/executor/index.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

const stdoutCapture = (limit: number) => new BoundedCapture(limit, { setting: "max_stdout_bytes", envelopeWindow: true });
const stderrCapture = (limit: number) => new BoundedCapture(limit, { setting: "max_stderr_bytes" });

describe("BoundedCapture", () => {
  test("keeps everything under the limit, no marker", () => {
    const capture = stdoutCapture(100);
    capture.push(bytes("hello "));
    capture.push(bytes("world"));
    expect(capture.truncated).toBe(false);
    expect(capture.render()).toBe("hello world");
    expect(capture.envelopeText()).toBe("hello world");
  });

  test("over the limit: the head and the tail are kept, the middle is dropped and counted", () => {
    const capture = stderrCapture(10);
    capture.push(bytes("0123456789ABCDEFGHIJ"));
    expect(capture.truncated).toBe(true);
    expect(capture.totalBytes).toBe(20);
    expect(capture.droppedBytes).toBe(10);
    expect(capture.render()).toBe(`01234${truncationMarker(10, "max_stderr_bytes")}FGHIJ`);
    expect(truncationMarker(10, "max_stderr_bytes")).toBe("\n… [TRUNCATED: 10 bytes dropped (max_stderr_bytes)] …\n");
  });

  test("the tail is the end of the stream whatever the chunking (the error is usually there)", () => {
    const text = `${"noise line\n".repeat(500)}Traceback (most recent call last):\nValueError: the real error\n`;
    for (const chunkSize of [1, 7, 64, 4096, text.length]) {
      const capture = stderrCapture(100);
      for (let i = 0; i < text.length; i += chunkSize) capture.push(bytes(text.slice(i, i + chunkSize)));
      const rendered = capture.render();
      expect(rendered.startsWith(text.slice(0, 50))).toBe(true);
      expect(rendered.endsWith(text.slice(-50))).toBe(true);
      expect(capture.droppedBytes).toBe(text.length - 100);
    }
  });

  test("exactly at the limit is not truncated", () => {
    const capture = stdoutCapture(5);
    capture.push(bytes("hel"));
    capture.push(bytes("lo"));
    expect(capture.truncated).toBe(false);
    expect(capture.render()).toBe("hello");
  });

  test("both cuts fall on UTF-8 character boundaries; the bytes of split characters count as dropped", () => {
    // a b € € € c d: 13 bytes; a 6-byte cap keeps 3 head bytes (inside the first €) and 3 tail bytes (inside the last).
    const capture = stderrCapture(6);
    capture.push(bytes("ab€€€cd"));
    expect(capture.render()).toBe(`ab${truncationMarker(9, "max_stderr_bytes")}cd`);
    expect(capture.droppedBytes).toBe(9);
    const emoji = stderrCapture(8);
    emoji.push(bytes("ab😀c😀de")); // 4-byte characters cut at both ends
    expect(emoji.render()).not.toContain("\uFFFD");
    expect(emoji.render()).toBe(`ab${truncationMarker(9, "max_stderr_bytes")}de`);
  });

  test("invalid UTF-8 from the child becomes replacement characters, never a crash", () => {
    const capture = stdoutCapture(10);
    capture.push(new Uint8Array([0x61, 0xff, 0x62]));
    expect(capture.render()).toBe("a\uFFFDb");
  });

  test("envelope text: the last max bytes of a stream that went over, from the first complete line", () => {
    const capture = stdoutCapture(32);
    capture.push(bytes("x".repeat(100)));
    capture.push(bytes('\npartial line\n{"ok": true}\n'));
    // The last 32 bytes are "xxxxx\npartial line\n{…}\n"; the cut "xxxxx" line is dropped.
    expect(capture.envelopeText()).toBe('partial line\n{"ok": true}\n');
  });

  test("an envelope line up to max bytes is found after any amount of output; one byte more is not", () => {
    const limit = 200;
    const line = (size: number) => `{"ok": true, "return": "${"y".repeat(size - 27)}"}\n`;
    expect(Buffer.byteLength(line(limit))).toBe(limit);
    for (const chunkSize of [1, 13, 1000]) {
      const fits = stdoutCapture(limit);
      const text = "z".repeat(5000) + "\n" + line(limit);
      for (let i = 0; i < text.length; i += chunkSize) fits.push(bytes(text.slice(i, i + chunkSize)));
      expect(fits.envelopeText()).toBe(line(limit));
    }
    const tooBig = stdoutCapture(limit);
    tooBig.push(bytes("z".repeat(5000) + "\n" + line(limit + 1)));
    expect(tooBig.envelopeText()).toBe("");
  });

  test("memory stays bounded: half the cap of head, and a tail of max + 1 bytes (stdout) or the other half (stderr)", () => {
    const out = stdoutCapture(1000);
    const err = stderrCapture(1000);
    for (let i = 0; i < 1000; i += 1) {
      out.push(bytes("q".repeat(100)));
      err.push(bytes("q".repeat(100)));
    }
    // Whole chunks are dropped from the tail, so up to one chunk (100 bytes) more may stay.
    expect(out.retainedBytes).toBeGreaterThanOrEqual(500 + 1001);
    expect(out.retainedBytes).toBeLessThanOrEqual(500 + 1001 + 100);
    expect(err.retainedBytes).toBeGreaterThanOrEqual(500 + 500);
    expect(err.retainedBytes).toBeLessThanOrEqual(500 + 500 + 100);
  });

  test("rebuilt from what another process kept (python-pool) it renders the same", () => {
    const text = "head-" + "m".repeat(3000) + "€-tail\n" + '{"ok": true}\n';
    const local = stdoutCapture(100);
    local.push(bytes(text));
    const all = bytes(text);
    const rebuilt = BoundedCapture.fromParts(100, { setting: "max_stdout_bytes", envelopeWindow: true }, all.subarray(0, 100), all.subarray(all.length - 101), all.length);
    expect(rebuilt.render()).toBe(local.render());
    expect(rebuilt.envelopeText()).toBe(local.envelopeText());
    expect(rebuilt.droppedBytes).toBe(local.droppedBytes);
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
    const capture = stderrCapture(25);
    await pump(stream, capture).done;
    expect(capture.totalBytes).toBe(100);
    expect(capture.render()).toBe(`012345678901${truncationMarker(75, "max_stderr_bytes")}7890123456789`);
  });

  test("cancel() ends a stream that never closes", async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes("some"));
      },
    });
    const capture = stdoutCapture(100);
    const running = pump(stream, capture);
    await Bun.sleep(20);
    running.cancel();
    await running.done;
    expect(capture.render()).toBe("some");
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
