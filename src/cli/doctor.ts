// reproq doctor [--json]: prints a checklist (✓ ok, ! warning, ✗ failure); exit 1 on any failure.
import { defineCommand } from "citty";
import { configArgs } from "../config/index.ts";
import { runDoctor, type DoctorCheck } from "../doctor/index.ts";
import { flagValues } from "./context.ts";
import { uiOf } from "./ui.ts";

const settingArgs = configArgs("db");

const GLYPH: Record<DoctorCheck["status"], string> = { ok: "✓", warn: "!", fail: "✗" };
const COLOUR: Record<DoctorCheck["status"], string> = { ok: "\u001B[32m", warn: "\u001B[33m", fail: "\u001B[31m" };

export default defineCommand({
  meta: { name: "doctor", description: "Check DSN, connectivity, schema, migrations, executor and config" },
  args: {
    ...settingArgs,
    json: { type: "boolean", description: "Print the checks as one JSON document" },
  },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    const report = await runDoctor({ flags: flagValues(args, Object.keys(settingArgs)) });
    if (args.json) {
      ui.out(JSON.stringify(report));
    } else {
      for (const check of report.checks) {
        const glyph = ui.stdoutIsTty ? `${COLOUR[check.status]}${GLYPH[check.status]}\u001B[39m` : GLYPH[check.status];
        ui.out(`${glyph} ${check.name}${check.detail ? `: ${check.detail}` : ""}`);
      }
      const failed = report.checks.filter((check) => check.status === "fail").length;
      const warned = report.checks.filter((check) => check.status === "warn").length;
      ui.out(failed === 0 ? `All checks passed${warned ? ` (${warned} warning${warned === 1 ? "" : "s"})` : ""}.` : `${failed} check${failed === 1 ? "" : "s"} failed.`);
    }
    return report.ok ? 0 : 1;
  },
});
