// bun run bench:startup — start-up time of the compiled binary (SPEC §10: `reproq --version`
// ≤ 20 ms). Runs each command N times (default 50) after warm-up and prints mean / p50 / p95.
import { join } from "node:path";
import { percentile } from "./common.ts";

const binary = join(import.meta.dir, "..", "..", "dist", "reproq");
const runs = Number(Bun.argv[2] ?? 50);
const commands = [["--version"], ["--help"], ["config", "--for", "db"]];

if (!(await Bun.file(binary).exists())) {
  console.error(`${binary} is missing; run 'bun run build' first`);
  process.exit(1);
}
console.log(`reproq start-up, ${runs} runs each (${binary})`);
for (const args of commands) {
  const times: number[] = [];
  for (let i = 0; i < runs + 5; i++) {
    const started = performance.now();
    const child = Bun.spawnSync([binary, ...args], { stdout: "ignore", stderr: "ignore", env: { PATH: process.env.PATH ?? "" } });
    if (child.exitCode !== 0) throw new Error(`reproq ${args.join(" ")} exited ${child.exitCode}`);
    if (i >= 5) times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((sum, t) => sum + t, 0) / times.length;
  console.log(`  reproq ${args.join(" ").padEnd(18)} mean ${mean.toFixed(1)} ms  p50 ${percentile(times, 50).toFixed(1)} ms  p95 ${percentile(times, 95).toFixed(1)} ms`);
}
