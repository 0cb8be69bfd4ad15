// Payload delivery: the same bytes in every mode, private and short-lived temp files, the size
// limit checked before anything starts, and children that ignore stdin.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { payloadFor, runFake } from "../helpers/executors/index.ts";
import { expectQuick } from "../helpers/timing.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const scratch = mkdtempSync(join(tmpdir(), "reproq-payload-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

// jsonb text style, with non-ASCII, escapes and spacing that must survive untouched.
const PAYLOAD = '{"v": 1, "args": ["é ☃ 😀", "quote \\" and \\\\ backslash", 1.50], "kwargs": {"mode": "success"}, "task_path": "tasks.fake"}';

describe("payload modes deliver identical bytes", () => {
  for (const mode of ["stdin", "file", "inline"] as const) {
    test(mode, async () => {
      const tmpDir = mkdtempSync(join(scratch, `${mode}-`));
      const result = await runFake(PAYLOAD, { worker: { payloadMode: mode }, executor: { tmpDir } });
      expect(result.outcome).toBe("exited");
      const echoed = JSON.parse(result.envelope?.returnJson ?? "{}") as Record<string, unknown>;
      expect(echoed.payload_sha256).toBe(sha256(PAYLOAD));
      expect(echoed.payload_flag).toBe({ stdin: "--payload-stdin", file: "--payload-file", inline: "--payload-json" }[mode]);
      expect(readdirSync(tmpDir)).toEqual([]); // nothing left behind in any mode
    });
  }

  test("file mode: reproq-payload-<id>-<random>.json, mode 0600, removed afterwards", async () => {
    const tmpDir = mkdtempSync(join(scratch, "file-"));
    const result = await runFake(payloadFor("success"), { worker: { payloadMode: "file" }, executor: { tmpDir }, request: { resultId: "314" } });
    const echoed = JSON.parse(result.envelope?.returnJson ?? "{}") as Record<string, unknown>;
    const path = String(echoed.payload_file);
    expect(path.startsWith(join(tmpDir, "reproq-payload-314-"))).toBe(true);
    expect(path).toMatch(/reproq-payload-314-[0-9a-f]{12}\.json$/);
    expect(echoed.payload_file_mode).toBe("600");
    expect(existsSync(path)).toBe(false);
  });

  test("file mode: temp file removed after a timeout and after a start failure", async () => {
    const tmpDir = mkdtempSync(join(scratch, "file-fail-"));
    const timedOut = await runFake(payloadFor("sleep", { seconds: 30 }), { worker: { payloadMode: "file" }, executor: { tmpDir }, request: { timeoutMs: 500 } });
    expect(timedOut.outcome).toBe("timeout");
    const notStarted = await runFake(payloadFor("success"), { worker: { payloadMode: "file", pythonBin: "python3-reproq-missing" }, executor: { tmpDir } });
    expect(notStarted.outcome).toBe("start_failed");
    expect(readdirSync(tmpDir)).toEqual([]);
  });

  test("file mode: unusable temp dir → start_failed naming the temp file", async () => {
    const result = await runFake(payloadFor("success"), { worker: { payloadMode: "file" }, executor: { tmpDir: join(scratch, "missing", "dir") } });
    expect(result.outcome).toBe("start_failed");
    expect(result.message).toStartWith("failed to create temp file: ");
  });
});

describe("payload size limit", () => {
  test("exact message, checked before anything starts", async () => {
    const marker = join(scratch, "spawned-marker");
    const payload = "x".repeat(15);
    const result = await runFake(payload, {
      worker: { maxPayloadBytes: 10, executor: "command", executorCommand: ["sh", "-c", `touch ${marker}`, "sh"] },
    });
    expect(result).toMatchObject({ outcome: "payload_too_large", message: "payload size 15 exceeds limit 10", pid: null, exitCode: null });
    expect(existsSync(marker)).toBe(false);
    // The same command does run when the payload fits, so the check above can fail.
    const fits = await runFake("x".repeat(10), {
      worker: { maxPayloadBytes: 10, executor: "command", executorCommand: ["sh", "-c", `touch ${marker}`, "sh"] },
    });
    expect(fits.outcome).toBe("exited");
    expect(existsSync(marker)).toBe(true);
  });

  test("counts bytes, not characters", async () => {
    const result = await runFake("é".repeat(6), { worker: { maxPayloadBytes: 11 } });
    expect(result.message).toBe("payload size 12 exceeds limit 11");
  });
});

describe("stdin that the child never reads", () => {
  const big = { maxPayloadBytes: 8 * 1024 * 1024, executor: "command" as const };
  const payload = "p".repeat(4 * 1024 * 1024); // far beyond the pipe buffer

  test("child exits at once: no crash, no hang (EPIPE ignored)", async () => {
    const result = await runFake(payload, { worker: { ...big, executorCommand: ["sh", "-c", "echo '{\"ok\": true}'", "sh"] } });
    expect(result).toMatchObject({ outcome: "exited", exitCode: 0 });
    expect(result.envelope?.ok).toBe(true);
  });

  test("child sleeps without reading, then exits", async () => {
    const started = performance.now();
    const result = await runFake(payload, { worker: { ...big, executorCommand: ["sh", "-c", "sleep 0.5; exit 4", "sh"] } });
    expect(result).toMatchObject({ outcome: "exited", exitCode: 4 });
    expectQuick(performance.now() - started, 1_000, "a 0.5 s child that never reads its payload");
  });

  test("a child that reads everything gets all of it", async () => {
    const result = await runFake(payload, { worker: { ...big, executorCommand: ["sh", "-c", "wc -c", "sh"] } });
    expect(result.stdout.trim()).toBe(String(payload.length));
  });
});
