// taskCompleteFailure on both schemas: retry, terminal and requeue dispositions, the errors_json
// entry with `at` from the DB clock, last_error limits, and fencing. Propagation: workflow.test.ts.

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { summarizeLastError, taskCompleteFailure } from "../../src/queue/complete.ts";
import type { ErrorEntry, FailureCompletion, FailureDisposition } from "../../src/queue/types.ts";
import { insertClaimed, isRecent, readTask, TASK_SCHEMAS, taskRowText, useTaskDatabase } from "../helpers/tasks.ts";

setDefaultTimeout(60_000); // also when run as plain `bun test` (its default is 5 s)

const W = "worker-a";
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

function failure(resultId: string, disposition: FailureDisposition, error: ErrorEntry = appError("boom")): FailureCompletion {
  return { resultId, workerId: W, error, disposition, lastError: summarizeLastError(error), logsUri: null };
}

function appError(message: string): ErrorEntry {
  return { kind: "app_error", message, exception_class: "ValueError", traceback: "Traceback…", attempt: 1, worker_id: W };
}

describe.each(TASK_SCHEMAS)("taskCompleteFailure (%s schema)", (schema) => {
  const sql = useTaskDatabase(schema);

  test("retry: READY with run_after in the future (DB clock), attempt kept, entry appended", async () => {
    const [id] = await insertClaimed(sql(), W, 1);
    expect(await taskCompleteFailure(sql(), failure(id!, { type: "retry", retryDelaySeconds: 120 }))).toBe(true);

    const row = await readTask(sql(), id!);
    expect(row.status).toBe("READY");
    expect(row.attempts).toBe(1);
    expect(row.run_after_in).toBeGreaterThan(110);
    expect(row.run_after_in).toBeLessThanOrEqual(120);
    expect(row.finished_age).toBeNull();
    expect(row.failed_age).toBeNull();
    expect(row.last_error).toBeNull();
    expect(row.leased_by).toBeNull();
    expect(row.has_lease).toBe(false);
    expect(row.errors).toHaveLength(1);
    expect(row.errors[0]).toEqual({ ...appError("boom"), at: expect.stringMatching(ISO_UTC) });
  });

  test("terminal: FAILED with last_error, finished_at = failed_at, run_after NULL, `at` in ISO UTC Z", async () => {
    const [id] = await insertClaimed(sql(), W, 1);
    await sql()`update task_runs set run_after = now() - interval '1 hour' where result_id = ${id!}::bigint`;
    await taskCompleteFailure(sql(), { ...failure(id!, { type: "terminal" }), logsUri: "/logs/t.log" });

    const row = await readTask(sql(), id!);
    expect(row.status).toBe("FAILED");
    expect(row.last_error).toBe("ValueError: boom");
    expect(isRecent(row.finished_age)).toBe(true);
    expect(row.failed_age).toBe(row.finished_age!);
    expect(row.run_after_in).toBeNull();
    expect(row.leased_by).toBeNull();
    expect(row.logs_uri).toBe("/logs/t.log");
    expect(row.attempts).toBe(1);
    const [stamp] = await sql()<{ at_matches_db_clock: boolean }[]>`
      select abs(extract(epoch from (errors_json -> 0 ->> 'at')::timestamptz - failed_at)) < 0.001 as at_matches_db_clock
      from task_runs where result_id = ${id!}::bigint`;
    expect(stamp!.at_matches_db_clock).toBe(true);
  });

  test("entries accumulate across attempts; an `at` from the caller is replaced by the DB clock", async () => {
    const [id] = await insertClaimed(sql(), W, 1);
    await taskCompleteFailure(sql(), failure(id!, { type: "retry", retryDelaySeconds: 0 }, { ...appError("first"), at: "1999-01-01" }));
    await sql()`update task_runs set status = 'RUNNING', leased_by = ${W}, attempts = attempts + 1 where result_id = ${id!}::bigint`;
    await taskCompleteFailure(sql(), failure(id!, { type: "terminal" }, appError("second")));
    const row = await readTask(sql(), id!);
    expect(row.errors.map((e) => [e.message, e.attempt])).toEqual([
      ["first", 1],
      ["second", 1],
    ]);
    expect(row.errors.every((e) => ISO_UTC.test(String(e.at)))).toBe(true);
  });

  test("requeue (shutdown): READY now, attempt given back, shutdown entry", async () => {
    const [id] = await insertClaimed(sql(), W, 1);
    const shutdown = { kind: "shutdown", message: "worker shutting down; task was stopped" };
    await taskCompleteFailure(sql(), failure(id!, { type: "requeue" }, shutdown));

    const row = await readTask(sql(), id!);
    expect(row.status).toBe("READY");
    expect(row.attempts).toBe(0);
    expect(Math.abs(row.run_after_in!)).toBeLessThan(5);
    expect(row.last_error).toBeNull();
    expect(row.leased_by).toBeNull();
    expect(row.errors).toEqual([{ ...shutdown, at: expect.stringMatching(ISO_UTC) }]);
  });

  test("requeue never makes attempts negative", async () => {
    const [id] = await insertClaimed(sql(), W, 1);
    await sql()`update task_runs set attempts = 0 where result_id = ${id!}::bigint`;
    await taskCompleteFailure(sql(), failure(id!, { type: "requeue" }, { kind: "shutdown", message: "x" }));
    expect((await readTask(sql(), id!)).attempts).toBe(0);
  });

  test("fenced: another worker's row or a row no longer RUNNING is not written", async () => {
    const [foreign] = await insertClaimed(sql(), "worker-b", 1);
    const [done] = await insertClaimed(sql(), W, 1);
    await sql()`update task_runs set status = 'SUCCESSFUL' where result_id = ${done!}::bigint`;
    for (const id of [foreign!, done!]) {
      for (const disposition of [{ type: "terminal" }, { type: "requeue" }] as const) {
        const before = await taskRowText(sql(), id);
        expect(await taskCompleteFailure(sql(), failure(id, disposition))).toBe(false);
        expect(await taskRowText(sql(), id)).toBe(before);
      }
    }
  });

  test("a 2000-character 'é' message: last_error ≤ 1024 bytes of valid UTF-8, accepted by PostgreSQL", async () => {
    const [id] = await insertClaimed(sql(), W, 1);
    const error = { kind: "app_error", message: "é".repeat(2000), exception_class: "X" };
    expect(await taskCompleteFailure(sql(), failure(id!, { type: "terminal" }, error))).toBe(true);
    const [row] = await sql()<{ bytes: number; chars: number; message_chars: number }[]>`
      select octet_length(last_error) as bytes, char_length(last_error) as chars,
             char_length(errors_json -> 0 ->> 'message') as message_chars
      from task_runs where result_id = ${id!}::bigint`;
    // "X: " is 3 bytes, each é 2: 510 of them fit in 1023 bytes, a 511th would need 1025.
    expect(row).toEqual({ bytes: 1023, chars: 513, message_chars: 2000 });
  });

  test("an over-long lastError from the caller is cut too, and NUL characters never fail the write", async () => {
    const [id] = await insertClaimed(sql(), W, 1);
    const error = { kind: "app_error", message: "nul\0here", traceback: "a\0b" };
    const completion = { ...failure(id!, { type: "terminal" }, error), lastError: `${"€".repeat(400)}\0` };
    expect(await taskCompleteFailure(sql(), completion)).toBe(true);
    const row = await readTask(sql(), id!);
    expect(new TextEncoder().encode(row.last_error!).length).toBeLessThanOrEqual(1024);
    expect(row.last_error).toBe("€".repeat(341)); // 3-byte euro signs: 341 × 3 = 1023
    expect(row.errors[0]).toMatchObject({ message: "nul\uFFFDhere", traceback: "a\uFFFDb" });
  });
});
