// Per-task cost of the executor layer itself: the smallest possible executor (/bin/sh, reads the
// payload, prints an envelope) run sequentially through run(). A generous bound catches gross
// regressions; the printed number is the measurement.
import { expect, setDefaultTimeout, test } from "bun:test";
import { createExecutor } from "../../src/executor/index.ts";
import { MINIMAL_EXECUTOR, payloadFor, request, testEnv, workerConfig } from "../helpers/executors/index.ts";
import { expectQuick } from "../helpers/timing.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const RUNS = 200;

for (const payloadMode of ["stdin", "file", "inline"] as const) {
  test(`${RUNS} sequential runs of the minimal executor (payload_mode ${payloadMode})`, async () => {
    const executor = createExecutor({
      worker: workerConfig({ executor: "command", executorCommand: ["/bin/sh", MINIMAL_EXECUTOR], payloadMode }),
      env: testEnv(),
    });
    const payload = payloadFor("success");
    await executor.run(request(payload)); // warm-up
    const started = performance.now();
    for (let i = 0; i < RUNS; i += 1) {
      const result = await executor.run(request(payload, { resultId: String(i + 1) }));
      if (result.envelope?.ok !== true) throw new Error(`run ${i + 1} failed: ${result.message} ${result.envelopeProblem}`);
    }
    const perTask = (performance.now() - started) / RUNS;
    console.log(`executor overhead (${payloadMode}): ${perTask.toFixed(2)} ms/task over ${RUNS} runs`);
    expectQuick(perTask, 5, "one run of the minimal executor"); // a smoke bound; bun run bench:worker measures
  });
}
