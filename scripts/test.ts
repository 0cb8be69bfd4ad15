// The test runner behind `bun run test` and `bun run test:chaos` (after scripts/test-setup.ts, the
// type check and the build). Usage: bun run scripts/test.ts [--chaos] [bun test arguments...]
//
// - The PostgreSQL for the tests: REPROQ_TEST_DSN or DATABASE_URL when set; otherwise this script
//   starts one embedded server before any test file runs (so no test hook pays for initdb), keeps
//   its log in a file, hands it to the test processes as REPROQ_TEST_DSN and stops it at the end.
// - The template databases (tests/helpers/db.ts) are made once here, before the test files run.
// - Default run: every test file except tests/chaos/ (the slow fault tests); --chaos: only those.
// - Files run two (up to four) at a time; REPROQ_TEST_PARALLEL=1 runs them one by one.
// - Exits with bun test's status.
import { appendFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { prepareTemplates, startEmbeddedServer, stopTestServer, type EmbeddedServerHandle } from "../tests/helpers/db.ts";

const CHAOS_DIR = "tests/chaos";
/**
 * Test files run in this many processes at once (`bun test --parallel`): most of the suite waits
 * on subprocesses, timers and the database, so two at a time halve the wall time on two cores.
 * REPROQ_TEST_PARALLEL=1 runs one file at a time; `--parallel=N` in the arguments wins.
 */
const PARALLEL = Number(process.env.REPROQ_TEST_PARALLEL ?? Math.min(4, Math.max(2, navigator.hardwareConcurrency)));
/** Per-test timeout (ms) unless the arguments give one; slow files raise their own. */
const DEFAULT_TIMEOUT_MS = 60_000;

const argv = Bun.argv.slice(2);
const chaos = argv.includes("--chaos");
const passThrough = argv.filter((arg) => arg !== "--chaos");

async function main(): Promise<number> {
  let embedded: EmbeddedServerHandle | undefined;
  const env: Record<string, string | undefined> = { ...process.env };
  if (!process.env.REPROQ_TEST_DSN && !process.env.DATABASE_URL) {
    const logFile = join(mkdtempSync(join(tmpdir(), "reproq-test-pg-log-")), "postgres.log");
    const started = performance.now();
    embedded = await startEmbeddedServer({ onLog: (text) => appendFileSync(logFile, text) });
    console.log(`test run: embedded PostgreSQL started in ${((performance.now() - started) / 1000).toFixed(1)} s (log: ${logFile})`);
    env.REPROQ_TEST_DSN = embedded.dsn;
    process.env.REPROQ_TEST_DSN = embedded.dsn; // for prepareTemplates below
  }
  const stopServer = async () => {
    await stopTestServer();
    await embedded?.stop();
    embedded = undefined;
  };
  try {
    const started = performance.now();
    await prepareTemplates();
    console.log(`test run: template databases ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    await stopTestServer(); // closes this process's admin pool; the test processes open their own

    const args = ["test"];
    if (!passThrough.some((arg) => arg.startsWith("--timeout"))) args.push(`--timeout=${DEFAULT_TIMEOUT_MS}`);
    if (!passThrough.some((arg) => arg.startsWith("--parallel")) && PARALLEL > 1) args.push(`--parallel=${PARALLEL}`);
    const paths = passThrough.filter((arg) => !arg.startsWith("-") && (arg.includes("/") || /\.[cm]?[jt]sx?$/.test(arg)));
    if (chaos && paths.length === 0) args.push("--pass-with-no-tests", CHAOS_DIR);
    if (!chaos && paths.length === 0) args.push(`--path-ignore-patterns=${CHAOS_DIR}/**`);
    args.push(...passThrough);
    const child = Bun.spawn([process.execPath, ...args], { env, stdio: ["inherit", "inherit", "inherit"] });
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    process.on("SIGINT", forward("SIGINT"));
    process.on("SIGTERM", forward("SIGTERM"));
    return await child.exited;
  } finally {
    await stopServer();
  }
}

process.exit(await main());
