// The chaos suite's ledger check (tests/helpers/ledger.ts) must see each fault it claims to
// count: a checker that cannot fail would make every chaos test pass.
import { describe, expect, test } from "bun:test";
import { checkLedger, type LedgerLine, type LedgerRow } from "../helpers/ledger.ts";

const at = (seconds: number) => 1_000_000 + seconds * 1000;

function line(word: LedgerLine["word"], id: string, attempt: number, pid: number, seconds: number): LedgerLine {
  return { word, id, attempt, pid, at: at(seconds), ppid: 1, mono: null };
}

function row(id: string, overrides: Partial<LedgerRow> = {}): LedgerRow {
  return { result_id: id, status: "SUCCESSFUL", attempts: 1, returned: { result_id: id, attempt: 1 }, errors: [], ...overrides };
}

const lost = (attempt: number) => ({ kind: "worker_lost", attempt });

describe("checkLedger", () => {
  test("a clean run and a clean rescue have no faults", () => {
    const lines = [line("start", "1", 1, 10, 0), line("end", "1", 1, 10, 1), line("start", "2", 1, 11, 0), line("start", "2", 2, 12, 5), line("end", "2", 2, 12, 6)];
    const rows = [row("1"), row("2", { attempts: 2, returned: { result_id: "2", attempt: 2 }, errors: [lost(1)] })];
    const report = checkLedger(lines, rows, (pid) => (pid === 11 ? at(1) : null));
    expect([report.lost, report.concurrent, report.leftRunning, report.storedWrongly, report.phantom, report.doubles]).toEqual([[], [], [], [], [], []]);
  });

  test("lost: a row not SUCCESSFUL, or SUCCESSFUL with no finished run", () => {
    const report = checkLedger([line("start", "1", 1, 10, 0)], [row("1", { status: "READY", returned: null }), row("2")]);
    expect(report.lost).toEqual(["1", "2"]);
    expect(report.storedWrongly).toEqual(["2"]);
  });

  test("run twice concurrently: a rescued run starting before the killed one was gone, or one never seen gone", () => {
    const rows = [row("1", { attempts: 2, returned: { result_id: "1", attempt: 2 }, errors: [lost(1)] })];
    const lines = [line("start", "1", 1, 10, 0), line("start", "1", 2, 12, 5), line("end", "1", 2, 12, 6)];
    expect(checkLedger(lines, rows, () => at(5.5)).concurrent).toEqual(["1"]);
    expect(checkLedger(lines, rows, () => null).concurrent).toEqual(["1"]);
    expect(checkLedger(lines, rows, () => at(4.9)).concurrent).toEqual([]);
  });

  test("left RUNNING", () => {
    expect(checkLedger([], [row("1", { status: "RUNNING", returned: null })]).leftRunning).toEqual(["1"]);
  });

  test("stored wrongly: another attempt's return value, an uncounted attempt, a missing or foreign error entry", () => {
    const finished = [line("start", "1", 1, 10, 0), line("end", "1", 1, 10, 1)];
    expect(checkLedger(finished, [row("1", { returned: { result_id: "9", attempt: 1 } })]).storedWrongly).toEqual(["1"]);
    expect(checkLedger(finished, [row("1", { returned: null })]).storedWrongly).toEqual(["1"]);
    const second = [line("start", "1", 2, 10, 0), line("end", "1", 2, 10, 1)];
    expect(checkLedger(second, [row("1")]).storedWrongly).toEqual(["1"]); // the database never counted attempt 2
    expect(checkLedger(second, [row("1", { attempts: 2, returned: { result_id: "1", attempt: 2 } })]).storedWrongly).toEqual(["1"]); // no worker_lost for attempt 1
    expect(checkLedger(finished, [row("1", { errors: [{ kind: "infra_error" }] })]).storedWrongly).toEqual(["1"]);
  });

  test("doubles and phantoms", () => {
    const lines = [line("start", "1", 1, 10, 0), line("end", "1", 1, 10, 1), line("start", "1", 2, 11, 2), line("end", "1", 2, 11, 3), line("start", "7", 1, 12, 0)];
    const report = checkLedger(lines, [row("1", { attempts: 2, returned: { result_id: "1", attempt: 2 }, errors: [lost(1)] })]);
    expect(report.doubles).toEqual(["1"]);
    expect(report.concurrent).toEqual([]);
    expect(report.phantom).toEqual(["7"]);
  });
});
