// citty argument definitions derived from the registry. Value flags are plain strings (we parse
// them ourselves, with the same rules as env vars), and no `default` is ever set so that
// loadConfig can tell "not given" from "given".

import type { ArgDef } from "citty";
import { CONFIG_FILE_NAMES } from "./discover.ts";
import { defaultOf, inScope, SETTINGS, type Setting } from "./settings.ts";
import type { ConfigScope } from "./types.ts";

/** The default as people read it: `10`, `30s`, `default`, `<hostname>-<pid>`; "" when empty. */
export function defaultText(setting: Setting): string {
  if (setting.defaultText !== undefined) return setting.defaultText;
  const value = defaultOf(setting);
  return Array.isArray(value) ? value.join(",") : String(value);
}

function helpText(setting: Setting): string {
  const notes: string[] = [];
  const shownDefault = defaultText(setting);
  if (shownDefault !== "") notes.push(`default ${shownDefault}`);
  if (setting.env.length > 0) notes.push(`env ${setting.env.join(" or ")}`);
  return notes.length > 0 ? `${setting.description} (${notes.join(", ")})` : setting.description;
}

function valueHint(setting: Setting): string {
  if (setting.hint) return setting.hint;
  if (setting.kind === "enum") return (setting.options ?? []).join("|");
  if (setting.kind === "duration" || setting.kind === "seconds-or-duration") return "duration";
  return "value";
}

export function configArgs(scope: ConfigScope): Record<string, ArgDef> {
  const args: Record<string, ArgDef> = {
    config: {
      type: "string",
      valueHint: "path",
      description: `Config file (env REPROQ_CONFIG; else the first of ${CONFIG_FILE_NAMES.join(", ")} in the working directory)`,
    },
  };
  for (const setting of SETTINGS) {
    // Two settings may share a flag (worker/beat process role); the first one describes it.
    if (!inScope(setting, scope) || args[setting.flag]) continue;
    args[setting.flag] =
      setting.kind === "bool"
        ? { type: "boolean", description: helpText(setting), negativeDescription: `Turn off --${setting.flag}` }
        : { type: "string", description: helpText(setting), valueHint: valueHint(setting) };
  }
  return args;
}
