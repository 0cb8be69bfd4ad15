// Placeholder: being built (issue 4). Hidden from --help until then.
import { defineCommand } from "citty";
import { UsageError } from "../errors.ts";

export default defineCommand({
  meta: { name: "prune", hidden: true, description: "not built yet" },
  run() {
    throw new UsageError("reproq prune is not available in this build yet");
  },
});
