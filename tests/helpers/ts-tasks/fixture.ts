// A scratch tasks_dir for the bun executor tests: basic.ts and nested/ from this directory, plus
// modules that fail to import and a symlink that escapes the directory.
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const TS_TASKS_DIR = import.meta.dir;

export interface TasksDirFixture {
  dir: string;
  /** A file outside `dir` that `escape.ts` (a symlink inside it) points to. */
  outsideFile: string;
  remove(): void;
}

export function makeTasksDir(): TasksDirFixture {
  const root = mkdtempSync(join(tmpdir(), "reproq-ts-tasks-"));
  const dir = join(root, "tasks");
  mkdirSync(dir);
  cpSync(join(TS_TASKS_DIR, "basic.ts"), join(dir, "basic.ts"));
  cpSync(join(TS_TASKS_DIR, "nested"), join(dir, "nested"), { recursive: true });
  writeFileSync(join(dir, "broken_syntax.ts"), "export function run( {\n  return 1;\n");
  writeFileSync(join(dir, "broken_throw.ts"), 'throw new TypeError("config missing at import time");\nexport function run() { return 1; }\n');
  // Top-level code that never finishes: the import itself never settles.
  writeFileSync(join(dir, "never_loads.ts"), "await new Promise(() => {});\nexport function run() { return 'loaded'; }\n");
  const outsideFile = join(root, "outside.ts");
  writeFileSync(outsideFile, "export function run() { return 'should never run'; }\n");
  symlinkSync(outsideFile, join(dir, "escape.ts"));
  return { dir, outsideFile, remove: () => rmSync(root, { recursive: true, force: true }) };
}
