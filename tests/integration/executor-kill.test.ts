// Stopping processes: timeouts and aborts signal the whole process group (TERM, grace, KILL),
// grandchildren holding the pipes cannot hang us, and floods of output never break the child.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { eventually, grandchildPid, isAlive, payloadFor, runFake } from "../helpers/executors/index.ts";
import { KillAtOnce, truncationMarker } from "../../src/executor/index.ts";
import { expectQuick } from "../helpers/timing.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const GRACE_MS = 1000;
const DRAIN_MS = 1000;
const executor = { killGraceMs: GRACE_MS, pipeDrainMs: DRAIN_MS };

describe("timeout", () => {
  test("a SIGTERM-ignoring child and its grandchild are killed after the grace period", async () => {
    const started = performance.now();
    const result = await runFake(payloadFor("hang"), { request: { timeoutMs: 1000 }, executor });
    const elapsed = performance.now() - started;
    expect(result.outcome).toBe("timeout");
    expect(result.signal).toBe("SIGKILL");
    expect(result.exitCode).toBeNull();
    expect(result.message).toBe("timed out after 1s; killed by SIGKILL after SIGTERM grace (1s)");
    expect(elapsed).toBeGreaterThanOrEqual(1000 + GRACE_MS - 50);
    expectQuick(elapsed, 1000 + GRACE_MS, "the timeout plus the grace period");
    const grandchild = grandchildPid(result.stderr);
    expect(await eventually(() => !isAlive(grandchild))).toBe(true);
  });

  test("a child that obeys SIGTERM stops at once; its envelope is reported with the timeout", async () => {
    const started = performance.now();
    const result = await runFake(payloadFor("trap"), { request: { timeoutMs: 800 }, executor: { killGraceMs: 30_000, pipeDrainMs: DRAIN_MS } });
    expect(result.outcome).toBe("timeout");
    expect(result.exitCode).toBe(1);
    expect(result.message).toBe("timed out after 800ms; exited with code 1 after SIGTERM");
    expect(result.envelope).toMatchObject({ ok: false, exceptionClass: "Terminated" });
    expectQuick(performance.now() - started, 1_000, "a child that obeys SIGTERM"); // far below the 30 s grace
  });

  test("default SIGTERM disposition: stopped by SIGTERM", async () => {
    const result = await runFake(payloadFor("sleep", { seconds: 30 }), { request: { timeoutMs: 500 }, executor });
    expect(result).toMatchObject({ outcome: "timeout", signal: "SIGTERM", exitCode: null, envelope: null });
    expect(result.message).toBe("timed out after 500ms; stopped by SIGTERM");
  });

  test("a task finishing before its timeout is not affected", async () => {
    const result = await runFake(payloadFor("sleep", { seconds: 0.2 }), { request: { timeoutMs: 5000 }, executor });
    expect(result.outcome).toBe("exited");
    expect(result.envelope?.ok).toBe(true);
  });
});

describe("abort (cancel, lost lease, shutdown)", () => {
  test("aborting the signal stops the process group and reports aborted", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort("cancel requested"), 300);
    const started = performance.now();
    const result = await runFake(payloadFor("sleep", { seconds: 30 }), { request: { signal: controller.signal }, executor });
    expect(result.outcome).toBe("aborted");
    expect(result.signal).toBe("SIGTERM");
    expect(result.message).toBe("aborted (cancel requested); stopped by SIGTERM");
    expectQuick(performance.now() - started, 1_000, "an abort after 300 ms"); // not the 30 s sleep
  });

  test("abort with a SIGTERM-ignoring child escalates to SIGKILL and kills the grandchild", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("shutdown")), 500);
    const result = await runFake(payloadFor("hang"), { request: { signal: controller.signal }, executor });
    expect(result.outcome).toBe("aborted");
    expect(result.message).toBe("aborted (shutdown); killed by SIGKILL after SIGTERM grace (1s)");
    const grandchild = grandchildPid(result.stderr);
    expect(await eventually(() => !isAlive(grandchild))).toBe(true);
  });

  test("an abort with KillAtOnce (worker_lost) skips the grace: SIGKILL at once, grandchild too", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new KillAtOnce("worker_lost")), 500);
    const started = performance.now();
    // A 30 s grace that a plain abort would wait out for this SIGTERM-ignoring child.
    const result = await runFake(payloadFor("hang"), { request: { signal: controller.signal }, executor: { killGraceMs: 30_000 } });
    expect(result.outcome).toBe("aborted");
    expect(result.signal).toBe("SIGKILL");
    expectQuick(performance.now() - started, 1_500, "a KillAtOnce abort after 500 ms"); // not the 30 s grace
    const grandchild = grandchildPid(result.stderr);
    expect(await eventually(() => !isAlive(grandchild))).toBe(true);
  });

  test("an already-aborted signal never starts the process", async () => {
    const controller = new AbortController();
    controller.abort();
    const result = await runFake(payloadFor("success"), { request: { signal: controller.signal }, executor });
    expect(result).toMatchObject({ outcome: "aborted", pid: null, message: "aborted before the process started" });
  });
});

describe("grandchild holding stdout", () => {
  test("does not hang the worker: finished after pipeDrainMs, grandchild killed", async () => {
    const started = performance.now();
    const result = await runFake(payloadFor("grandchild", { seconds: 60 }), { executor });
    const elapsed = performance.now() - started;
    expectQuick(elapsed, DRAIN_MS + 500, "the pipe drain"); // not the grandchild's 60 s
    expect(result.outcome).toBe("exited");
    expect(result.exitCode).toBe(0);
    expect(result.envelope?.ok).toBe(true);
    expect(result.message).toBe("exited with code 0; output pipes still open 1s after exit (a background process held them), process group killed");
    const grandchild = grandchildPid(result.stderr);
    expect(await eventually(() => !isAlive(grandchild))).toBe(true);
  });
});

describe("huge output", () => {
  const MIB = 1024 * 1024;
  const HALF = MIB / 2;

  test("10 MB on stdout: its first and last halves of max_stdout_bytes kept around a marker, child exits 0, envelope found", async () => {
    const result = await runFake(payloadFor("flood", { bytes: 10 * MIB, head: "FIRST LINE\n" }), { worker: { maxStdoutBytes: MIB }, executor });
    expect(result.exitCode).toBe(0); // no EPIPE / SIGPIPE: we kept draining
    expect(result.stdoutTruncated).toBe(true);
    const envelopeLine = `{"ok": true, "return": {"flooded": ${10 * MIB}}}\n`;
    const total = "FIRST LINE\n".length + 10 * MIB + 1 + envelopeLine.length;
    const marker = truncationMarker(total - MIB, "max_stdout_bytes");
    const [head, tail] = result.stdout.split(marker);
    expect(head).toBe(`FIRST LINE\n${"x".repeat(HALF - 11)}`);
    expect(tail).toBe(`${"x".repeat(HALF - envelopeLine.length - 1)}\n${envelopeLine}`);
    expect(result.envelope).toMatchObject({ ok: true, returnJson: `{"flooded": ${10 * MIB}}` });
  });

  test("an envelope line of up to max_stdout_bytes is found after any amount of output (not only within 64 KiB)", async () => {
    const worker = { maxStdoutBytes: 256 * 1024 };
    const found = await runFake(payloadFor("flood", { bytes: MIB, pad: 200_000 }), { worker, executor });
    expect(found.exitCode).toBe(0);
    expect(found.stdoutTruncated).toBe(true);
    expect(found.envelopeProblem).toBeNull();
    expect(found.envelope?.ok).toBe(true);
    expect(JSON.parse(found.envelope?.returnJson ?? "null")).toEqual({ flooded: MIB, pad: "y".repeat(200_000) });
  });

  test("an envelope after the flood is found; a missing one says stdout was cut", async () => {
    const worker = { maxStdoutBytes: 1000 };
    const found = await runFake(payloadFor("flood", { bytes: 2 * MIB }), { worker, executor });
    expect(found.exitCode).toBe(0);
    expect(found.stdoutTruncated).toBe(true);
    expect(found.envelope).toMatchObject({ ok: true, returnJson: `{"flooded": ${2 * MIB}}` });
    const missing = await runFake(payloadFor("flood", { bytes: 2 * MIB, envelope: false }), { worker, executor });
    expect(missing.envelope).toBeNull();
    expect(missing.envelopeProblem).toBe(
      `no result envelope on stdout (${2 * MIB + 1} bytes, more than max_stdout_bytes 1000; no complete line in its last 1000 bytes)`,
    );
  });

  test("an envelope bigger than max_stdout_bytes is never accepted", async () => {
    const result = await runFake(payloadFor("big_return", { bytes: 5000 }), { worker: { maxStdoutBytes: 1000 }, executor });
    expect(result.envelope).toBeNull();
    expect(result.envelopeProblem).toContain("more than max_stdout_bytes 1000");
    const fits = await runFake(payloadFor("big_return", { bytes: 500 }), { worker: { maxStdoutBytes: 1000 }, executor });
    expect(fits.envelope?.returnJson).toBe(`"${"y".repeat(500)}"`);
  });

  test("10 MB on stderr ending in a traceback: the traceback is kept, the marker counts what was dropped", async () => {
    const traceback = "Traceback (most recent call last):\n  File \"task.py\", line 3, in run\nValueError: the real error\n";
    const result = await runFake(payloadFor("flood", { bytes: 10 * MIB, stream: "stderr", tail: traceback }), { worker: { maxStderrBytes: 4096 }, executor });
    expect(result.exitCode).toBe(0);
    expect(result.stderrTruncated).toBe(true);
    const total = 10 * MIB + 1 + traceback.length;
    expect(result.stderr).toBe(`${"x".repeat(2048)}${truncationMarker(total - 4096, "max_stderr_bytes")}${"x".repeat(2048 - traceback.length - 1)}\n${traceback}`);
    expect(result.stdoutTruncated).toBe(false);
    expect(result.envelope?.ok).toBe(true);
  });
});
