// reproq cancel --id N: RUNNING → cancellation requested (the worker stops it at its next
// heartbeat); READY/WAITING → CANCELLED now; a finished or unknown task → one line, exit 1.
import { defineCommand } from "citty";
import { configArgs } from "../config/index.ts";
import { closeDb } from "../db/client.ts";
import { ReproqError, UsageError } from "../errors.ts";
import { taskCancel } from "../queue/cancel.ts";
import { taskReadStatus } from "../queue/triage.ts";
import { flagValues, loadCommandConfig, openDatabase, positiveInt } from "./context.ts";
import { uiOf } from "./ui.ts";

const settingArgs = configArgs("db");

export default defineCommand({
  meta: { name: "cancel", description: "Cancel a task: RUNNING → request cancellation; READY/WAITING → CANCELLED now" },
  args: {
    ...settingArgs,
    id: { type: "string", valueHint: "id", description: "Result ID to cancel" },
  },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    if (typeof args.id !== "string" || args.id === "") throw new UsageError("Provide --id");
    const resultId = positiveInt("id", args.id);

    const config = await loadCommandConfig(ui, "db", flagValues(args, Object.keys(settingArgs)));
    const sql = await openDatabase(config, { poolSize: 1 });
    try {
      const previous = await taskCancel(sql, { resultId });
      if (previous === "RUNNING") {
        ui.out(`Cancellation requested for task ${resultId}`);
        return 0;
      }
      if (previous !== null) {
        ui.out(`Cancelled task ${resultId}`);
        return 0;
      }
      const status = await taskReadStatus(sql, { resultId });
      if (status === null) throw new ReproqError("not_found", `task ${resultId} not found`);
      throw new ReproqError("conflict", `task ${resultId} is already ${status}; nothing to cancel`);
    } finally {
      await closeDb(sql);
    }
  },
});
