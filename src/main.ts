// Entry point: build the command tree and run it. Nothing else lives here.
import { rootCommand } from "./cli/root.ts";
import { runCli } from "./cli/run.ts";
import { createUi } from "./cli/ui.ts";

process.exitCode = await runCli(rootCommand, process.argv.slice(2), createUi());
