// reproq prune expired [--limit N] [--dry-run]: delete task_runs rows past expires_at that are
// not RUNNING (Go §1.6). Children of deleted rows keep running their course with parent_id NULL.
import { defineCommand } from "citty";
import { configArgs } from "../config/index.ts";
import { closeDb } from "../db/client.ts";
import { UsageError } from "../errors.ts";
import { taskPruneExpired, taskPruneExpiredCount } from "../queue/prune.ts";
import { flagValues, loadCommandConfig, openDatabase } from "./context.ts";
import { uiOf } from "./ui.ts";

const settingArgs = configArgs("db");

/** Parses --limit: a whole number; 0 or negative means no limit (as in Go). */
export function parsePruneLimit(raw: string): number {
  if (!/^[+-]?\d+$/.test(raw.trim())) throw new UsageError(`invalid value "${raw}" for flag --limit: expected a whole number`);
  const limit = Number(raw);
  return limit > 0 ? Math.min(limit, Number.MAX_SAFE_INTEGER) : 0;
}

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
  meta: { name: "prune", description: "Delete old task rows" },
  subCommands: { expired },
});
