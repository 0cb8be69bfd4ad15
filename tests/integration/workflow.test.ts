// Chains and chords through the completion functions, on both schemas: success releases chain
// children and advances chords (Go scenario 60), terminal failure fails the chord callback
// (workflow_failed) and every WAITING chain descendant (dependency_failed).

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { taskCompleteFailure, taskCompleteSuccessMany } from "../../src/queue/complete.ts";
import type { FailureCompletion } from "../../src/queue/types.ts";
import {
  claimByHand,
  insertChain,
  insertChord,
  insertClaimed,
  insertTaskRow,
  insertWorkflowRun,
  isRecent,
  readTask,
  readWorkflowRun,
  TASK_SCHEMAS,
  useTaskDatabase,
} from "../helpers/tasks.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const W = "worker-a";
const ok = (resultId: string) => ({ resultId, workerId: W, returnJson: "1", logsUri: null });
const terminal = (resultId: string): FailureCompletion => ({
  resultId,
  workerId: W,
  error: { kind: "app_error", message: "boom", exception_class: "ValueError" },
  disposition: { type: "terminal" },
  lastError: "ValueError: boom",
  logsUri: null,
});

describe.each(TASK_SCHEMAS)("chains and chords (%s schema)", (schema) => {
  const sql = useTaskDatabase(schema);

  test("chain: a parent's success releases its child (wait_count 1 → 0, READY)", async () => {
    const [parent, child, grandchild] = await insertChain(sql(), W, 3);
    await taskCompleteSuccessMany(sql(), [ok(parent!)]);
    expect(await readTask(sql(), child!)).toMatchObject({ status: "READY", wait_count: 0 });
    expect(await readTask(sql(), grandchild!)).toMatchObject({ status: "WAITING", wait_count: 1 });
  });

  test("chain: a child waiting for two dependencies (wait_count 2) is not released by one parent", async () => {
    const [parent] = await insertClaimed(sql(), W, 1);
    const child = await insertTaskRow(sql(), { status: "WAITING", waitCount: 2, parentId: parent! });
    await taskCompleteSuccessMany(sql(), [ok(parent!)]);
    expect(await readTask(sql(), child)).toMatchObject({ status: "WAITING", wait_count: 1 });
  });

  test("chain: two parents completing in one batch each release their children exactly once", async () => {
    const [p1, p2] = await insertClaimed(sql(), W, 2);
    const c1 = await insertTaskRow(sql(), { status: "WAITING", waitCount: 1, parentId: p1! });
    const c2 = await insertTaskRow(sql(), { status: "WAITING", waitCount: 1, parentId: p2! });
    const c2b = await insertTaskRow(sql(), { status: "WAITING", waitCount: 2, parentId: p2! });
    // The same parent twice in one batch must not decrement twice either.
    const outcome = await taskCompleteSuccessMany(sql(), [ok(p1!), ok(p2!), ok(p2!)]);
    expect(outcome.written).toEqual([p1!, p2!]);
    expect(await readTask(sql(), c1)).toMatchObject({ status: "READY", wait_count: 0 });
    expect(await readTask(sql(), c2)).toMatchObject({ status: "READY", wait_count: 0 });
    expect(await readTask(sql(), c2b)).toMatchObject({ status: "WAITING", wait_count: 1 });
  });

  test("chord (Go scenario 60): the callback stays WAITING after one member, READY after both", async () => {
    const { workflowId, callback, group } = await insertChord(sql(), W, 2);
    await taskCompleteSuccessMany(sql(), [ok(group[0]!)]);
    expect(await readWorkflowRun(sql(), workflowId)).toEqual({ status: "RUNNING", success_count: 1, failure_count: 0 });
    expect(await readTask(sql(), callback)).toMatchObject({ status: "WAITING", wait_count: 2 });

    await taskCompleteSuccessMany(sql(), [ok(group[1]!)]);
    expect(await readWorkflowRun(sql(), workflowId)).toEqual({ status: "WAITING_CALLBACK", success_count: 2, failure_count: 0 });
    expect(await readTask(sql(), callback)).toMatchObject({ status: "READY", wait_count: 0 });
  });

  test("chord: two members completing in the same batch count twice and release the callback", async () => {
    const { workflowId, callback, group } = await insertChord(sql(), W, 2);
    await taskCompleteSuccessMany(sql(), group.map(ok));
    expect(await readWorkflowRun(sql(), workflowId)).toEqual({ status: "WAITING_CALLBACK", success_count: 2, failure_count: 0 });
    expect((await readTask(sql(), callback)).status).toBe("READY");
  });

  test("chords: four workers completing interleaved members concurrently count every success once", async () => {
    const workers = ["w1", "w2", "w3", "w4"];
    const chords = [];
    for (let i = 0; i < 6; i++) chords.push(await insertChord(sql(), W, 8));
    const batches = new Map<string, ReturnType<typeof ok>[]>(workers.map((w) => [w, []]));
    for (const chord of chords) {
      for (const [i, id] of chord.group.entries()) {
        const worker = workers[i % workers.length]!;
        await claimByHand(sql(), id, worker);
        batches.get(worker)!.push({ ...ok(id), workerId: worker });
      }
    }
    // Opposite orders across workers: locking must not depend on the order of the input.
    const outcomes = await Promise.all(
      workers.map((w, i) => taskCompleteSuccessMany(sql(), i % 2 ? [...batches.get(w)!].reverse() : batches.get(w)!)),
    );
    expect(outcomes.reduce((n, o) => n + o.written.length, 0)).toBe(48);
    for (const chord of chords) {
      expect(await readWorkflowRun(sql(), chord.workflowId)).toEqual({ status: "WAITING_CALLBACK", success_count: 8, failure_count: 0 });
      expect(await readTask(sql(), chord.callback)).toMatchObject({ status: "READY", wait_count: 0 });
    }
  });

  test("group with a NULL callback is counted (Go skipped it) and ends SUCCESSFUL", async () => {
    const workflowId = crypto.randomUUID();
    const members = await insertClaimed(sql(), W, 3, { workflowId });
    await insertWorkflowRun(sql(), { workflowId, expected: 3, callbackResultId: null });
    await taskCompleteSuccessMany(sql(), [ok(members[0]!)]);
    expect(await readWorkflowRun(sql(), workflowId)).toEqual({ status: "RUNNING", success_count: 1, failure_count: 0 });
    await taskCompleteSuccessMany(sql(), [ok(members[1]!), ok(members[2]!)]);
    expect(await readWorkflowRun(sql(), workflowId)).toEqual({ status: "SUCCESSFUL", success_count: 3, failure_count: 0 });
  });

  test("the callback's own success marks the workflow SUCCESSFUL without counting it as a member", async () => {
    const { workflowId, callback, group } = await insertChord(sql(), W, 1);
    await taskCompleteSuccessMany(sql(), [ok(group[0]!)]);
    await claimByHand(sql(), callback, W);
    await taskCompleteSuccessMany(sql(), [ok(callback)]);
    expect(await readWorkflowRun(sql(), workflowId)).toEqual({ status: "SUCCESSFUL", success_count: 1, failure_count: 0 });
    expect((await readTask(sql(), callback)).status).toBe("SUCCESSFUL");
  });

  test("chord: a member's terminal failure fails the WAITING callback with workflow_failed", async () => {
    const { workflowId, callback, group } = await insertChord(sql(), W, 2);
    await taskCompleteSuccessMany(sql(), [ok(group[0]!)]);
    expect(await taskCompleteFailure(sql(), terminal(group[1]!))).toBe(true);

    expect(await readWorkflowRun(sql(), workflowId)).toEqual({ status: "FAILED", success_count: 1, failure_count: 1 });
    const cb = await readTask(sql(), callback);
    expect(cb.status).toBe("FAILED");
    expect(cb.wait_count).toBe(0);
    expect(cb.last_error).toBe("workflow_failed: Workflow failed due to task failure");
    expect(isRecent(cb.finished_age) && isRecent(cb.failed_age)).toBe(true);
    expect(cb.errors).toHaveLength(1);
    expect(cb.errors[0]).toMatchObject({
      kind: "workflow_failed",
      message: "Workflow failed due to task failure",
      failed_result_id: Number(group[1]),
    });
    expect(cb.errors[0]!.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  test("chord: a retry (not terminal) leaves the workflow and callback alone", async () => {
    const { workflowId, callback, group } = await insertChord(sql(), W, 1);
    await taskCompleteFailure(sql(), { ...terminal(group[0]!), disposition: { type: "retry", retryDelaySeconds: 5 } });
    expect(await readWorkflowRun(sql(), workflowId)).toEqual({ status: "RUNNING", success_count: 0, failure_count: 0 });
    expect((await readTask(sql(), callback)).status).toBe("WAITING");
  });

  test("the callback failing itself marks the workflow FAILED", async () => {
    const { workflowId, callback, group } = await insertChord(sql(), W, 1);
    await taskCompleteSuccessMany(sql(), [ok(group[0]!)]);
    await claimByHand(sql(), callback, W);
    await taskCompleteFailure(sql(), terminal(callback));
    expect(await readWorkflowRun(sql(), workflowId)).toEqual({ status: "FAILED", success_count: 1, failure_count: 0 });
    const cb = await readTask(sql(), callback);
    expect(cb.last_error).toBe("ValueError: boom");
    expect(cb.errors.map((e) => e.kind)).toEqual(["app_error"]);
  });

  test("chain: a parent's terminal failure fails a 3-level WAITING chain with dependency_failed", async () => {
    const [head, second, third, fourth] = await insertChain(sql(), W, 4);
    await taskCompleteFailure(sql(), terminal(head!));

    for (const [id, parent] of [
      [second!, head!],
      [third!, second!],
      [fourth!, third!],
    ] as const) {
      const row = await readTask(sql(), id);
      expect(row.status).toBe("FAILED");
      expect(row.wait_count).toBe(1); // kept, so a retry of the parent can put it back to WAITING
      expect(row.last_error).toBe(`dependency_failed: parent task ${parent} failed`);
      expect(isRecent(row.finished_age) && isRecent(row.failed_age)).toBe(true);
      expect(row.errors).toHaveLength(1);
      expect(row.errors[0]).toMatchObject({
        kind: "dependency_failed",
        message: `parent task ${parent} failed`,
        parent_result_id: Number(parent),
      });
      expect(row.errors[0]!.at).toMatch(/Z$/);
    }
  });

  test("chain: descendants that are not WAITING stop the propagation", async () => {
    const [head, second, third] = await insertChain(sql(), W, 3);
    await sql()`update task_runs set status = 'READY', wait_count = 0 where result_id = ${second!}::bigint`;
    await taskCompleteFailure(sql(), terminal(head!));
    expect((await readTask(sql(), second!)).status).toBe("READY");
    expect((await readTask(sql(), third!)).status).toBe("WAITING");
  });
});
