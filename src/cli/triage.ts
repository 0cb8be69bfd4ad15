// reproq triage list|inspect|retry|discard|summary: the dead-letter queue (FAILED rows).
// Output lines scripts parse keep the Go worker's wording (`No failed tasks.`, `Retried <n> task(s)`,
// `No failed tasks updated.`); conflicts are reported as `task N is already queued as #M`.
// retry/discard work in committed batches with a progress bar on a terminal (triage-report.ts).
import { defineCommand } from "citty";
import { configArgs } from "../config/index.ts";
import type { Sql } from "../db/client.ts";
import { ReproqError, UsageError } from "../errors.ts";
import {
  taskListFailed,
  taskReadDetail,
  taskReadStatus,
  taskSummarizeFailures,
  type FailedFilter,
  type TaskDetailRow,
} from "../queue/triage.ts";
import { discardFailedTasks, type DiscardOutcome } from "../queue/triage-discard.ts";
import { retryFailedTasks, type RetryOutcome } from "../queue/triage-retry.ts";
import { positiveInt, withDatabase } from "./context.ts";
import { idArgs, resultIdFrom } from "./id-arg.ts";
import { runWithProgress } from "./progress.ts";
import { printTable } from "./table.ts";
import { discardLines, retryLines, skipLine, EXIT_INTERRUPTED } from "./triage-report.ts";
import { uiOf } from "./ui.ts";

const settingArgs = configArgs("db");
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1_000_000;
const DEFAULT_REASON = "discarded by operator";

const taskId = idArgs("Result ID of the task");
const queueArg = { type: "string", valueHint: "queue", description: "Only tasks in this queue" } as const;
const taskPathArg = { type: "string", valueHint: "path", description: "Only tasks with this task path" } as const;
const jsonArg = { type: "boolean", description: "Print one JSON document" } as const;
const dryRunArg = { type: "boolean", description: "Show what would change; change nothing" } as const;

const count = (n: number) => n.toLocaleString("en-US");

function optionalText(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** ID | --id N | --all [--queue q] [--task-path p], checked before any connection. */
function bulkFilter(args: Record<string, unknown>): FailedFilter {
  const id = resultIdFrom(args);
  const all = args.all === true;
  if (id !== undefined && all) throw new UsageError("Provide exactly one of --id or --all");
  if (id === undefined && !all) throw new UsageError("Provide --id or --all (or the task id as an argument)");
  const queue = optionalText(args.queue);
  const taskPath = optionalText(args["task-path"]);
  if (id !== undefined) {
    if (queue !== undefined || taskPath !== undefined) throw new UsageError("--queue and --task-path only apply with --all");
    return { resultId: id };
  }
  return { ...(queue === undefined ? {} : { queue }), ...(taskPath === undefined ? {} : { taskPath }) };
}

/** Why an --id operation touched nothing: unknown id (not_found) or a row that is not FAILED. */
async function notFailed(sql: Sql, resultId: string, prefix: string): Promise<ReproqError> {
  const status = await taskReadStatus(sql, { resultId });
  if (status === null) return new ReproqError("not_found", `task ${resultId} not found`);
  return new ReproqError("conflict", `${prefix}task ${resultId} is ${status}, not FAILED`);
}

const iso = (value: Date | null) => (value === null ? null : value.toISOString());

const list = defineCommand({
  meta: { name: "list", description: "List failed tasks, newest failure first" },
  args: {
    ...settingArgs,
    queue: queueArg,
    "task-path": taskPathArg,
    limit: { type: "string", valueHint: "n", description: `Max tasks to list (default ${DEFAULT_LIMIT})` },
    json: jsonArg,
  },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    const limit = Number(positiveInt("limit", String(args.limit ?? DEFAULT_LIMIT)));
    if (limit > MAX_LIMIT) throw new UsageError(`--limit must be at most ${MAX_LIMIT}, got "${String(args.limit)}"`);
    const queue = optionalText(args.queue);
    const taskPath = optionalText(args["task-path"]);
    const rows = await withDatabase(ui, args, (sql) =>
      taskListFailed(sql, { limit, ...(queue === undefined ? {} : { queue }), ...(taskPath === undefined ? {} : { taskPath }) }));
    if (args.json) {
      ui.out(JSON.stringify(rows.map((r) => ({ ...r, failed_at: iso(r.failed_at), last_attempted_at: iso(r.last_attempted_at), finished_at: iso(r.finished_at) }))));
      return 0;
    }
    if (rows.length === 0) {
      ui.out("No failed tasks.");
      return 0;
    }
    printTable(
      ui,
      ["ID", "Queue", "Task", "Attempts", "FailedAt", "LastError"],
      rows.map((r) => [r.result_id, r.queue_name, r.task_path, `${r.attempts}/${r.max_attempts}`, r.failed_at, r.last_error]),
    );
    return 0;
  },
});

function describeDetail(row: TaskDetailRow): string[] {
  const lines = [
    `Result ID: ${row.result_id}`,
    `Queue: ${row.queue_name}`,
    `Task Path: ${row.task_path}`,
    `Status: ${row.status}`,
    `Attempts: ${row.attempts}/${row.max_attempts}`,
    `Failed At: ${iso(row.failed_at) ?? ""}`,
    `Last Error: ${row.last_error ?? ""}`,
    `Spec Hash: ${row.spec_hash}`,
    `Logs URI: ${row.logs_uri ?? ""}`,
    "Spec JSON:",
    ...JSON.stringify(row.spec_json, null, 2).split("\n").map((line) => `  ${line}`),
  ];
  const errors = Array.isArray(row.errors_json) ? (row.errors_json as unknown[]) : [];
  lines.push(`Errors (${errors.length}):`);
  errors.forEach((entry, index) => {
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
      lines.push(`  [${index + 1}] ${JSON.stringify(entry)}`);
      return;
    }
    const { traceback, ...rest } = entry as Record<string, unknown>;
    const head = [rest.at, rest.kind, rest.exception_class, rest.message].filter((part) => typeof part === "string" && part !== "").join("  ");
    lines.push(`  [${index + 1}] ${head}`);
    const extra = Object.entries(rest).filter(([key]) => !["at", "kind", "exception_class", "message"].includes(key));
    for (const [key, value] of extra) lines.push(`      ${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
    if (typeof traceback === "string" && traceback.trim() !== "") {
      lines.push("      traceback:");
      for (const line of traceback.trimEnd().split("\n")) lines.push(`        ${line}`);
    }
  });
  return lines;
}

const inspect = defineCommand({
  meta: { name: "inspect", description: "Show one failed task: spec, every error with traceback, logs path" },
  args: { ...settingArgs, ...taskId, json: jsonArg },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    const resultId = resultIdFrom(args);
    if (resultId === undefined) throw new UsageError("Provide --id (or the task id as an argument)");
    const row = await withDatabase(ui, args, (sql) => taskReadDetail(sql, { resultId }));
    if (row === null) throw new ReproqError("not_found", `task ${resultId} not found`);
    if (row.status !== "FAILED") throw new ReproqError("not_found", `task ${resultId} is ${row.status}, not FAILED`);
    if (args.json) {
      ui.out(JSON.stringify({ ...row, failed_at: iso(row.failed_at), last_attempted_at: iso(row.last_attempted_at), finished_at: iso(row.finished_at), enqueued_at: row.enqueued_at.toISOString() }));
      return 0;
    }
    for (const line of describeDetail(row)) ui.out(line);
    return 0;
  },
});

const retry = defineCommand({
  meta: { name: "retry", description: "Requeue failed tasks (READY, attempts 0) and put the chain tasks they failed back to WAITING" },
  args: {
    ...settingArgs,
    ...taskId,
    all: { type: "boolean", description: "Retry every failed task (narrow with --queue / --task-path)" },
    queue: queueArg,
    "task-path": taskPathArg,
    "include-cancelled": { type: "boolean", description: "With --all, also retry tasks an operator cancelled (last error kind cancelled)" },
    "dry-run": dryRunArg,
  },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    const filter = bulkFilter(args);
    if (args["include-cancelled"] === true && filter.resultId !== undefined) throw new UsageError("--include-cancelled only applies with --all");
    const dryRun = args["dry-run"] === true;
    return withDatabase(ui, args, async (sql) => {
      const bar = filter.resultId === undefined && !dryRun ? { label: "retrying", closing: (o: RetryOutcome) => `retried ${count(o.retried.length)} of ${count(o.total)}` } : null;
      const outcome = await runWithProgress(ui, bar, (control) =>
        retryFailedTasks(sql, { ...filter, excludeCancelled: filter.resultId === undefined && args["include-cancelled"] !== true }, { ...control, dryRun }));
      if (filter.resultId !== undefined) {
        const skip = outcome.skipped[0];
        if (skip) throw new ReproqError("conflict", skipLine(skip));
        if (outcome.locked[0] === filter.resultId) throw new ReproqError("conflict", `task ${filter.resultId} is locked by another transaction; try again`);
        if (outcome.retried.length === 0) throw await notFailed(sql, filter.resultId, "No failed tasks updated: ");
      }
      for (const line of retryLines(outcome, dryRun)) ui.out(line);
      return outcome.stopped ? EXIT_INTERRUPTED : 0;
    });
  },
});

const discard = defineCommand({
  meta: { name: "discard", description: "Mark failed tasks CANCELLED (last_error = the reason)" },
  args: {
    ...settingArgs,
    ...taskId,
    all: { type: "boolean", description: "Discard every failed task (narrow with --queue / --task-path)" },
    queue: queueArg,
    "task-path": taskPathArg,
    reason: { type: "string", valueHint: "text", description: `Stored in last_error (default "${DEFAULT_REASON}")` },
    "dry-run": dryRunArg,
  },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    const filter = bulkFilter(args);
    const reason = optionalText(args.reason) ?? DEFAULT_REASON;
    const dryRun = args["dry-run"] === true;
    return withDatabase(ui, args, async (sql) => {
      const bar = filter.resultId === undefined && !dryRun ? { label: "discarding", closing: (o: DiscardOutcome) => `discarded ${count(o.discarded.length)} of ${count(o.total)}` } : null;
      const outcome = await runWithProgress(ui, bar, (control) => discardFailedTasks(sql, { ...filter, reason }, { ...control, dryRun }));
      if (filter.resultId !== undefined && outcome.discarded.length === 0) {
        if (outcome.locked.length > 0) throw new ReproqError("conflict", `task ${filter.resultId} is locked by another transaction; try again`);
        throw await notFailed(sql, filter.resultId, "No failed tasks discarded: ");
      }
      for (const line of discardLines(outcome, dryRun)) ui.out(line);
      return outcome.stopped ? EXIT_INTERRUPTED : 0;
    });
  },
});

const summary = defineCommand({
  meta: { name: "summary", description: "Failed tasks grouped by task path and exception class" },
  args: { ...settingArgs, json: jsonArg },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    const rows = await withDatabase(ui, args, (sql) => taskSummarizeFailures(sql));
    if (args.json) {
      ui.out(JSON.stringify(rows.map((r) => ({ ...r, first_seen: iso(r.first_seen), last_seen: iso(r.last_seen) }))));
      return 0;
    }
    if (rows.length === 0) {
      ui.out("No failed tasks.");
      return 0;
    }
    printTable(ui, ["Task", "Exception", "Count", "FirstSeen", "LastSeen"], rows.map((r) => [r.task_path, r.exception_class, r.count, r.first_seen, r.last_seen]));
    return 0;
  },
});

export default defineCommand({
  meta: { name: "triage", description: "Failed tasks (the dead-letter queue): list, inspect, retry, discard, summary" },
  subCommands: { list, inspect, retry, discard, summary },
});
