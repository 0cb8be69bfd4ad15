// The spec of one periodic run (SPEC §6): the Go worker's key set, hashed with the canonical JSON
// of SPEC §8 (sorted keys, Python-compatible), not Go's struct-order/HTML-escaped bytes
// (go-worker-contract §6.4): SPEC decided canonical, so a periodic hash is comparable with every
// other hash reproq and Django compute. Consequence: the same slot hashes differently under the Go
// beat, so do not run a Go beat and this beat against one database at the same time.
// spec_json is stored from the same canonical text, so the stored document re-canonicalises to
// spec_hash.
import { canonicalJson, sha256Hex } from "../spec/canonical.ts";
import type { PeriodicPayload } from "./payload.ts";

export const PERIODIC_TIMEOUT_SECONDS = 900;
export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_QUEUE = "default";

export interface PeriodicRunInput {
  name: string;
  taskPath: string;
  queueName: string;
  priority: number;
  maxAttempts: number;
  concurrencyKey: string | null;
  concurrencyLimit: number;
  /** The slot being enqueued (the row's next_run_at). */
  scheduledAt: Date;
}

export interface PeriodicSpec {
  spec: Record<string, unknown>;
  /** Canonical JSON text of `spec` (what is stored as spec_json). */
  json: string;
  hash: string;
  queueName: string;
  maxAttempts: number;
}

/** RFC 3339 UTC with whole seconds (fraction truncated), as Go's time.RFC3339 wrote it. */
export function formatScheduledAt(at: Date): string {
  return `${at.toISOString().slice(0, 19)}Z`;
}

export function buildPeriodicSpec(row: PeriodicRunInput, payload: PeriodicPayload): PeriodicSpec {
  const queueName = row.queueName.trim() === "" ? DEFAULT_QUEUE : row.queueName;
  const maxAttempts = row.maxAttempts > 0 ? row.maxAttempts : DEFAULT_MAX_ATTEMPTS;
  const spec = {
    task_path: row.taskPath,
    args: payload.args,
    kwargs: payload.kwargs,
    queue_name: queueName,
    priority: row.priority,
    concurrency_key: row.concurrencyKey,
    concurrency_limit: row.concurrencyLimit,
    periodic_name: row.name,
    scheduled_at: formatScheduledAt(row.scheduledAt),
    exec: { timeout_seconds: PERIODIC_TIMEOUT_SECONDS, max_attempts: maxAttempts },
  };
  const json = canonicalJson(spec);
  return { spec, json, hash: sha256Hex(json), queueName, maxAttempts };
}
