import { defineCommand } from "citty";
import { versionLine } from "./run.ts";
import { uiOf } from "./ui.ts";

export default defineCommand({
  meta: { name: "version", description: "Print the version and exit (never touches the network or database)" },
  run(context) {
    uiOf(context).out(versionLine());
  },
});
