// How to start this program again (the bun kind runs `reproq exec` in a child). In the compiled
// binary, process.execPath is reproq itself; from a checkout (`bun run src/main.ts`, `bun test`)
// it is bun, which then needs the entry file. Bun puts a compiled binary's own sources under
// /$bunfs/ (B:/~BUN/ on Windows), which tells the two apart.
import { join } from "node:path";

/** Whether this code runs inside a `bun build --compile` executable. */
export function isCompiledBinary(path: string = import.meta.path): boolean {
  return path.startsWith("/$bunfs/") || /^[A-Za-z]:[\\/]~BUN[\\/]/.test(path);
}

/** argv that starts reproq: [binary] when compiled, else [bun, <checkout>/src/main.ts]. */
export function selfCommand(): string[] {
  return isCompiledBinary() ? [process.execPath] : [process.execPath, join(import.meta.dir, "..", "main.ts")];
}
