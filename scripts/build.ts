// bun run build → dist/reproq: one self-contained executable for this machine (no Bun needed to
// run it). `--release` bakes in the release channel (refuses payload_mode inline, SPEC §5);
// `--target bun-linux-arm64` and `--outfile` are used by the release script.
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    release: { type: "boolean", default: false },
    target: { type: "string" },
    outfile: { type: "string", default: "dist/reproq" },
  },
});

const channel = values.release ? "release" : "dev";
const command = [
  // --splitting keeps lazily imported commands (and the Node built-ins their libraries load) out
  // of start-up: `reproq --version` runs in ~15 ms instead of ~55 ms.
  process.execPath, "build", "--compile", "--minify", "--splitting", "--sourcemap=none",
  `--define=REPROQ_BUILD_CHANNEL=${JSON.stringify(channel)}`,
  ...(values.target ? [`--target=${values.target}`] : []),
  "src/main.ts", "--outfile", values.outfile,
];
const started = performance.now();
const build = Bun.spawnSync(command, { stdout: "inherit", stderr: "inherit", cwd: `${import.meta.dir}/..` });
if (build.exitCode !== 0) {
  console.error(`build failed (exit ${build.exitCode})`);
  process.exit(1);
}
console.log(`built ${values.outfile} (${channel}) in ${Math.round(performance.now() - started)} ms`);
