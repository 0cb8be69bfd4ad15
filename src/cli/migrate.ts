// reproq migrate [--dry-run]: create or upgrade the schema (SPEC §3).
import { defineCommand } from "citty";
import { configArgs } from "../config/index.ts";
import { closeDb } from "../db/client.ts";
import { migrate } from "../db/migrate.ts";
import { ConfigError } from "../errors.ts";
import { configuredPooler, flagValues, loadCommandConfig, openDatabase } from "./context.ts";
import { uiOf } from "./ui.ts";

const settingArgs = configArgs("db");

const MIGRATE_NEEDS_SESSION = "Connected through a transaction pooler: reproq migrate holds a session-level lock and needs a session; " +
  "point --dsn (or DATABASE_URL) at PostgreSQL directly or at a session-pooling port";

export default defineCommand({
  meta: {
    name: "migrate",
    description: "Create or upgrade the database schema (run after Django's manage.py migrate)",
  },
  args: {
    ...settingArgs,
    "dry-run": { type: "boolean", description: "List the migrations and statements that would run; change nothing" },
    json: { type: "boolean", description: "Print the result as one JSON document" },
  },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    const config = await loadCommandConfig(ui, "db", flagValues(args, Object.keys(settingArgs)));
    const dryRun = args["dry-run"] === true;
    // The runner's session-level advisory lock would be taken on one pooled server connection and
    // released (or not) on another: never through a transaction pooler.
    if (!dryRun && (await configuredPooler(config))) throw new ConfigError([MIGRATE_NEEDS_SESSION]);
    // One connection for the runner's advisory lock, one spare.
    const sql = await openDatabase(config, { poolSize: 2 });
    try {
      const lines: string[] = [];
      const log = (line: string) => (dryRun || args.json ? lines.push(line) : ui.info(line));
      const result = await migrate(sql, { dryRun, log });
      if (args.json) {
        ui.out(JSON.stringify({ dry_run: dryRun, ...result, log: lines }));
        return 0;
      }
      for (const line of dryRun ? lines : []) ui.out(line);
      if (!dryRun && result.applied.length > 0) ui.success(`Applied ${result.applied.length} migration(s): ${result.applied.join(", ")}`);
      return 0;
    } finally {
      await closeDb(sql);
    }
  },
});
