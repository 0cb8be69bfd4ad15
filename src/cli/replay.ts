// reproq replay --id N | --spec-hash H: a new READY copy of a task (Go's wording on success);
// an active copy of the same spec is reported as `task N is already queued as #M` (exit 1).
import { defineCommand } from "citty";
import { configArgs } from "../config/index.ts";
import { closeDb } from "../db/client.ts";
import { ReproqError, UsageError } from "../errors.ts";
import { replayTask, type ReplaySource } from "../queue/replay.ts";
import { flagValues, loadCommandConfig, openDatabase, positiveInt } from "./context.ts";
import { uiOf } from "./ui.ts";

const settingArgs = configArgs("db");

export default defineCommand({
  meta: { name: "replay", description: "Enqueue a new READY copy of a task (by result id, or the latest row of a spec hash)" },
  args: {
    ...settingArgs,
    id: { type: "string", valueHint: "id", description: "Result ID to replay" },
    "spec-hash": { type: "string", valueHint: "hash", description: "Spec hash to replay (uses latest match)" },
  },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    const id = typeof args.id === "string" && args.id !== "" ? args.id : undefined;
    const hash = typeof args["spec-hash"] === "string" ? args["spec-hash"].trim() : "";
    if ((id === undefined) === (hash === "")) throw new UsageError("Provide exactly one of --id or --spec-hash");
    const source: ReplaySource = id !== undefined ? { resultId: positiveInt("id", id) } : { specHash: hash };

    const config = await loadCommandConfig(ui, "db", flagValues(args, Object.keys(settingArgs)));
    const sql = await openDatabase(config, { poolSize: 1 });
    try {
      const outcome = await replayTask(sql, source);
      if (outcome.sourceId === null) {
        throw new ReproqError("not_found", "resultId" in source ? `task ${source.resultId} not found` : `no task with spec_hash ${hash}`);
      }
      if (outcome.newId === null) {
        throw new ReproqError("conflict", `task ${outcome.sourceId} is already queued as #${outcome.activeId ?? "?"}`);
      }
      ui.out("resultId" in source
        ? `Requeued task ${outcome.sourceId} as new result_id ${outcome.newId}`
        : `Requeued task ${outcome.sourceId} (spec_hash ${hash}) as new result_id ${outcome.newId}`);
      return 0;
    } finally {
      await closeDb(sql);
    }
  },
});
