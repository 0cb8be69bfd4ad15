// The result journal: outcomes a stopping worker could not write (database unreachable) are
// appended to `<journal_dir>/reproq-journal-<worker_id>.jsonl` (mode 0600, fsynced), and the next
// worker started on that directory writes them before its first claim, with the same fence as a
// normal completion (leased_by = the journalling worker AND status = RUNNING AND attempts = the
// run's attempt). A row reclaimed or rescued meanwhile fails the fence and is skipped, so a late
// replay never overwrites a newer run. Entries hold what the row would have been given (return
// JSON text, error entry, disposition), never the payload.
import { appendFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { withDbRetry } from "../db/retryable.ts";
import type { Sql } from "../db/client.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import { taskCompleteFailure, taskCompleteSuccessMany } from "../queue/index.ts";
import type { ErrorEntry, FailureCompletion, FailureDisposition, SuccessCompletion } from "../queue/types.ts";
import { OutageTracker } from "./outage.ts";

export type Unwritten = { kind: "success"; completion: SuccessCompletion } | { kind: "failure"; completion: FailureCompletion };

interface EntryBase {
  v: 1;
  result_id: string;
  worker_id: string;
  attempt: number | null;
  logs_uri: string | null;
}
type SuccessEntry = EntryBase & { kind: "success"; return_json: string | null; workflow_id: string | null | undefined };
type FailureEntry = EntryBase & { kind: "failure"; error: ErrorEntry; disposition: FailureDisposition; last_error: string };
type Entry = SuccessEntry | FailureEntry;

const PREFIX = "reproq-journal-";
const SUFFIX = ".jsonl";
/** A journal being replayed: `<journal>.jsonl.replaying-<worker id>-<random>`. */
const CLAIMED = ".replaying-";

export function journalPath(dir: string, workerId: string): string {
  return join(dir, `${PREFIX}${workerId.replace(/[^A-Za-z0-9._-]/g, "_")}${SUFFIX}`);
}

/** Appends the outcomes to this worker's journal and fsyncs it (file and directory). Returns its path. */
export function appendJournal(dir: string, workerId: string, outcomes: readonly Unwritten[]): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = journalPath(dir, workerId);
  const text = outcomes.map((o) => JSON.stringify(toEntry(o)) + "\n").join("");
  const fd = openSync(path, "a", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  syncDir(dir);
  return path;
}

function toEntry(outcome: Unwritten): Entry {
  const c = outcome.completion;
  const base: EntryBase = { v: 1, result_id: c.resultId, worker_id: c.workerId, attempt: c.attempt ?? null, logs_uri: c.logsUri };
  if (outcome.kind === "success") return { ...base, kind: "success", return_json: outcome.completion.returnJson, workflow_id: outcome.completion.workflowId };
  const f = outcome.completion;
  return { ...base, kind: "failure", error: f.error, disposition: f.disposition, last_error: f.lastError };
}

function fromEntry(value: unknown): Unwritten | null {
  if (typeof value !== "object" || value === null) return null;
  const e = value as Partial<Record<string, unknown>>;
  if (e.v !== 1 || typeof e.result_id !== "string" || !/^[0-9]+$/.test(e.result_id) || typeof e.worker_id !== "string") return null;
  const attempt = typeof e.attempt === "number" ? e.attempt : undefined;
  const logsUri = typeof e.logs_uri === "string" ? e.logs_uri : null;
  const common = { resultId: e.result_id, workerId: e.worker_id, attempt, logsUri };
  if (e.kind === "success" && (e.return_json === null || typeof e.return_json === "string")) {
    const workflowId = typeof e.workflow_id === "string" || e.workflow_id === null ? e.workflow_id : undefined;
    return { kind: "success", completion: { ...common, returnJson: e.return_json, workflowId } };
  }
  const error = e.error as ErrorEntry | undefined;
  const disposition = e.disposition as FailureDisposition | undefined;
  if (e.kind !== "failure" || typeof error?.kind !== "string" || typeof error.message !== "string") return null;
  if (!disposition || !["retry", "terminal", "requeue"].includes(disposition.type) || typeof e.last_error !== "string") return null;
  return { kind: "failure", completion: { ...common, error, disposition, lastError: e.last_error } };
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not every filesystem lets a directory be fsynced; the file itself is.
  }
}

export interface ReplayOptions {
  sql: Sql;
  logger: Logger;
  dir: string;
  /** This worker's id: names the claimed file while it is replayed. */
  workerId: string;
  /** Shutdown: stop retrying; the journal is put back for the next start. */
  signal: AbortSignal;
}

/**
 * Writes every journal in `dir` (fenced), then deletes it. A journal is claimed by renaming it, so
 * two workers starting together never replay the same file. A file left claimed by a replay that
 * died (`….jsonl.replaying-<id>-<random>`) is taken over the same way: replaying a journal twice is harmless,
 * since every write is fenced on the row still being RUNNING under that attempt. Retries through
 * outages until `signal`; then the file is put back. Lines that cannot be read are kept in
 * `<file>.invalid`.
 */
export async function replayJournals(options: ReplayOptions): Promise<void> {
  const { dir, logger } = options;
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.startsWith(PREFIX) && (name.endsWith(SUFFIX) || name.includes(`${SUFFIX}${CLAIMED}`)));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") logger.error("Cannot read the result journal directory", { journal_dir: dir, error: errorMessage(error) });
    return;
  }
  for (const name of names) {
    const base = name.slice(0, name.indexOf(SUFFIX) + SUFFIX.length);
    const path = join(dir, base);
    const found = join(dir, name);
    // A name of its own for every claim: renaming onto another claimed file would replace it.
    const claimed = `${path}${CLAIMED}${options.workerId.replace(/[^A-Za-z0-9._-]/g, "_")}-${crypto.randomUUID().slice(0, 8)}`;
    try {
      renameSync(found, claimed);
    } catch {
      continue; // another worker took it
    }
    try {
      await replayFile(options, base, claimed);
      unlinkSync(claimed);
      syncDir(dir);
    } catch (error) {
      putBack(claimed, path);
      logger.error("Result journal not replayed; it stays for the next start", { file: path, error: errorMessage(error) });
    }
  }
}

/** Returns a claimed journal to its name; appends when a new journal of that name appeared meanwhile. */
function putBack(claimed: string, path: string): void {
  try {
    if (existsSync(path)) {
      appendFileSync(path, readFileSync(claimed));
      unlinkSync(claimed);
    } else {
      renameSync(claimed, path);
    }
  } catch {
    // taken over by another worker meanwhile: it replays the file
  }
}

async function replayFile(options: ReplayOptions, name: string, path: string): Promise<void> {
  const { sql, logger, signal } = options;
  const outcomes: Unwritten[] = [];
  const invalid: string[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    let outcome: Unwritten | null = null;
    try {
      outcome = fromEntry(JSON.parse(line));
    } catch {
      // counted as invalid below
    }
    if (outcome) outcomes.push(outcome);
    else invalid.push(line);
  }
  if (invalid.length > 0) {
    const kept = join(options.dir, `${name}.invalid`);
    appendRaw(kept, invalid);
    logger.error("Result journal lines that cannot be read were kept aside", { file: kept, lines: invalid.length });
  }
  const outage = new OutageTracker(logger, "Replaying the result journal");
  const retrying = <T>(write: () => Promise<T>) =>
    withDbRetry(write, { attempts: Number.POSITIVE_INFINITY, baseMs: 100, maxMs: 5_000, signal, onRetry: (e) => outage.failed(e) }).then((result) => {
      outage.succeeded();
      return result;
    });
  const skipped: string[] = [];
  const successes = outcomes.flatMap((o) => (o.kind === "success" ? [o.completion] : []));
  if (successes.length > 0) skipped.push(...(await retrying(() => taskCompleteSuccessMany(sql, successes))).fenced);
  for (const outcome of outcomes) {
    if (outcome.kind !== "failure") continue;
    if (!(await retrying(() => taskCompleteFailure(sql, outcome.completion)))) skipped.push(outcome.completion.resultId);
  }
  if (skipped.length > 0) {
    logger.warn("Result journal entries skipped: those rows were no longer RUNNING under the journalled lease (reclaimed, rescued or cancelled meanwhile)", { result_ids: skipped });
  }
  logger.info("Replayed the result journal", { file: join(options.dir, name), written: outcomes.length - skipped.length, skipped: skipped.length });
}

function appendRaw(path: string, lines: string[]): void {
  const fd = openSync(path, "a", 0o600);
  try {
    writeSync(fd, lines.map((l) => l + "\n").join(""));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
