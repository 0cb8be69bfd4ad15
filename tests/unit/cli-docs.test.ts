import { expect, test } from "bun:test";
import { join } from "node:path";
import { rootCommand } from "../../src/cli/root.ts";
import { renderCliReference } from "../../src/cli/usage.ts";

test("docs/cli.md matches the command definitions (run `bun run docs` after changing a command)", async () => {
  const committed = await Bun.file(join(import.meta.dir, "..", "..", "docs", "cli.md")).text();
  expect(committed).toBe(await renderCliReference(rootCommand));
});
