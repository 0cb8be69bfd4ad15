// pgrep for tests sees only processes this test process started: another run of the suite on
// the same machine (another checkout, CI, a second terminal) runs the same programs.
import { afterAll, expect, test } from "bun:test";
import { pgrep, RUN_ID_VAR } from "../helpers/processes.ts";

const children: ReturnType<typeof Bun.spawn>[] = [];
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
});

test("a process of another run is not ours; our own and its children are", async () => {
  const pattern = `sleep 37.${process.pid}`;
  const foreignEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key !== RUN_ID_VAR) foreignEnv[key] = value;
  const foreign = Bun.spawn(["sleep", `37.${process.pid}`], { env: { ...foreignEnv, [RUN_ID_VAR]: "another-run" } });
  const ours = Bun.spawn(["sh", "-c", `sleep 37.${process.pid}; true`], { env: process.env }); // its sleep inherits the id
  children.push(foreign, ours);
  let found: number[] = [];
  for (let i = 0; i < 100 && found.length < 2; i++) {
    await Bun.sleep(20);
    found = pgrep(pattern);
  }
  expect(found).not.toContain(foreign.pid);
  expect(found).toContain(ours.pid);
  expect(found).toHaveLength(2); // sh and its sleep
});
