// Every statement on the reproq tables, grouped by table family. Import from here.
export * from "./types.ts";
export * from "./claim.ts";
export * from "./complete.ts";
export * from "./lease.ts";
export * from "./registry.ts";
export * from "./workflows.ts";
export { summarizeLastError } from "./text.ts";
