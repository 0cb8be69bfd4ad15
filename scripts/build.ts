// bun run build → dist/reproq: one self-contained executable for this machine (no Bun needed to
// run it). `--release` bakes in the release channel (refuses payload_mode inline, SPEC §5);
// `--target bun-linux-arm64` and `--outfile` cross-compile. scripts/build-release.ts imports
// compile() for the five release assets, so both builds use the same flags.
import { join } from "node:path";
import { parseArgs } from "node:util";

export const ROOT = join(import.meta.dir, "..");

export interface CompileOptions {
  /** Bake in the release channel (`REPROQ_BUILD_CHANNEL = "release"`). */
  release: boolean;
  /** A Bun compile target such as `bun-linux-arm64`; omitted: this machine. */
  target?: string;
  outfile: string;
}

/** The `bun build --compile` command line for one executable. */
export function compileCommand(options: CompileOptions): string[] {
  const channel = options.release ? "release" : "dev";
  return [
    // --splitting keeps lazily imported commands (and the Node built-ins their libraries load) out
    // of start-up: `reproq --version` runs in ~15 ms instead of ~55 ms.
    process.execPath, "build", "--compile", "--minify", "--splitting", "--sourcemap=none",
    `--define=REPROQ_BUILD_CHANNEL=${JSON.stringify(channel)}`,
    // Ink loads React DevTools only when DEV=true and the package is installed; it is not a
    // dependency, so leave the import unresolved instead of failing the bundle.
    "--external=react-devtools-core",
    ...(options.target ? [`--target=${options.target}`] : []),
    "src/main.ts", "--outfile", options.outfile,
  ];
}

/**
 * Compiles one executable and returns bun build's exit code. Its output is shown, or with `quiet`
 * kept back and printed (to stderr) only when the build fails.
 */
export async function compile(options: CompileOptions, quiet = false): Promise<number> {
  const output = quiet ? "pipe" : "inherit";
  const build = Bun.spawn(compileCommand(options), { stdout: output, stderr: output, cwd: ROOT });
  if (!quiet) return await build.exited;
  const [stdout, stderr, exitCode] = await Promise.all([new Response(build.stdout).text(), new Response(build.stderr).text(), build.exited]);
  if (exitCode !== 0) process.stderr.write(stdout + stderr);
  return exitCode;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      release: { type: "boolean", default: false },
      target: { type: "string" },
      outfile: { type: "string", default: "dist/reproq" },
    },
  });
  const channel = values.release ? "release" : "dev";
  const started = performance.now();
  const exitCode = await compile({ release: values.release, target: values.target, outfile: values.outfile });
  if (exitCode !== 0) {
    console.error(`build failed (exit ${exitCode})`);
    process.exit(1);
  }
  console.log(`built ${values.outfile} (${channel}) in ${Math.round(performance.now() - started)} ms`);
}
