// Writes docs/cli.md from the citty command definitions (bun run docs).
import { join } from "node:path";
import { rootCommand } from "../src/cli/root.ts";
import { renderCliReference } from "../src/cli/usage.ts";

const target = join(import.meta.dir, "..", "docs", "cli.md");
await Bun.write(target, await renderCliReference(rootCommand));
console.log(`wrote ${target}`);
