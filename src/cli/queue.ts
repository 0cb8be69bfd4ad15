// reproq queue ls|pause|resume: per-queue counts and pause controls (reproq_queue_controls).
// A paused queue keeps its rows; workers simply stop claiming from it until it is resumed.
import { defineCommand } from "citty";
import { configArgs } from "../config/index.ts";
import { UsageError } from "../errors.ts";
import { queueOverview, queuePause, queueResume } from "../queue/controls.ts";
import { withDatabase } from "./context.ts";
import { printTable } from "./table.ts";
import { uiOf } from "./ui.ts";

const settingArgs = configArgs("db");
const queueArg = { type: "positional", required: true, valueHint: "queue", description: "Queue name" } as const;

function requireQueue(value: unknown): string {
  const name = typeof value === "string" ? value : "";
  if (name.trim() === "") throw new UsageError("queue name must not be empty");
  return name;
}

/** 42 → "42s", 3725 → "1h2m", 90061 → "1d1h". */
export function shortAge(seconds: number | null): string {
  if (seconds === null) return "–";
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`;
}

const ls = defineCommand({
  meta: { name: "ls", description: "List known queues with per-status counts, oldest READY age and pause state" },
  args: {
    ...settingArgs,
    json: { type: "boolean", description: "Print the queues as one JSON document" },
  },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    const rows = await withDatabase(ui, args, (sql) => queueOverview(sql));
    if (args.json) {
      ui.out(
        JSON.stringify(
          rows.map((row) => ({
            queue: row.queueName,
            ready: row.ready,
            running: row.running,
            waiting: row.waiting,
            failed: row.failed,
            successful: row.successful,
            cancelled: row.cancelled,
            oldest_ready_seconds: row.oldestReadySeconds,
            paused: row.paused,
            paused_at: row.pausedAt?.toISOString() ?? null,
            reason: row.reason,
          })),
        ),
      );
      return 0;
    }
    if (rows.length === 0) {
      ui.out("No queues found.");
      return 0;
    }
    printTable(
      ui,
      ["Queue", "Ready", "Running", "Waiting", "Failed", "Successful", "Cancelled", "OldestReady", "Paused", "Reason"],
      rows.map((row) => [
        row.queueName,
        row.ready,
        row.running,
        row.waiting,
        row.failed,
        row.successful,
        row.cancelled,
        shortAge(row.oldestReadySeconds),
        row.paused ? "yes" : "no",
        row.reason,
      ]),
    );
    return 0;
  },
});

const pause = defineCommand({
  meta: { name: "pause", description: "Pause a queue: workers stop claiming from it (running tasks finish)" },
  args: {
    ...settingArgs,
    queue: queueArg,
    reason: { type: "string", valueHint: "text", description: "Why the queue is paused (shown by queue ls and Django's admin)" },
  },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    const queueName = requireQueue(args.queue);
    const reason = typeof args.reason === "string" && args.reason !== "" ? args.reason : null;
    await withDatabase(ui, args, (sql) => queuePause(sql, { queueName, reason }));
    ui.out(`Paused queue ${queueName}`);
    return 0;
  },
});

const resume = defineCommand({
  meta: { name: "resume", description: "Resume a paused queue" },
  args: { ...settingArgs, queue: queueArg },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    const queueName = requireQueue(args.queue);
    await withDatabase(ui, args, (sql) => queueResume(sql, { queueName }));
    ui.out(`Resumed queue ${queueName}`);
    return 0;
  },
});

export default defineCommand({
  meta: { name: "queue", description: "List queues with counts; pause and resume queues" },
  subCommands: { ls, pause, resume },
});
