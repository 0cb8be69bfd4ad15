// reproq config [--for worker|beat|db|all] [--json]: validate the configuration and print every
// setting with its effective value and source. Exit 2 when a setting is invalid. Never connects.
import { defineCommand } from "citty";
import { configArgs, explainConfig, type ConfigScope } from "../config/index.ts";
import { flagValues, loadCommandConfig } from "./context.ts";
import { uiOf } from "./ui.ts";

const settingArgs = configArgs("all");
const SCOPES = ["worker", "beat", "db", "all"] as const;

export default defineCommand({
  meta: { name: "config", description: "Validate the configuration and show each setting's value and source" },
  args: {
    for: { type: "enum", options: [...SCOPES], valueHint: "command", description: "Check the settings one command uses: worker, beat, db (utility commands) or all (default all)" },
    json: { type: "boolean", description: "Print the settings as one JSON document" },
    ...settingArgs,
  },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    const scope = (args.for ?? "all") as ConfigScope;
    const config = await loadCommandConfig(ui, scope, flagValues(args, Object.keys(settingArgs)));
    const settings = explainConfig(config, scope);
    if (args.json) {
      ui.out(JSON.stringify({
        config_file: config.configFile,
        warnings: config.warnings,
        settings: Object.fromEntries(settings.map((s) => [s.key, { value: s.value, source: s.source }])),
      }));
      return 0;
    }
    if (ui.stdoutIsTty) {
      const width = Math.max(...settings.map((s) => s.key.length));
      const valueWidth = Math.min(48, Math.max(...settings.map((s) => s.value.length)));
      ui.out(`config file: ${config.configFile ?? "(none)"}`);
      for (const s of settings) ui.out(`${s.key.padEnd(width)}  ${(s.value || "–").padEnd(valueWidth)}  ${s.source}`);
    } else {
      ui.out("key\tvalue\tsource");
      for (const s of settings) ui.out(`${s.key}\t${s.value}\t${s.source}`);
    }
    return 0;
  },
});
