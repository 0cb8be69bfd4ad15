// Test helpers for `reproq top`: an in-memory DashboardSource (for fast unit tests of the views
// and keys) and renderSized(), which renders an Ink tree into a fake terminal of any size
// (ink-testing-library's stdout is fixed at 100 columns).
import { EventEmitter } from "node:events";
import { render, type Instance } from "ink";
import type { ReactElement } from "react";
import type { Action, ActionPreview, ActionResult, DashboardSource, Overview, TaskDetail, TaskFilter, TaskListRow, TaskPage, TaskState } from "../../src/tui/model.ts";

class FakeStdout extends EventEmitter {
  frames: string[] = [];
  isTTY = true;
  constructor(public columns: number, public rows: number) {
    super();
  }
  write = (frame: string, encoding?: unknown, callback?: unknown): boolean => {
    this.frames.push(frame);
    const done = typeof encoding === "function" ? encoding : callback;
    if (typeof done === "function") queueMicrotask(() => (done as () => void)());
    return true;
  };
  resize(columns: number, rows: number): void {
    this.columns = columns;
    this.rows = rows;
    this.emit("resize");
  }
}

class FakeStdin extends EventEmitter {
  isTTY = true;
  private pending: string | null = null;
  setEncoding() {}
  setRawMode() {}
  resume() {}
  pause() {}
  ref() {}
  unref() {}
  read = (): string | null => {
    const data = this.pending;
    this.pending = null;
    return data;
  };
  write = (data: string): void => {
    this.pending = data;
    this.emit("readable");
    this.emit("data", data);
  };
}

export const stripAnsi = (text: string): string => text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, "").replace(/\u001b\][^\u0007]*\u0007/g, "");

export interface SizedRender {
  stdout: FakeStdout;
  stdin: FakeStdin;
  instance: Instance;
  /** The last frame, ANSI removed, trailing spaces trimmed per line. */
  frame(): string;
  lines(): string[];
  /** Waits until `predicate(frame)` holds (polling), or throws with the last frame. */
  waitFor(predicate: (frame: string) => boolean, timeoutMs?: number): Promise<string>;
  press(...keys: string[]): Promise<void>;
  unmount(): void;
}

export function renderSized(tree: ReactElement, size: { columns: number; rows: number }): SizedRender {
  const stdout = new FakeStdout(size.columns, size.rows);
  const stdin = new FakeStdin();
  const instance = render(tree, {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    stderr: new FakeStdout(size.columns, size.rows) as unknown as NodeJS.WriteStream,
    debug: true,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  const frame = () => stripAnsi(stdout.frames.at(-1) ?? "").split("\n").map((l) => l.replace(/\s+$/, "")).join("\n");
  return {
    stdout,
    stdin,
    instance,
    frame,
    lines: () => frame().split("\n"),
    async waitFor(predicate, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (predicate(frame())) return frame();
        await Bun.sleep(10);
      }
      throw new Error(`timed out waiting; last frame:\n${frame()}`);
    },
    async press(...keys) {
      for (const key of keys) {
        stdin.write(key);
        await Bun.sleep(15);
      }
    },
    unmount: () => {
      instance.unmount();
      instance.cleanup();
    },
  };
}

/** Keys as a terminal sends them. */
export const KEYS = {
  up: "\u001b[A",
  down: "\u001b[B",
  right: "\u001b[C",
  left: "\u001b[D",
  enter: "\r",
  esc: "\u001b",
  tab: "\t",
  pageDown: "\u001b[6~",
  pageUp: "\u001b[5~",
  backspace: "\u007f",
  ctrlC: "\u0003",
} as const;

const NOW = new Date("2026-03-10T09:30:00Z");
const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000);

export function fakeOverview(): Overview {
  return {
    now: NOW,
    totals: { ready: 1234, scheduled: 12, running: 3, waiting: 2, failed: 7, successful: { value: 1_200_000, estimate: true }, cancelled: { value: 4, estimate: false } },
    throughput: { finished1m: 42, finished5m: 180, perMinute1m: 42, perMinute5m: 36, successRate5m: 0.961 },
    oldestReadySeconds: 754,
    liveWorkers: 2,
    queues: [
      { queue: "default", ready: 1200, scheduled: 12, running: 2, waiting: 2, failed: 5, oldestReadySeconds: 754, paused: false, pausedReason: null, completions: [1, 2, 3, 4, 5, 6, 7, 8, 7, 6, 5, 4, 3, 2, 1] },
      { queue: "emails", ready: 34, scheduled: 0, running: 1, waiting: 0, failed: 2, oldestReadySeconds: 65, paused: true, pausedReason: "smtp outage", completions: new Array(15).fill(0) },
    ],
    recentFailures: [
      { resultId: "101", queue: "default", taskPath: "myapp.tasks.charge_card", exceptionClass: "ValueError", message: "card declined", failedAt: ago(125), attempts: 3, maxAttempts: 3 },
    ],
  };
}

/** A task list row; `dueInSeconds` makes a READY row SCHEDULED (run_after in the future). */
export function fakeTaskRow(id: number, status: TaskListRow["status"], queue: string, more: Partial<TaskListRow> = {}): TaskListRow {
  return { resultId: String(id), queue, status, taskPath: "myapp.tasks.charge_card", priority: 0, attempts: status === "FAILED" ? 3 : 0, maxAttempts: 3, enqueuedAt: ago(600), ageSeconds: 600, dueInSeconds: null, lastError: status === "FAILED" ? "ValueError: card declined" : null, ...more };
}

/** The view state of a row: SCHEDULED for a READY row that is not due yet. */
function stateOf(row: TaskListRow): TaskState {
  return row.status === "READY" && row.dueInSeconds !== null ? "SCHEDULED" : row.status;
}

export interface FakeDashboard extends DashboardSource {
  performed: Action[];
  failing: boolean;
  /** Rows the task list holds (default 45 FAILED in default). */
  rows: TaskListRow[];
}

export function createFakeDashboard(options: { readOnly?: boolean } = {}): FakeDashboard {
  const rows = Array.from({ length: 45 }, (_, i) => fakeTaskRow(101 + i, i < 40 ? "FAILED" : "READY", "default"));
  const fake: FakeDashboard = {
    readOnly: options.readOnly ?? false,
    lastQueryMs: { overview: 3 },
    performed: [],
    failing: false,
    rows,
    async overview() {
      if (fake.failing) throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
      return fakeOverview();
    },
    async workers() {
      return [{ workerId: "w-1", hostname: "box-1", version: "0.1.0", queues: ["default", "emails"], concurrency: 4, running: 2, startedAt: ago(7200), lastSeenSeconds: 5, health: "alive" }];
    },
    async failureGroups() {
      return {
        total: { value: 40, estimate: false },
        window: null,
        groupCount: 1,
        groups: [{ taskPath: "myapp.tasks.charge_card", exceptionClass: "ValueError", count: 40, lastFailedAt: ago(125), sampleMessage: "card declined" }],
      };
    },
    async periodic() {
      return [{ name: "nightly-report", cronExpr: "0 3 * * *", description: "at 03:00 every day", taskPath: "myapp.tasks.report", queue: "default", enabled: true, nextRunAt: null, nextRunInSeconds: 120, lastRunAt: ago(86_280) }];
    },
    async rateLimits() {
      return [{ key: "queue:emails", tokensPerSecond: 5, burstSize: 10, currentTokens: 7.5 }];
    },
    async tasks(filter: TaskFilter, page): Promise<TaskPage> {
      if (fake.failing) throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
      const matching = fake.rows.filter((r) => (!filter.status || stateOf(r) === filter.status) && (!filter.queue || r.queue === filter.queue));
      return { rows: matching.slice(page.offset, page.offset + page.limit), total: { value: matching.length, estimate: false }, offset: page.offset };
    },
    async task(resultId: string): Promise<TaskDetail | null> {
      const row = fake.rows.find((r) => r.resultId === resultId);
      if (!row) return null;
      return {
        resultId, queue: row.queue, status: row.status, priority: 0, taskPath: row.taskPath, attempts: row.attempts, maxAttempts: 3,
        enqueuedAt: ago(600), runAfter: null, dueInSeconds: row.dueInSeconds, startedAt: ago(590), finishedAt: ago(589), durationSeconds: 1.25, leasedBy: null,
        workerIds: ["w-1"], specHash: "abc123", specPretty: '{\n  "task_path": "myapp.tasks.charge_card"\n}', args: [42], kwargs: { retry: true },
        returnPretty: null, errors: [{ kind: "exception", at: "2026-03-10T09:20:00Z", attempt: 3, exceptionClass: "ValueError", message: "card declined", traceback: 'Traceback (most recent call last):\n  File "tasks.py", line 3\nValueError: card declined' }],
        lastError: "ValueError: card declined", logsUri: null, logTail: null, workflowId: null, parentId: null, cancelRequested: false,
      };
    },
    async preview(action: Action): Promise<ActionPreview> {
      const count = action.kind === "retry-matching" || action.kind === "discard-matching" ? fake.rows.filter((r) => r.status === "FAILED").length : 1;
      return { summary: `Would ${action.kind} (${count})`, count };
    },
    async perform(action: Action): Promise<ActionResult> {
      if (fake.readOnly) return { ok: false, message: "read-only" };
      fake.performed.push(action);
      return { ok: true, message: `${action.kind} done` };
    },
    async close() {},
  };
  return fake;
}
