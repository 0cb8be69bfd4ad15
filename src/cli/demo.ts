// reproq demo: see reproq work in one command, with no Django and no database set up. Starts (or
// finds) a PostgreSQL, migrates a scratch database, enqueues a mix of demo TypeScript tasks, runs
// a worker and beat in this process with a live status line, prints a summary, cleans up.
// `--top` opens the dashboard on it when this build has `reproq top`.
import { isatty } from "node:tty";
import { defineCommand, runCommand } from "citty";
import type { DemoExecutor, DemoIo } from "../demo/run.ts";
import { UsageError } from "../errors.ts";
import { rootCommand } from "./root.ts";
import { resolveCommand } from "./tree.ts";
import { uiOf, type Ui } from "./ui.ts";

const STATUS_EVERY_MS = 2_000;

function demoIo(ui: Ui): DemoIo {
  let open = false;
  let lastPlain = 0;
  return {
    info: (message) => ui.info(message),
    success: (message) => ui.success(message),
    warn: (message) => ui.warn(message),
    out: (line) => ui.out(line),
    status(line) {
      if (ui.stderrIsTty) {
        process.stderr.write(`\r\u001B[K${line}`);
        open = true;
      } else if (performance.now() - lastPlain >= STATUS_EVERY_MS) {
        lastPlain = performance.now();
        console.error(line);
      }
    },
    statusDone() {
      if (open) process.stderr.write("\n");
      open = false;
    },
  };
}

/** The dashboard, when this build has a `top` command; null otherwise. */
async function topRunner(ui: Ui): Promise<((dsn: string) => Promise<void>) | null> {
  const top = await resolveCommand(rootCommand, "top");
  if (!top) return null;
  return async (dsn) => {
    await runCommand(top, { rawArgs: ["--dsn", dsn], data: { ui } });
  };
}

export default defineCommand({
  meta: { name: "demo", description: "Run a demo: embedded or scratch PostgreSQL, demo TypeScript tasks, worker and beat, then a summary" },
  args: {
    dsn: { type: "string", valueHint: "url", description: "Server to create the scratch database on (default DATABASE_URL; none: embedded PostgreSQL from a checkout, else a local server)" },
    keep: { type: "boolean", description: "Keep the demo database (and its directory) for inspection" },
    top: { type: "boolean", description: "Open reproq top on the demo while it runs" },
    executor: { type: "enum", options: ["bun", "bun-inprocess"], default: "bun", description: "Executor kind for the demo tasks (default bun)" },
    concurrency: { type: "string", valueHint: "n", default: "8", description: "Worker concurrency (default 8)" },
  },
  async run(context) {
    const ui = uiOf(context);
    const { args } = context;
    const concurrency = Number(args.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency must be an integer ≥ 1, got ${args.concurrency}`);
    const executor = args.executor as DemoExecutor;
    let openTop = null;
    if (args.top && !(isatty(0) && isatty(1))) {
      ui.warn("--top needs a terminal (stdin and stdout must be a TTY); running the demo without the dashboard");
    } else if (args.top) {
      openTop = await topRunner(ui);
      if (!openTop) ui.warn("the dashboard (reproq top) is not part of this build yet; running the demo without it");
    }
    const interrupted = new AbortController();
    const onSignal = (): void => interrupted.abort();
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
      const { runDemo } = await import("../demo/run.ts"); // heavy (worker, beat): only when run
      const summary = await runDemo({
        dsn: args.dsn ?? process.env.DATABASE_URL ?? "",
        keep: Boolean(args.keep),
        executor,
        concurrency,
        env: process.env,
        io: demoIo(ui),
        openTop,
        signal: interrupted.signal,
      });
      const code = summary.completed ? 0 : 1;
      if (!summary.completed) ui.warn(interrupted.signal.aborted ? "demo interrupted" : "the demo's tasks did not all finish in time");
      // Everything is stopped and closed; a stray driver timer must not hold the process open.
      setTimeout(() => process.exit(code), 3_000).unref();
      return code;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  },
});
