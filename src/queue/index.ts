// Every statement on the reproq tables, grouped by table family. Import from here.
export * from "./types.ts";
export * from "./claim.ts";
export * from "./complete.ts";
export * from "./lease.ts";
export * from "./registry.ts";
export * from "./workflows.ts";
export * from "./enqueue.ts";
export * from "./triage.ts";
export * from "./replay.ts";
export * from "./cancel.ts";
export * from "./limits.ts";
export * from "./controls.ts";
export * from "./prune.ts";
export * from "./periodic.ts";
export * from "./stats.ts";
export * from "./dashboard.ts";
export { summarizeLastError } from "./text.ts";
export * from "./rescue.ts";
