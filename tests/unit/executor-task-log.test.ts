import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { truncationMarker, writeTaskLog } from "../../src/executor/index.ts";

const root = mkdtempSync(join(tmpdir(), "reproq-tasklog-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const mode = (path: string) => statSync(path).mode & 0o777;

describe("writeTaskLog", () => {
  test("creates the directory 0700 and a 0600 file with STDOUT/STDERR sections", async () => {
    const dir = join(root, "a", "logs");
    const path = await writeTaskLog(dir, "17", 2, "out line", "err line\n");
    expect(path).toBe(join(dir, "task-17-attempt-2.log"));
    expect(readFileSync(path ?? "", "utf8")).toBe("STDOUT:\nout line\nSTDERR:\nerr line\n");
    expect(mode(path ?? "")).toBe(0o600);
    expect(mode(dir)).toBe(0o700);
  });

  test("empty streams still get their newline; truncation markers are kept", async () => {
    const path = await writeTaskLog(root, "18", 1, "", `big${truncationMarker(3, "max_stderr_bytes")}end`);
    expect(readFileSync(path ?? "", "utf8")).toBe(`STDOUT:\n\nSTDERR:\nbig${truncationMarker(3, "max_stderr_bytes")}end\n`);
  });

  test("overwrites an existing file and tightens its mode", async () => {
    const existing = join(root, "task-19-attempt-1.log");
    writeFileSync(existing, "old content that is longer than the new one");
    chmodSync(existing, 0o644);
    expect(await writeTaskLog(root, "19", 1, "new", "")).toBe(existing);
    expect(readFileSync(existing, "utf8")).toBe("STDOUT:\nnew\nSTDERR:\n\n");
    expect(mode(existing)).toBe(0o600);
  });

  test("never throws: unwritable directory, hostile id, planted symlink → null with a reason", async () => {
    const errors: string[] = [];
    const onError = (message: string) => errors.push(message);
    const fileInTheWay = join(root, "not-a-dir");
    writeFileSync(fileInTheWay, "");
    expect(await writeTaskLog(join(fileInTheWay, "logs"), "1", 1, "", "", onError)).toBeNull();
    expect(await writeTaskLog(root, "../escape", 1, "", "", onError)).toBeNull();
    const target = join(root, "target.txt");
    writeFileSync(target, "untouched");
    symlinkSync(target, join(root, "task-20-attempt-1.log"));
    expect(await writeTaskLog(root, "20", 1, "x", "y", onError)).toBeNull();
    expect(readFileSync(target, "utf8")).toBe("untouched");
    expect(errors).toHaveLength(3);
    expect(errors.every((message) => message.startsWith("failed to write task log in "))).toBe(true);
  });
});
