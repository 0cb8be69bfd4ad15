// taskCompleteMany (every outcome kind in one batch, as the worker's completer writes them) and
// taskReturnUnstarted (the local buffer given back at shutdown), on both schemas.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { silentLogger } from "../../src/observability/logger.ts";
import { taskCompleteMany, taskReturnUnstarted, type Completion } from "../../src/queue/complete.ts";
import type { FailureCompletion, FailureDisposition, SuccessCompletion } from "../../src/queue/types.ts";
import { Completer } from "../../src/worker/completer.ts";
import { claimByHand, insertClaimed, insertTaskRow, readTask, TASK_SCHEMAS, taskRowText, useTaskDatabase } from "../helpers/tasks.ts";

setDefaultTimeout(60_000);

const W = "w-batch";

function succeeded(resultId: string, returnJson: string | null = "1", attempt = 1): SuccessCompletion {
  return { resultId, workerId: W, attempt, returnJson, logsUri: null, workflowId: null };
}

function failed(resultId: string, disposition: FailureDisposition): FailureCompletion {
  const error = { kind: "app_error", message: `boom ${resultId}`, exception_class: "ValueError" };
  return { resultId, workerId: W, attempt: 1, error, disposition, lastError: "ValueError: boom", logsUri: null };
}

const success = (...args: Parameters<typeof succeeded>): Completion => ({ kind: "success", completion: succeeded(...args) });
const failure = (...args: Parameters<typeof failed>): Completion => ({ kind: "failure", completion: failed(...args) });

describe.each(TASK_SCHEMAS)("taskCompleteMany (%s schema)", (schema) => {
  const sql = useTaskDatabase(schema);

  test("one batch writes a success, a retry, a requeue and a terminal failure; a fenced attempt in it is reported for that row only", async () => {
    const [ok, retry, requeue, terminal, stale] = await insertClaimed(sql(), W, 5);
    const other = (await insertClaimed(sql(), "someone-else", 1))[0]!;
    const before = await taskRowText(sql(), other);
    const outcome = await taskCompleteMany(sql(), [
      success(ok!, '{"a": 1}'),
      failure(retry!, { type: "retry", retryDelaySeconds: 60 }),
      failure(requeue!, { type: "requeue" }),
      failure(terminal!, { type: "terminal" }),
      success(stale!, "1", 7), // an attempt this row is not at
      success(other), // leased by another worker
    ]);
    expect(outcome.written.sort()).toEqual([ok!, retry!, requeue!, terminal!].sort());
    expect(outcome.fenced.sort()).toEqual([stale!, other].sort());

    const done = await readTask(sql(), ok!);
    expect(done).toMatchObject({ status: "SUCCESSFUL", return_text: '{"a": 1}', leased_by: null, has_lease: false, last_error: null, errors: [] });
    const retried = await readTask(sql(), retry!);
    expect(retried).toMatchObject({ status: "READY", attempts: 1, leased_by: null, last_error: null, finished_age: null });
    expect(retried.run_after_in!).toBeGreaterThan(50);
    expect(retried.errors).toHaveLength(1);
    expect(retried.errors[0]).toMatchObject({ kind: "app_error", message: `boom ${retry}` });
    expect(retried.errors[0]!.at).toMatch(/Z$/);
    const requeued = await readTask(sql(), requeue!);
    expect(requeued).toMatchObject({ status: "READY", attempts: 0 });
    expect(Math.abs(requeued.run_after_in!)).toBeLessThan(5);
    const failed = await readTask(sql(), terminal!);
    expect(failed).toMatchObject({ status: "FAILED", last_error: "ValueError: boom", run_after_in: null });
    expect(failed.finished_age).not.toBeNull();
    expect((await readTask(sql(), stale!)).status).toBe("RUNNING");
    expect(await taskRowText(sql(), other)).toBe(before);

    // Written again (a retry after a lost connection): every row is fenced, nothing changes.
    const again = await taskCompleteMany(sql(), [success(ok!), failure(retry!, { type: "retry", retryDelaySeconds: 0 })]);
    expect(again).toEqual({ written: [], fenced: [ok!, retry!] });
    expect((await readTask(sql(), retry!)).errors).toHaveLength(1);
  });

  test("the worker's completer: outcomes handed over together share a batch; the fenced one alone is reported fenced", async () => {
    const [a, b, c, d] = await insertClaimed(sql(), W, 4);
    const completer = new Completer(sql(), silentLogger);
    const results = await Promise.all([
      completer.success(succeeded(a!)),
      completer.failure(failed(b!, { type: "retry", retryDelaySeconds: 0 })),
      completer.success(succeeded(c!, "1", 2)), // an attempt the row is not at
      completer.failure(failed(d!, { type: "terminal" })),
    ]);
    expect(results).toEqual(["written", "written", "fenced", "written"]);
    expect(completer.pending).toBe(0);
    expect((await readTask(sql(), c!)).status).toBe("RUNNING");
    expect((await readTask(sql(), d!)).status).toBe("FAILED");
  });

  test("in one batch a success releases its chain child and a terminal failure fails its own", async () => {
    const [okParent, badParent] = await insertClaimed(sql(), W, 2);
    const okChild = await insertTaskRow(sql(), { status: "WAITING", parentId: okParent!, waitCount: 1 });
    const badChild = await insertTaskRow(sql(), { status: "WAITING", parentId: badParent!, waitCount: 1 });
    await taskCompleteMany(sql(), [success(okParent!), failure(badParent!, { type: "terminal" })]);
    expect((await readTask(sql(), okChild)).status).toBe("READY");
    const failedChild = await readTask(sql(), badChild);
    expect(failedChild.status).toBe("FAILED");
    expect(failedChild.last_error).toBe(`dependency_failed: parent task ${badParent} failed`);
  });
});

describe.each(TASK_SCHEMAS)("taskReturnUnstarted (%s schema)", (schema) => {
  const sql = useTaskDatabase(schema);

  test("a claimed row that never started is READY again with its claim undone; another worker's row is untouched", async () => {
    const id = await insertTaskRow(sql());
    const before = await sql()`select started_at, worker_ids::text as workers from task_runs where result_id = ${id}::bigint`;
    await claimByHand(sql(), id, W);
    const other = (await insertClaimed(sql(), "someone-else", 1))[0]!;
    const otherBefore = await taskRowText(sql(), other);
    expect(await taskReturnUnstarted(sql(), { workerId: W, rows: [{ resultId: id, attempt: 1 }, { resultId: other, attempt: 1 }] })).toEqual([id]);
    const row = await readTask(sql(), id);
    expect(row).toMatchObject({ status: "READY", attempts: 0, leased_by: null, has_lease: false, errors: [] });
    expect(Math.abs(row.run_after_in!)).toBeLessThan(5);
    const after = await sql()`select started_at, worker_ids::text as workers from task_runs where result_id = ${id}::bigint`;
    expect(after).toEqual(before);
    expect(await taskRowText(sql(), other)).toBe(otherBefore);
    expect(await taskReturnUnstarted(sql(), { workerId: W, rows: [{ resultId: id, attempt: 1 }] })).toEqual([]);
  });

  test("a row that ran before keeps its started_at and earlier attempts", async () => {
    const id = await insertTaskRow(sql(), { attempts: 1 });
    await sql()`update task_runs set started_at = now() - interval '1 hour', worker_ids = '["w-old"]' where result_id = ${id}::bigint`;
    await claimByHand(sql(), id, W);
    expect(await taskReturnUnstarted(sql(), { workerId: W, rows: [{ resultId: id, attempt: 2 }] })).toEqual([id]);
    const [row] = await sql()<{ attempts: number; old: boolean; workers: string }[]>`
      select attempts, started_at < now() - interval '59 minutes' as old, worker_ids::text as workers from task_runs where result_id = ${id}::bigint`;
    expect(row).toEqual({ attempts: 1, old: true, workers: '["w-old"]' });
  });
});
