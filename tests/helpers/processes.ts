// Finding the processes this test run started. Other runs of the suite (other checkouts, CI, a
// developer's second terminal) may run the same programs on the same machine, so a bare `pgrep -f`
// sees theirs too. Every test run has a unique RUN_ID_VAR in its environment, which the processes
// it starts (and their children) inherit: scripts/test.ts sets it for `bun run test`, and
// tests/helpers/preload.ts for a plain `bun test` (Bun.spawn without `env` then does not pass it
// on, but cleanEnv/testEnv-built environments do).
import { readFileSync } from "node:fs";

export const RUN_ID_VAR = "RQTEST_RUN_ID";

/** A new run id. */
export function newRunId(): string {
  return `${process.pid}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Gives this process a run id unless the runner already did (preload). */
export function markTestRun(): void {
  process.env[RUN_ID_VAR] ||= newRunId();
}

function startedByThisRun(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(`${RUN_ID_VAR}=${process.env[RUN_ID_VAR]}`);
  } catch {
    return false; // gone already, or not ours to read
  }
}

/** `pgrep -f -- pattern`, keeping only processes started by this test process (or their children). */
export function pgrep(pattern: string): number[] {
  const out = Bun.spawnSync(["pgrep", "-f", "--", pattern]).stdout.toString().trim();
  const pids = out === "" ? [] : out.split("\n").map(Number);
  return process.env[RUN_ID_VAR] === undefined ? pids : pids.filter(startedByThisRun);
}
