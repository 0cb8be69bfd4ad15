// Real processes through createExecutor: each fake-executor behaviour and what the runtime gets.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { FAKE_EXECUTOR, PYTHON, payloadFor, request, runFake, testEnv, workerConfig } from "../helpers/executors/index.ts";
import { createExecutor } from "../../src/executor/index.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

function returned(json: string | null | undefined): Record<string, unknown> {
  return JSON.parse(json ?? "null") as Record<string, unknown>;
}

describe("python kind with the fake executor", () => {
  test("success: argv carries result id and attempt, return value is echoed", async () => {
    const result = await runFake(payloadFor("success"), { request: { resultId: "9001", attempt: 3 } });
    expect(result.outcome).toBe("exited");
    expect(result.exitCode).toBe(0);
    expect(result.signal).toBeNull();
    expect(result.message).toBe("exited with code 0");
    expect(result.envelope?.ok).toBe(true);
    expect(result.envelopeProblem).toBeNull();
    expect(returned(result.envelope?.returnJson)).toMatchObject({ result_id: "9001", attempt: 3, payload_flag: "--payload-stdin", task_path: "tasks.fake" });
    expect(result.pid).toBeGreaterThan(0);
    expect(result.durationMs).toBeGreaterThan(0);
    expect(result.stdoutTruncated || result.stderrTruncated).toBe(false);
  });

  test("raise: ok:false with class, message, traceback; exit 1", async () => {
    const result = await runFake(payloadFor("raise", { message: "nope" }));
    expect(result).toMatchObject({ outcome: "exited", exitCode: 1, message: "exited with code 1" });
    expect(result.envelope).toMatchObject({ ok: false, exceptionClass: "ValueError", message: "nope", returnJson: null });
    expect(result.envelope?.traceback).toContain("Traceback (most recent call last)");
  });

  test("noise lines before the envelope are skipped but kept in stdout", async () => {
    const result = await runFake(payloadFor("noise"));
    expect(result.envelope).toMatchObject({ ok: true, returnJson: '{"noise": true}' });
    expect(result.stdout).toContain("INFO starting task");
    expect(result.stdout).toContain('{"ok": "yes"');
  });

  test("NaN / Infinity in the return value are stored as null", async () => {
    const result = await runFake(payloadFor("nan"));
    expect(result.envelope?.ok).toBe(true);
    expect(returned(result.envelope?.returnJson)).toEqual({ nan: null, inf: null, ninf: null, text: "NaN and Infinity stay in strings" });
  });

  test("sleep then succeed", async () => {
    const result = await runFake(payloadFor("sleep", { seconds: 0.5 }));
    expect(result.outcome).toBe("exited");
    expect(result.envelope?.ok).toBe(true);
    expect(result.durationMs).toBeGreaterThanOrEqual(450);
  });

  test("non-zero exit with no output: no envelope, exit code recorded", async () => {
    const result = await runFake(payloadFor("exit", { code: 3 }));
    expect(result).toMatchObject({ outcome: "exited", exitCode: 3, envelope: null, message: "exited with code 3" });
    expect(result.envelopeProblem).toBe("no result envelope on stdout (stdout was empty)");
  });

  test("ok:true with a non-zero exit is still the envelope's word", async () => {
    const result = await runFake(payloadFor("ok_exit", { code: 2 }));
    expect(result.exitCode).toBe(2);
    expect(result.envelope).toMatchObject({ ok: true, returnJson: "null" });
  });

  test("garbage output: envelope null, problem quotes the last line", async () => {
    const result = await runFake(payloadFor("garbage"));
    expect(result.exitCode).toBe(0);
    expect(result.envelope).toBeNull();
    expect(result.envelopeProblem).toBe('no result envelope on stdout (25 bytes, last line: "{broken" (not valid JSON))');
  });

  test("environment: inherited minus the deny list", async () => {
    const executor = createExecutor({
      worker: workerConfig({ executorEnvDeny: ["METRICS_AUTH_TOKEN", "ALSO_SECRET"] }),
      env: testEnv({ METRICS_AUTH_TOKEN: "secret", ALSO_SECRET: "x", KEPT_VAR: "y" }),
    });
    const result = await executor.run(request(payloadFor("env")));
    const names = returned(result.envelope?.returnJson).env as string[];
    expect(names).toContain("KEPT_VAR");
    expect(names).toContain("PATH");
    expect(names).not.toContain("METRICS_AUTH_TOKEN");
    expect(names).not.toContain("ALSO_SECRET");
  });

  test("default deny list removes METRICS_AUTH_TOKEN", async () => {
    const executor = createExecutor({ worker: workerConfig(), env: testEnv({ METRICS_AUTH_TOKEN: "secret" }) });
    const result = await executor.run(request(payloadFor("env")));
    expect(returned(result.envelope?.returnJson).env as string[]).not.toContain("METRICS_AUTH_TOKEN");
  });
});

describe("start failures", () => {
  test("python binary not on PATH → start_failed, nothing else", async () => {
    const result = await runFake(payloadFor("success"), { worker: { pythonBin: "python3-reproq-missing" } });
    expect(result).toMatchObject({
      outcome: "start_failed",
      message: "exec: python3-reproq-missing not found on PATH",
      exitCode: null,
      signal: null,
      envelope: null,
      envelopeProblem: null,
      pid: null,
    });
  });

  test("absolute path that does not exist, and one that is not executable", async () => {
    const missing = await runFake(payloadFor("success"), { worker: { executor: "command", executorCommand: ["/nonexistent/exec"] } });
    expect(missing).toMatchObject({ outcome: "start_failed", message: "exec: /nonexistent/exec: no such file or directory" });
    const plainFile = join(mkdtempSync(join(tmpdir(), "reproq-exec-")), "not-executable.sh");
    writeFileSync(plainFile, "#!/bin/sh\necho hi\n", { mode: 0o644 });
    const notExecutable = await runFake(payloadFor("success"), { worker: { executor: "command", executorCommand: [plainFile] } });
    expect(notExecutable).toMatchObject({ outcome: "start_failed", message: `exec: ${plainFile}: permission denied` });
    rmSync(dirname(plainFile), { recursive: true, force: true });
  });

  test("command kind with an empty command", async () => {
    const result = await runFake(payloadFor("success"), { worker: { executor: "command", executorCommand: [] } });
    expect(result.outcome).toBe("start_failed");
    expect(result.message).toContain("executor_command is empty");
  });

  test("inline payload over the argument size limit says what to change", async () => {
    const big = payloadFor("success", { pad: "z".repeat(300_000) });
    const result = await runFake(big, { worker: { payloadMode: "inline", maxPayloadBytes: 10_000_000 } });
    expect(result.outcome).toBe("start_failed");
    expect(result.message).toContain("argument list too long (payload_mode inline");
  });
});

describe("command kind", () => {
  test("runs any argv with the same arguments and protocol", async () => {
    const result = await runFake(payloadFor("success"), {
      worker: { executor: "command", executorCommand: [PYTHON, FAKE_EXECUTOR] },
      request: { resultId: "7", attempt: 2 },
    });
    expect(result.outcome).toBe("exited");
    expect(returned(result.envelope?.returnJson)).toMatchObject({ result_id: "7", attempt: 2 });
  });
});
