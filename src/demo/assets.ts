// The demo task module as text, built into the binary (Bun's text import), written out into the
// demo's scratch tasks_dir at start: the compiled binary needs no checkout to run the demo.
// @ts-expect-error -- a text import of a TypeScript file: Bun gives its source, tsc expects a module
import source from "./tasks/demo.ts" with { type: "text" };

export const DEMO_TASKS_FILE = "demo.ts";
export const DEMO_TASKS_SOURCE: string = source as string;
