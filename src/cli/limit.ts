// reproq limit set|ls|rm: rate-limit buckets (Go §1.7). Keys: queue:<name>, task:<path>, global
// (not validated, as in Go). A rate of 0 disables limiting for that key.
import { defineCommand } from "citty";
import { configArgs } from "../config/index.ts";
import { UsageError } from "../errors.ts";
import { rateLimitDelete, rateLimitList, rateLimitSet } from "../queue/limits.ts";
import { withDatabase } from "./context.ts";
import { printTable } from "./table.ts";
import { uiOf } from "./ui.ts";

const settingArgs = configArgs("db");
const keyArg = {
  type: "string",
  required: true,
  valueHint: "key",
  description: "Rate limit key (queue:<name> | task:<path> | global)",
} as const;

function requireKey(value: unknown): string {
  const key = typeof value === "string" ? value : "";
  if (key.trim() === "") throw new UsageError("--key must not be empty");
  return key;
}

/** Parses --rate: a finite decimal number ≥ 0. */
export function parseRate(raw: string): number {
  const rate = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(rate)) throw new UsageError(`invalid value "${raw}" for flag --rate: expected a number of tokens per second`);
  if (rate < 0) throw new UsageError("tokens_per_second must be >= 0");
  return rate;
}

/** Parses --burst: an integer > 0 that fits an int4 column. */
export function parseBurst(raw: string): number {
  if (!/^[+-]?\d+$/.test(raw.trim())) throw new UsageError(`invalid value "${raw}" for flag --burst: expected a whole number`);
  const burst = Number(raw);
  if (burst <= 0) throw new UsageError("burst_size must be > 0");
  if (burst > 2_147_483_647) throw new UsageError(`invalid value "${raw}" for flag --burst: at most 2147483647`);
  return burst;
}

/** Go's RFC3339 (second precision, UTC). */
function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

const set = defineCommand({
  meta: { name: "set", description: "Create or replace a rate limit (refills the bucket)" },
  args: {
    ...settingArgs,
    key: keyArg,
    rate: { type: "string", default: "0", valueHint: "tokens/s", description: "Tokens per second, ≥ 0; 0 disables limiting (default 0)" },
    burst: { type: "string", default: "1", valueHint: "n", description: "Burst size: bucket capacity, > 0 (default 1)" },
  },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    const key = requireKey(args.key);
    const tokensPerSecond = parseRate(String(args.rate));
    const burstSize = parseBurst(String(args.burst));
    const row = await withDatabase(ui, args, (sql) => rateLimitSet(sql, { key, tokensPerSecond, burstSize }));
    ui.out(`Set rate limit ${row.key}: ${row.tokensPerSecond.toFixed(2)} tokens/sec, burst ${row.burstSize}`);
    return 0;
  },
});

const ls = defineCommand({
  meta: { name: "ls", description: "List rate limits with their current (refilled) token counts" },
  args: {
    ...settingArgs,
    json: { type: "boolean", description: "Print the limits as one JSON document" },
  },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    const rows = await withDatabase(ui, args, (sql) => rateLimitList(sql));
    if (args.json) {
      ui.out(
        JSON.stringify(
          rows.map((row) => ({
            key: row.key,
            tokens_per_second: row.tokensPerSecond,
            burst_size: row.burstSize,
            current_tokens: row.currentTokens,
            stored_tokens: row.storedTokens,
            last_refilled_at: row.lastRefilledAt.toISOString(),
          })),
        ),
      );
      return 0;
    }
    if (rows.length === 0) {
      ui.out("No rate limits configured.");
      return 0;
    }
    printTable(
      ui,
      ["Key", "Tokens/s", "Burst", "Current", "LastRefill"],
      rows.map((row) => [row.key, row.tokensPerSecond.toFixed(2), row.burstSize, row.currentTokens.toFixed(2), rfc3339(row.lastRefilledAt)]),
    );
    return 0;
  },
});

const rm = defineCommand({
  meta: { name: "rm", description: "Delete a rate limit" },
  args: { ...settingArgs, key: keyArg },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    const key = requireKey(args.key);
    const deleted = await withDatabase(ui, args, (sql) => rateLimitDelete(sql, { key }));
    ui.out(`Deleted ${deleted} rate limit(s) for ${key}`);
    return 0;
  },
});

export default defineCommand({
  meta: { name: "limit", description: "Manage rate limits (token buckets per queue, task path or global)" },
  subCommands: { set, ls, rm },
});
