// Chains and chords through the compiled worker (bun-inprocess, batched completions): a Django
// chain, a chord and a chain without a workflow_id, mixed into a burst of plain rows so they share
// completion batches with rows that need no workflow work. Every row must end SUCCESSFUL, each
// chain child only after its parent, the chord callback only after all its members.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { makeTasksDir } from "../helpers/ts-tasks/fixture.ts";
import { enqueue, startWorker, stopWorker, waitFor } from "../helpers/worker.ts";

setDefaultTimeout(120_000); // also when run as plain `bun test` (its default is 5 s)

const fixture = makeTasksDir();
let db: TestDatabase | undefined;
afterAll(async () => {
  await db?.drop();
  fixture.remove();
});

test("chains and chords release through the worker's batched completions", async () => {
  db = await createTestDatabase({ flavour: "reproq", label: "workflows_e2e" });
  const sql = db.sql;
  const ids = await enqueue(sql, Array.from({ length: 311 }, (_, i) => ({ taskPath: "basic.add", kwargs: { n: i } })));
  const [a, b, c, m1, m2, m3, callback, p, child] = ids as [string, string, string, string, string, string, string, string, string];
  const chain = crypto.randomUUID();
  const chord = crypto.randomUUID();
  await sql.begin(async (tx) => {
    await tx`update task_runs set workflow_id = ${chain}::uuid where result_id in (${a}, ${b}, ${c})`;
    await tx`update task_runs set status = 'WAITING', wait_count = 1, parent_id = ${a}::bigint where result_id = ${b}::bigint`;
    await tx`update task_runs set status = 'WAITING', wait_count = 1, parent_id = ${b}::bigint where result_id = ${c}::bigint`;
    await tx`update task_runs set workflow_id = ${chord}::uuid where result_id in (${m1}, ${m2}, ${m3}, ${callback})`;
    await tx`update task_runs set status = 'WAITING', wait_count = 3 where result_id = ${callback}::bigint`;
    await tx`
      insert into workflow_runs (workflow_id, expected_count, success_count, failure_count, callback_result_id, status, created_at, updated_at)
      values (${chord}::uuid, 3, 0, 0, ${callback}::bigint, 'RUNNING', now(), now())`;
    await tx`update task_runs set status = 'WAITING', wait_count = 1, parent_id = ${p}::bigint where result_id = ${child}::bigint`;
  });

  const worker = startWorker([
    "worker", "--dsn", db.dsn, "--executor", "bun-inprocess", "--tasks-dir", fixture.dir, "--allowed-task-modules", "*",
    "--concurrency", "50", "--poll-min-backoff", "50ms", "--poll-max-backoff", "200ms", "--log-format", "json",
  ]);
  try {
    await waitFor(async () => {
      const [left] = await sql<{ n: number }[]>`select count(*)::int as n from task_runs where status <> 'SUCCESSFUL'`;
      return left!.n === 0;
    }, { timeoutMs: 90_000, what: "every row SUCCESSFUL" });
  } finally {
    await stopWorker(worker);
  }

  const order = await sql<{ id: string; started: Date; finished: Date }[]>`
    select result_id::text as id, started_at as started, finished_at as finished from task_runs
    where result_id = any(${[a, b, c, m1, m2, m3, callback, p, child]}::bigint[])`;
  const at = Object.fromEntries(order.map((r) => [r.id, r]));
  const after = (later: string, earlier: string) => expect(at[later]!.started.getTime()).toBeGreaterThanOrEqual(at[earlier]!.finished.getTime());
  after(b, a);
  after(c, b);
  after(child, p);
  for (const member of [m1, m2, m3]) after(callback, member);
  const [run] = await sql<{ status: string; success_count: number }[]>`
    select status, success_count from workflow_runs where workflow_id = ${chord}::uuid`;
  expect(run).toEqual({ status: "SUCCESSFUL", success_count: 3 });
});
