// Defaults that depend on the executor kind. A kind that runs a process per task, or keeps one per
// slot (python-pool), has concurrency = its process slots: the general defaults. An in-process
// kind (bun-inprocess) runs each task inside the worker, where a slot costs a promise, not a
// process: it gets more slots and bigger claims, so short tasks are not held back by the
// database round trips. Only values still at their default change; `reproq config` names the
// source "default for <kind>".
import type { SettingValue } from "./kinds.ts";

export const IN_PROCESS_DEFAULTS: Readonly<Record<string, number>> = {
  "worker.concurrency": 100,
  "worker.claim_batch_size": 200,
};

/** The resolved values and sources with the executor kind's defaults applied. */
export function withExecutorDefaults(
  values: ReadonlyMap<string, SettingValue>,
  sources: Readonly<Record<string, string>>,
): { values: ReadonlyMap<string, SettingValue>; sources: Readonly<Record<string, string>> } {
  const kind = values.get("worker.executor");
  if (kind !== "bun-inprocess") return { values, sources };
  const sized = new Map(values);
  const sizedSources = { ...sources };
  for (const [key, value] of Object.entries(IN_PROCESS_DEFAULTS)) {
    if ((sources[key] ?? "default") !== "default" || !values.has(key)) continue;
    sized.set(key, value);
    sizedSources[key] = `default for ${kind}`;
  }
  return { values: sized, sources: sizedSources };
}
