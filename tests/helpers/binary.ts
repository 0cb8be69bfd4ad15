// Runs the compiled executable (dist/reproq) the way a user does.
import { existsSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..", "..");
export const BINARY = join(ROOT, "dist", "reproq");

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Environment for the binary: inherits PATH/HOME etc. but never DATABASE_URL or REPROQ_* unless given. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key === "DATABASE_URL" || key.startsWith("REPROQ_") || key.startsWith("PG") || key.startsWith("METRICS_")) continue;
    env[key] = value;
  }
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) env[key] = value;
  return env;
}

/** The compiled binary; built once on demand when missing (plain `bun test` on a fresh checkout). */
export function ensureBinary(): string {
  if (existsSync(BINARY)) return BINARY;
  const build = Bun.spawnSync([process.execPath, "run", join(ROOT, "scripts", "build.ts")], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
  if (build.exitCode !== 0 || !existsSync(BINARY)) throw new Error(`${BINARY} is missing and 'bun run build' failed`);
  return BINARY;
}

export async function runBinary(args: string[], options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const child = Bun.spawn([ensureBinary(), ...args], {
    cwd: options.cwd ?? ROOT,
    env: cleanEnv(options.env),
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
    timeout: options.timeoutMs ?? 30_000,
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { exitCode, stdout, stderr };
}
