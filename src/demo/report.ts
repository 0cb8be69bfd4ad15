// What the demo prints: the live status line and the final summary.
import type { DemoProgress } from "../queue/demo.ts";

const ORDER = ["SUCCESSFUL", "FAILED", "CANCELLED", "RUNNING", "READY", "WAITING"];

function count(progress: DemoProgress, status: string): number {
  return progress.counts[status] ?? 0;
}

function bar(done: number, total: number, width = 24): string {
  const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0;
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
}

/** `[#####---] 212/351  ok 200 · failed 1 · running 8 · ready 120 · waiting 8 · 3.1s` */
export function formatStatusLine(progress: DemoProgress, expected: number, seconds: number): string {
  const done = count(progress, "SUCCESSFUL") + count(progress, "FAILED") + count(progress, "CANCELLED");
  return [
    `${bar(done, expected)} ${done}/${expected}`,
    ` ok ${count(progress, "SUCCESSFUL")} · failed ${count(progress, "FAILED")} · running ${count(progress, "RUNNING")}`,
    ` · ready ${count(progress, "READY")} · waiting ${count(progress, "WAITING")} · ${seconds.toFixed(1)}s`,
  ].join("");
}

function ms(value: number | null): string {
  return value === null ? "–" : `${value.toFixed(1)} ms`;
}

/** The summary block: counts by status, throughput, latency, what to try next. */
export function formatSummary(
  summary: { progress: DemoProgress; completed: boolean; elapsedSeconds: number },
  expected: number,
): string[] {
  const { progress } = summary;
  const total = Object.values(progress.counts).reduce((a, b) => a + b, 0);
  const finished = count(progress, "SUCCESSFUL") + count(progress, "FAILED") + count(progress, "CANCELLED");
  const statuses = [...ORDER, ...Object.keys(progress.counts).filter((s) => !ORDER.includes(s))].filter((s) => count(progress, s) > 0);
  const width = Math.max(...statuses.map((s) => s.length), 6);
  const busy = progress.busySeconds > 0 ? progress.busySeconds : summary.elapsedSeconds;
  const lines = [
    "",
    summary.completed ? `reproq demo: all ${total} tasks finished` : `reproq demo: stopped with ${total - finished} of ${Math.max(total, expected)} tasks unfinished`,
    "",
    "  tasks by status",
    ...statuses.map((status) => `    ${status.padEnd(width)}  ${String(count(progress, status)).padStart(5)}`),
    "",
    `  throughput   ${(finished / Math.max(busy, 0.001)).toFixed(1)} tasks/s (${finished} finished in ${busy.toFixed(1)} s, retries and delays included)`,
    `  queue wait   p50 ${ms(progress.startLatencyP50Ms)}, p99 ${ms(progress.startLatencyP99Ms)} (enqueue or run_after → start; a backlog waits its turn)`,
    "",
    "  next: reproq triage list / triage summary (the failed tasks), reproq queue ls, docs/typescript-tasks.md",
    "",
  ];
  return lines;
}
