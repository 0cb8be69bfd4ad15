// The lifeline of process executors (src/executor/lifeline.ts) with real processes: tasks die with
// the process that started them, even after its reaper was killed and replaced, and a finished task
// leaves nothing behind for PID 1 to reap (one reaper per worker, no per-task leftovers).
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExecutor } from "../../src/executor/index.ts";
import { eventually, isAlive, payloadFor, request, testEnv, workerConfig } from "../helpers/executors/index.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const scratch = mkdtempSync(join(tmpdir(), "reproq-lifeline-"));
const leftovers: number[] = [];
afterAll(() => {
  for (const pid of leftovers) if (isAlive(pid)) process.kill(pid, "SIGKILL");
  rmSync(scratch, { recursive: true, force: true });
});

const ROOT = join(import.meta.dir, "..", "..");

/** Children of `pid`: [pid, state, command line]. */
function children(pid: number): { pid: number; state: string; args: string }[] {
  const out = Bun.spawnSync(["ps", "-o", "pid=,stat=,args=", "--ppid", String(pid)]).stdout.toString();
  return out.split("\n").filter((line) => line.trim() !== "").map((line) => {
    const [child, state, ...args] = line.trim().split(/\s+/);
    return { pid: Number(child), state: state!, args: args.join(" ") };
  });
}

describe.skipIf(process.platform !== "linux")("lifeline (linux)", () => {
  test("finished tasks leave nothing behind: no orphan for PID 1 (here: this subreaper) to reap", async () => {
    // Orphans of our descendants now come to us, as they would to PID 1 in a container.
    const { dlopen, FFIType } = await import("bun:ffi");
    const libc = dlopen("libc.so.6", { prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 } });
    const PR_SET_CHILD_SUBREAPER = 36;
    expect(libc.symbols.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)).toBe(0);
    try {
      const executor = createExecutor({ worker: workerConfig({ executor: "command", executorCommand: ["/bin/sh", "-c", "cat > /dev/null; echo '{\"ok\": true}'"] }), env: testEnv() });
      for (let i = 0; i < 10; i++) {
        const result = await executor.run(request(payloadFor("success"), { resultId: String(i + 1) }));
        expect(result.envelope?.ok).toBe(true);
      }
      await Bun.sleep(300);
      const left = children(process.pid);
      expect(left.filter((child) => child.state.startsWith("Z"))).toEqual([]);
      // Nothing but reapers (one per executor; other test files of this process may have theirs).
      const args = left.filter((child) => !child.args.startsWith("ps ")).map((child) => child.args);
      expect(args).toContain("/bin/sh -s reproq-reaper");
      expect(args.filter((arg) => arg !== "/bin/sh -s reproq-reaper")).toEqual([]);
    } finally {
      libc.symbols.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
      libc.close();
    }
  });

  test("tasks and their grandchildren die with the process that started them, also after its reaper was killed and replaced", async () => {
    const script = join(scratch, "host.ts");
    const ledger = join(scratch, "pids");
    writeFileSync(script, `
import { createExecutor } from ${JSON.stringify(join(ROOT, "src/executor/index.ts"))};
import { workerConfig, testEnv, payloadFor, request } from ${JSON.stringify(join(ROOT, "tests/helpers/executors/index.ts"))};
const executor = createExecutor({ worker: workerConfig({ executor: "command", executorCommand: ["/bin/sh", "-c", "cat > /dev/null; sleep 120 & echo \\"child $! task $$\\" >> ${ledger}; wait"] }), env: testEnv() });
const reaperPid = () => Number(Bun.spawnSync(["pgrep", "-P", String(process.pid), "-f", "reproq-reaper"]).stdout.toString().trim().split("\\n")[0]);
void executor.run(request(payloadFor("x"), { resultId: "1" }));
await Bun.sleep(300);
const first = reaperPid();
process.kill(first, "SIGKILL");
await Bun.sleep(300);
void executor.run(request(payloadFor("x"), { resultId: "2" }));
await Bun.sleep(300);
console.log(JSON.stringify({ first, second: reaperPid() }));
await Bun.sleep(120_000);
`);
    const host = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "pipe", env: testEnv() });
    const reader = host.stdout.getReader();
    const { value } = await reader.read();
    const reapers = JSON.parse(new TextDecoder().decode(value)) as { first: number; second: number };
    expect(reapers.second).toBeGreaterThan(0);
    expect(reapers.second).not.toBe(reapers.first);
    host.kill("SIGKILL");
    await host.exited;
    const pids = [...readFileSync(ledger, "utf8").matchAll(/(?:task|child) (\d+)/g)].map((match) => Number(match[1]));
    leftovers.push(...pids);
    expect(pids).toHaveLength(4); // two tasks, each with a grandchild
    expect(await eventually(() => pids.every((pid) => !isAlive(pid)), 3_000)).toBe(true);
  });
});
