// reproq cancel N (or --id N): RUNNING → cancellation requested (the worker hears it by NOTIFY,
// or its 1 s poll, and stops the task within about a second); READY/WAITING → CANCELLED now; a
// finished or unknown task → one line, exit 1.
import { defineCommand } from "citty";
import { configArgs } from "../config/index.ts";
import { closeDb } from "../db/client.ts";
import { ReproqError, UsageError } from "../errors.ts";
import { taskCancel } from "../queue/cancel.ts";
import { taskReadStatus } from "../queue/triage.ts";
import { flagValues, loadCommandConfig, openDatabase } from "./context.ts";
import { idArgs, resultIdFrom } from "./id-arg.ts";
import { uiOf } from "./ui.ts";

const settingArgs = configArgs("db");

export default defineCommand({
  meta: { name: "cancel", description: "Cancel a task: RUNNING → request cancellation; READY/WAITING → CANCELLED now" },
  args: {
    ...settingArgs,
    ...idArgs("Result ID to cancel"),
  },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    const resultId = resultIdFrom(args);
    if (resultId === undefined) throw new UsageError("Provide --id (or the task id as an argument)");

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
