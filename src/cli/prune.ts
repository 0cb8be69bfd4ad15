// reproq prune --finished-older-than AGE [--status A,B] [--limit N] [--batch-size N] [--dry-run]:
// retention by age and status, in committed batches (progress on a terminal, one summary line).
// reproq prune expired [--limit N] [--dry-run]: rows past expires_at that are not RUNNING (Go §1.6).
// Both detach the children of deleted rows (parent_id NULL) and wait for the prune lock, so they
// never run at the same time as another pruner (a worker's retention service included).
import { defineCommand } from "citty";
import { configArgs } from "../config/index.ts";
import { parseAgeDuration } from "../config/duration.ts";
import { splitList } from "../config/kinds.ts";
import { closeDb } from "../db/client.ts";
import { UsageError } from "../errors.ts";
import {
  PRUNABLE_STATUSES,
  pruneCutoffRead,
  pruneFinishedTasks,
  taskPruneExpired,
  taskPruneExpiredCount,
  taskPruneFinishedCount,
} from "../queue/prune.ts";
import { flagValues, loadCommandConfig, openDatabase } from "./context.ts";
import { progressBar } from "./progress.ts";
import { uiOf } from "./ui.ts";

const settingArgs = configArgs("db");
const DEFAULT_BATCH = 1000;
const MAX_BATCH = 50_000;

/** Parses --limit: a whole number; 0 or negative means no limit (as in Go). */
export function parsePruneLimit(raw: string): number {
  if (!/^[+-]?\d+$/.test(raw.trim())) throw new UsageError(`invalid value "${raw}" for flag --limit: expected a whole number`);
  const limit = Number(raw);
  return limit > 0 ? Math.min(limit, Number.MAX_SAFE_INTEGER) : 0;
}

export interface FinishedOptions {
  olderThanMs: number;
  statuses: string[];
  limit: number;
  batchSize: number;
}

/** Validates the retention flags (exit 2 on any problem, before connecting). */
export function parseFinishedOptions(args: Record<string, unknown>): FinishedOptions {
  const age = String(args["finished-older-than"]);
  let olderThanMs: number;
  try {
    olderThanMs = parseAgeDuration(age.trim());
  } catch {
    throw new UsageError(`invalid value "${age}" for flag --finished-older-than: expected a duration like 14d, 12h or 90m`);
  }
  if (!(olderThanMs > 0)) throw new UsageError(`--finished-older-than must be > 0, got ${age}`);
  const rawStatus = typeof args.status === "string" ? args.status : PRUNABLE_STATUSES.join(",");
  const statuses = splitList(rawStatus).map((s) => s.toUpperCase());
  if (statuses.length === 0 || !statuses.every((s) => (PRUNABLE_STATUSES as readonly string[]).includes(s))) {
    throw new UsageError(`--status may only name ${PRUNABLE_STATUSES.join(", ")} (READY, RUNNING and WAITING rows are never pruned), got "${rawStatus}"`);
  }
  const rawBatch = typeof args["batch-size"] === "string" ? args["batch-size"] : String(DEFAULT_BATCH);
  const batchSize = Number(rawBatch.trim());
  if (!/^\d+$/.test(rawBatch.trim()) || batchSize < 1 || batchSize > MAX_BATCH) {
    throw new UsageError(`--batch-size must be an integer between 1 and ${MAX_BATCH}, got "${rawBatch}"`);
  }
  const limit = parsePruneLimit(typeof args.limit === "string" ? args.limit : "0");
  return { olderThanMs, statuses: [...new Set(statuses)], limit, batchSize };
}

const rfc3339 = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, "Z");

const expired = defineCommand({
  meta: { name: "expired", description: "Delete tasks whose expires_at has passed (never RUNNING ones)" },
  args: {
    ...settingArgs,
    limit: { type: "string", default: "0", valueHint: "n", description: "Max tasks to delete, oldest expiry first; 0 or negative = no limit (default 0)" },
    "dry-run": { type: "boolean", description: "Show count without deleting" },
  },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    const limit = parsePruneLimit(String(args.limit));
    const config = await loadCommandConfig(ui, "db", flagValues(args, Object.keys(settingArgs)));
    const sql = await openDatabase(config, { poolSize: 1 });
    try {
      if (args["dry-run"] === true) {
        ui.out(`Would prune ${await taskPruneExpiredCount(sql, { limit })} expired task(s)`);
      } else {
        const { pruned } = await taskPruneExpired(sql, { limit });
        ui.out(`Pruned ${pruned} expired task(s)`);
      }
      return 0;
    } finally {
      await closeDb(sql);
    }
  },
});

export default defineCommand({
  meta: { name: "prune", description: "Delete old task rows: finished ones by age (--finished-older-than), or expired ones (prune expired)" },
  args: {
    ...settingArgs,
    "finished-older-than": { type: "string", valueHint: "age", description: "Delete tasks that finished longer ago than this, e.g. 14d, 36h (days allowed)" },
    status: { type: "string", valueHint: "A,B", description: "Statuses to delete: any of SUCCESSFUL, FAILED, CANCELLED (default all three); READY, RUNNING and WAITING are never deleted" },
    limit: { type: "string", valueHint: "n", description: "Max tasks to delete in all, oldest first; 0 or negative = no limit (default 0)" },
    "batch-size": { type: "string", valueHint: "n", description: `Rows deleted per transaction, each committed (default ${DEFAULT_BATCH}, at most ${MAX_BATCH})` },
    "dry-run": { type: "boolean", description: "Show count without deleting" },
  },
  subCommands: { expired },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    if (typeof args["finished-older-than"] !== "string") {
      throw new UsageError("missing command for 'reproq prune': give --finished-older-than AGE (e.g. 14d), or the command expired", [
        "Run 'reproq prune --help' to see the flags and commands.",
      ]);
    }
    const options = parseFinishedOptions(args);
    const config = await loadCommandConfig(ui, "db", flagValues(args, Object.keys(settingArgs)));
    const sql = await openDatabase(config, { poolSize: 1 });
    try {
      const cutoff = await pruneCutoffRead(sql, { olderThanMs: options.olderThanMs });
      const what = `task(s) finished before ${rfc3339(cutoff)} (${options.statuses.join(", ")})`;
      const scope = { cutoff, statuses: options.statuses, limit: options.limit };
      if (args["dry-run"] === true) {
        ui.out(`Would prune ${await taskPruneFinishedCount(sql, scope)} ${what}`);
        return 0;
      }
      const progress = progressBar(ui, "Pruning");
      let total = 0;
      if (ui.stderrIsTty) {
        progress.note("Counting tasks to prune…");
        total = await taskPruneFinishedCount(sql, scope);
      }
      const started = performance.now();
      const result = await pruneFinishedTasks(sql, {
        ...scope,
        batchSize: options.batchSize,
        wait: true,
        onBatch: (p) => progress.update(p.pruned, Math.max(total, p.pruned)),
      });
      progress.finish();
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const detached = result.detached > 0 ? `; detached ${result.detached} child row(s) from pruned parents` : "";
      ui.out(`Pruned ${result.pruned} ${what} in ${result.batches} batch(es), ${seconds}s${detached}`);
      return 0;
    } finally {
      await closeDb(sql);
    }
  },
});
