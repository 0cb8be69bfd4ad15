// Checks that involve more than one setting. Each runs only when all its settings parsed, so a
// bad value is reported once (by its own check) rather than again here.

import { showValue, type SettingValue } from "./kinds.ts";
import type { Candidate, Problem } from "./resolve.ts";

interface RuleContext {
  num(key: string): number;
  list(key: string): readonly string[];
  text(key: string): string;
  /** `<value> <phrase>`, e.g. `50ms (from reproq.yaml)`. */
  got(key: string): string;
  /** The value as given, e.g. `2s`. */
  shown(key: string): string;
  /** `(from --flag)`, `(from ENV)`, `(from <file>)` or `(default)`. */
  phrase(key: string): string;
}

interface Rule {
  readonly keys: readonly string[];
  /** Returns the problem text, or null when the settings agree. */
  readonly check: (c: RuleContext) => string | null;
}

/** What retention may delete (queue/prune.ts refuses anything else too). */
const FINISHED_STATUSES = ["SUCCESSFUL", "FAILED", "CANCELLED"];

const RULES: readonly Rule[] = [
  {
    keys: ["retention.statuses"],
    check: (c) => {
      const statuses = c.list("retention.statuses");
      if (statuses.length > 0 && statuses.every((s) => FINISHED_STATUSES.includes(s.toUpperCase()))) return null;
      return `retention.statuses may only name ${FINISHED_STATUSES.join(", ")} (READY, RUNNING and WAITING rows are never pruned), got ${c.got("retention.statuses")}`;
    },
  },
  {
    keys: ["worker.poll_max_backoff", "worker.poll_min_backoff"],
    check: (c) =>
      c.num("worker.poll_max_backoff") >= c.num("worker.poll_min_backoff")
        ? null
        : `worker.poll_max_backoff must be ≥ worker.poll_min_backoff (${c.shown("worker.poll_min_backoff")}), got ${c.got("worker.poll_max_backoff")}`,
  },
  {
    keys: ["worker.heartbeat_seconds", "worker.lease_seconds", "worker.exec_timeout"],
    check: (c) => {
      const heartbeat = c.num("worker.heartbeat_seconds");
      const lease = c.num("worker.lease_seconds");
      if (heartbeat > 0) {
        return heartbeat < lease
          ? null
          : `worker.heartbeat_seconds must be < worker.lease_seconds (${c.shown("worker.lease_seconds")}), got ${c.got("worker.heartbeat_seconds")}`;
      }
      if (lease * 1000 > c.num("worker.exec_timeout")) return null;
      return (
        `worker.heartbeat_seconds may be 0 (no lease renewal) only when worker.lease_seconds ` +
        `(${c.shown("worker.lease_seconds")}) outlasts worker.exec_timeout (${c.shown("worker.exec_timeout")}), ` +
        `otherwise a long task loses its lease while still running; got ${c.got("worker.heartbeat_seconds")}`
      );
    },
  },
  {
    keys: ["worker.retry_max_seconds", "worker.retry_base_seconds"],
    check: (c) =>
      c.num("worker.retry_max_seconds") >= c.num("worker.retry_base_seconds")
        ? null
        : `worker.retry_max_seconds must be ≥ worker.retry_base_seconds (${c.shown("worker.retry_base_seconds")}), got ${c.got("worker.retry_max_seconds")}`,
  },
  {
    keys: ["metrics.tls_cert", "metrics.tls_key"],
    check: (c) => {
      const cert = c.text("metrics.tls_cert");
      const key = c.text("metrics.tls_key");
      if ((cert === "") === (key === "")) return null;
      const [given, missing] = cert === "" ? ["metrics.tls_key", "metrics.tls_cert"] : ["metrics.tls_cert", "metrics.tls_key"];
      return `metrics.tls_cert and metrics.tls_key must be set together, got ${given} ${c.phrase(given)} but no ${missing}`;
    },
  },
  {
    keys: ["metrics.tls_client_ca", "metrics.tls_cert"],
    check: (c) =>
      c.text("metrics.tls_client_ca") === "" || c.text("metrics.tls_cert") !== ""
        ? null
        : `metrics.tls_client_ca needs metrics.tls_cert and metrics.tls_key (mTLS runs over TLS), got only metrics.tls_client_ca ${c.phrase("metrics.tls_client_ca")}`,
  },
  {
    keys: ["worker.executor_command", "worker.executor"],
    check: (c) =>
      c.text("worker.executor") !== "command" || c.list("worker.executor_command").length > 0
        ? null
        : `worker.executor_command must name the program to run when worker.executor is "command" ${c.phrase("worker.executor")}`,
  },
];

/** Runs every rule whose settings all parsed; the caller filters the problems by scope. */
export function checkRules(
  values: ReadonlyMap<string, SettingValue>,
  candidates: ReadonlyMap<string, Candidate>,
): Problem[] {
  const read = (key: string): SettingValue => {
    const value = values.get(key);
    if (value === undefined) throw new Error(`rule reads unknown setting ${key}`); // registry/rule mismatch
    return value;
  };
  const context: RuleContext = {
    num: (key) => Number(read(key)),
    list: (key) => read(key) as readonly string[], // list settings always hold string arrays
    text: (key) => String(read(key)),
    shown: (key) => showValue(candidates.get(key)?.raw, true),
    phrase: (key) => candidates.get(key)?.phrase ?? "(default)",
    got: (key) => `${context.shown(key)} ${context.phrase(key)}`,
  };
  const problems: Problem[] = [];
  for (const rule of RULES) {
    if (!rule.keys.every((key) => candidates.has(key))) continue;
    const message = rule.check(context);
    if (message !== null) problems.push({ key: rule.keys[0] ?? "", message });
  }
  return problems;
}
