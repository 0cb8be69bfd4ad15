// Finding the processes this test process started. Other runs of the suite (other checkouts, CI,
// a developer's second terminal, the other workers of `bun test --parallel`) may run the same
// programs on the same machine, so a bare `pgrep -f` sees theirs too. tests/helpers/preload.ts
// gives every test process a unique RUN_ID_VAR in process.env; children started with an
// environment built from it (cleanEnv, testEnv, `env: process.env`) and their children inherit
// it. (Bun.spawn without `env` passes the environment Bun started with, which lacks it.)
import { readFileSync } from "node:fs";

export const RUN_ID_VAR = "RQTEST_RUN_ID";

/** Gives this test process its own run id (preload). */
export function markTestRun(): void {
  process.env[RUN_ID_VAR] = `${process.pid}-${crypto.randomUUID().slice(0, 8)}`;
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
