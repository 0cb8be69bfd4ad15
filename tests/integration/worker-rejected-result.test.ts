// A result the database refuses (not an outage) must not leave the row RUNNING to be reclaimed
// and run again: the worker records an infra_error instead. Runs the Worker in-process.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { createExecutor } from "../../src/executor/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { Worker } from "../../src/worker/runtime.ts";
import { createTestDatabase } from "../helpers/db.ts";
import { testEnv, workerConfig } from "../helpers/executors/index.ts";
import { enqueue, statusCounts, waitFor } from "../helpers/worker.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const db = await createTestDatabase({ flavour: "reproq", label: "rejected" });
afterAll(() => db.drop());

test("a success write the database rejects becomes a terminal infra_error; other rows are unaffected", async () => {
  const [refused, fine] = await enqueue(db.sql, [{ kwargs: { mode: "success" } }, { kwargs: { mode: "success" } }]);
  // Stand-in for any non-retryable refusal (a constraint, a trigger, an invalid value).
  await db.sql.unsafe(`
    create function refuse_success() returns trigger language plpgsql as $$
    begin
      if new.status = 'SUCCESSFUL' and new.result_id = ${Number(refused)} then
        raise exception 'result refused by a test trigger';
      end if;
      return new;
    end $$;
    create trigger refuse_success before update on task_runs for each row execute function refuse_success();`);

  const worker = workerConfig({ concurrency: 2, allowedTaskModules: ["tasks."], pollMinBackoffMs: 20, pollMaxBackoffMs: 200 });
  const runtime = new Worker({
    sql: db.sql,
    worker,
    executor: createExecutor({ worker, env: testEnv() }),
    logger: silentLogger,
    identity: { workerId: worker.workerId, hostname: "test", concurrency: 2, queues: worker.queues, version: "test" },
  });
  const running = runtime.run();
  await waitFor(async () => {
    const counts = await statusCounts(db.sql);
    return counts.SUCCESSFUL === 1 && counts.FAILED === 1;
  }, { timeoutMs: 30_000, what: "both rows finished" });
  runtime.requestShutdown();
  await running;

  const rows = await db.sql<{ result_id: string; status: string; last_error: string | null; kinds: string[] }[]>`
    select result_id, status, last_error,
           coalesce((select array_agg(e->>'kind') from jsonb_array_elements(errors_json) e), '{}') as kinds
    from task_runs order by result_id`;
  expect(rows.find((r) => r.result_id === refused)).toMatchObject({
    status: "FAILED",
    kinds: ["infra_error"],
    last_error: "infra_error: the task succeeded but its result could not be stored",
  });
  expect(rows.find((r) => r.result_id === fine)).toMatchObject({ status: "SUCCESSFUL", kinds: [] });
});
