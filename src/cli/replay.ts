// reproq replay --id N | --spec-hash H [--latest] | TASK: a new READY copy of a task (Go's wording
// on success). A hash may be upper-case or a unique prefix (≥ 8 hex characters). Several runs of
// one hash, or a prefix of several hashes, are listed and exit 1 (BL-010: "clear errors for
// ambiguous matches"); --latest takes the most recently finished run. An active copy of the spec
// is reported as `task N is already queued as #M`, a source that is itself active as such (exit 1).
import { defineCommand } from "citty";
import { configArgs } from "../config/index.ts";
import { closeDb } from "../db/client.ts";
import { ReproqError, UsageError } from "../errors.ts";
import { replayTask, resolveSpecHash, type ReplayCandidate, type ReplayOutcome, type SpecHashResolution } from "../queue/replay.ts";
import { flagValues, loadCommandConfig, openDatabase, positiveInt } from "./context.ts";
import { uiOf } from "./ui.ts";

const settingArgs = configArgs("db");
const MIN_PREFIX = 8;
const MAX_INT8_DIGITS = 19;

type Target = { resultId: string } | { hashPrefix: string; full: boolean };

/** A spec hash as typed: trimmed, lower-cased, 8–64 hex characters. */
export function parseSpecHash(raw: string, flag = "--spec-hash"): string {
  const hash = raw.trim().toLowerCase();
  if (!/^[0-9a-f]*$/.test(hash)) throw new UsageError(`${flag} must be hex digits (0-9, a-f), got "${raw}"`);
  if (hash.length < MIN_PREFIX) throw new UsageError(`${flag} needs at least ${MIN_PREFIX} hex characters, got "${raw}"`);
  if (hash.length > 64) throw new UsageError(`${flag} is at most 64 hex characters (a SHA-256), got ${hash.length}`);
  return hash;
}

/** --id, --spec-hash or the positional TASK (digits: an id; otherwise a hash or prefix). */
export function replayTarget(args: { id?: unknown; "spec-hash"?: unknown; task?: unknown; latest?: unknown }): Target {
  const given = (value: unknown) => (typeof value === "string" && value.trim() !== "" ? value : undefined);
  const id = given(args.id);
  const hash = given(args["spec-hash"]);
  const task = given(args.task);
  if ([id, hash, task].filter((v) => v !== undefined).length !== 1) {
    throw new UsageError("Provide exactly one of --id, --spec-hash or a TASK argument");
  }
  let target: Target;
  if (id !== undefined) target = { resultId: positiveInt("id", id) };
  else if (hash !== undefined) target = hashTarget(parseSpecHash(hash));
  else if (/^\d+$/.test(task!.trim()) && task!.trim().length <= MAX_INT8_DIGITS) target = { resultId: positiveInt("id", task!) };
  else if (/^[0-9a-fA-F]+$/.test(task!.trim())) target = hashTarget(parseSpecHash(task!, "a TASK hash"));
  else throw new UsageError(`argument "${task}" is neither a result id (digits) nor a spec hash (hex)`);
  if (args.latest === true && "resultId" in target) throw new UsageError("--latest applies to a spec hash, not to a result id");
  return target;
}

function hashTarget(hashPrefix: string): Target {
  return { hashPrefix, full: hashPrefix.length === 64 };
}

const rfc3339 = (date: Date | null) => (date === null ? "–" : date.toISOString().replace(/\.\d{3}Z$/, "Z"));

/** Aligned candidate lines (stderr details): id, status, finished time, and the hash when several differ. */
export function candidateLines(candidates: readonly ReplayCandidate[], total: number, withHash: boolean): string[] {
  const header = ["ID", "STATUS", "FINISHED", ...(withHash ? ["SPEC_HASH"] : [])];
  const rows = candidates.map((c) => [c.resultId, c.status, rfc3339(c.finishedAt), ...(withHash ? [c.specHash] : [])]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd();
  const lines = [line(header), ...rows.map(line)];
  if (total > candidates.length) lines.push(`… and ${total - candidates.length} more`);
  return lines;
}

function unresolved(resolution: Exclude<SpecHashResolution, { kind: "found" }>, target: { hashPrefix: string; full: boolean }): ReproqError {
  const named = target.full ? `spec_hash ${target.hashPrefix}` : `spec_hash prefix ${target.hashPrefix}`;
  if (resolution.kind === "none") {
    return new ReproqError("not_found", target.full ? `no task with spec_hash ${target.hashPrefix}` : `no task with a spec_hash starting with ${target.hashPrefix}`);
  }
  const details = candidateLines(resolution.candidates, resolution.total, resolution.reason === "hashes");
  const message = resolution.reason === "hashes"
    ? `${named} matches ${resolution.hashes} different hashes; give more characters, or choose one with --id`
    : `${named} matches ${resolution.total} tasks; add --latest to replay the most recently finished one, or choose one with --id`;
  return new ReproqError("ambiguous", message, { details });
}

/** Why nothing was inserted: the source is itself active, or another row holds the spec. */
function notReplayed(outcome: ReplayOutcome): ReproqError {
  if (outcome.activeId === outcome.sourceId) {
    const message = outcome.sourceStatus === "RUNNING"
      ? `task ${outcome.sourceId} is still RUNNING; nothing replayed (replay it once it has finished)`
      : `task ${outcome.sourceId} is still queued (${outcome.sourceStatus ?? "READY"}); nothing replayed`;
    return new ReproqError("conflict", message);
  }
  return new ReproqError("conflict", `task ${outcome.sourceId} is already queued as #${outcome.activeId ?? "?"}`);
}

export default defineCommand({
  meta: { name: "replay", description: "Enqueue a new READY copy of a task (by result id, or by spec hash)" },
  args: {
    ...settingArgs,
    task: { type: "positional", required: false, valueHint: "id|hash", description: "Result id (digits) or spec hash / unique prefix (≥ 8 hex characters); instead of --id or --spec-hash" },
    id: { type: "string", valueHint: "id", description: "Result ID to replay" },
    "spec-hash": { type: "string", valueHint: "hash", description: "Spec hash to replay: full or a unique prefix (≥ 8 hex characters), any case; several runs of it need --latest" },
    latest: { type: "boolean", description: "With a spec hash that has several runs: replay the most recently finished one" },
  },
  async run(context) {
    const { args } = context;
    const ui = uiOf(context);
    const target = replayTarget(args);
    const config = await loadCommandConfig(ui, "db", flagValues(args, Object.keys(settingArgs)));
    const sql = await openDatabase(config, { poolSize: 1 });
    try {
      let resultId: string;
      let hash: string | null = null;
      if ("resultId" in target) {
        resultId = target.resultId;
      } else {
        const resolution = await resolveSpecHash(sql, { hashPrefix: target.hashPrefix, latest: args.latest === true });
        if (resolution.kind !== "found") throw unresolved(resolution, target);
        resultId = resolution.candidate.resultId;
        hash = resolution.candidate.specHash;
      }
      const outcome = await replayTask(sql, { resultId });
      if (outcome.sourceId === null) throw new ReproqError("not_found", `task ${resultId} not found`);
      if (outcome.newId === null) throw notReplayed(outcome);
      ui.out(hash === null
        ? `Requeued task ${outcome.sourceId} as new result_id ${outcome.newId}`
        : `Requeued task ${outcome.sourceId} (spec_hash ${hash}) as new result_id ${outcome.newId}`);
      return 0;
    } finally {
      await closeDb(sql);
    }
  },
});
