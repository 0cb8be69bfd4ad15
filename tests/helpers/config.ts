// Config test helpers: throw-away directories holding config files, and loading with a clean env.
import { afterAll } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type Config, type LoadConfigOptions } from "../../src/config/index.ts";
import { ConfigError } from "../../src/errors.ts";

const created: string[] = [];
afterAll(() => {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temp directory holding the given files (name → content; a trailing "/" makes a directory). */
export function tempDir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "reproq-config-"));
  created.push(dir);
  for (const [name, content] of Object.entries(files)) {
    if (name.endsWith("/")) mkdirSync(join(dir, name), { recursive: true });
    else writeFileSync(join(dir, name), content);
  }
  return dir;
}

/** loadConfig for the worker scope with an empty environment and an empty working directory. */
export function load(options: Partial<LoadConfigOptions> = {}): Promise<Config> {
  return loadConfig({ scope: "worker", env: {}, cwd: options.cwd ?? tempDir(), ...options });
}

/** The problems of the ConfigError a load throws (fails the test if it does not throw one). */
export async function problemsOf(options: Partial<LoadConfigOptions>): Promise<readonly string[]> {
  try {
    await load(options);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected loadConfig to throw a ConfigError");
}
