// Runs tasks through a bun-inprocess executor in a plain process (outside `bun test`, whose own
// handlers would catch stray errors first): `bun run-inprocess.ts <tasks_dir> <task_path>...`.
// Prints one JSON line per task: outcome, ok, returnJson, message.
import { createExecutor } from "../../../src/executor/index.ts";
import { testEnv, workerConfig } from "../executors/index.ts";

const [tasksDir, ...taskPaths] = process.argv.slice(2);
const executor = createExecutor({ worker: workerConfig({ executor: "bun-inprocess", tasksDir: tasksDir ?? "." }), env: testEnv() });
for (const taskPath of taskPaths) {
  const result = await executor.run({
    resultId: "1", attempt: 1, taskPath, payload: JSON.stringify({ args: [1, 2], kwargs: {} }), timeoutMs: 5_000, signal: new AbortController().signal,
  });
  console.log(JSON.stringify({ taskPath, outcome: result.outcome, ok: result.envelope?.ok ?? null, returnJson: result.envelope?.returnJson ?? null }));
  await Bun.sleep(100); // let stray timers fire between tasks
}
