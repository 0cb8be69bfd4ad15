// Entry point: build the command tree and run it. `--version` is answered before anything else
// is loaded (SPEC §10: it must stay fast and never touch the database or the network).
import { VERSION } from "./version.ts";

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-version" || argv[0] === "version")) {
  console.log(`reproq version ${VERSION}`); // console.log: process.stdout costs ~20 ms to set up
} else {
  const [{ rootCommand }, { runCli }, { createUi }] = await Promise.all([import("./cli/root.ts"), import("./cli/run.ts"), import("./cli/ui.ts")]);
  process.exitCode = await runCli(rootCommand, argv, await createUi());
}
