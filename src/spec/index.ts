// Task specs and their hashes, shared by `reproq enqueue` and beat.
export * from "./canonical.ts";
export * from "./build.ts";
export * from "./contract.ts";
