// reproq help [COMMAND…]: the same text as `reproq [COMMAND…] --help`. runCli answers it before
// resolving commands (so any depth works: `reproq help triage retry`); this definition only puts
// it in the command list and docs/cli.md.
import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "help", description: "Show the help of a command (reproq help triage retry)" },
  args: {
    command: { type: "positional", required: false, valueHint: "command", description: "The command, e.g. triage or triage retry" },
  },
});
