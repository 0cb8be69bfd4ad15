// reproq exec (hidden): the child side of the bun executor kind. The worker runs
// `reproq exec --tasks-dir D --task-path P --result-id N --attempt N --payload-stdin|-file|-json`;
// this runs the task and prints the result envelope as the last line of stdout (SPEC §5).
// It reads no configuration and never touches the database.
import { defineCommand } from "citty";
import { execOutput, runExecChild, type ExecPayloadSource } from "../executor/bun-exec.ts"; // not the barrel: the child starts per task
import { UsageError } from "../errors.ts";

export default defineCommand({
  meta: { name: "exec", description: "Run one TypeScript task (the bun executor's child process)", hidden: true },
  args: {
    "tasks-dir": { type: "string", description: "Directory of task modules", required: true },
    "task-path": { type: "string", description: "module.path.function", required: true },
    "result-id": { type: "string", description: "task_runs.result_id", default: "0" },
    attempt: { type: "string", description: "Attempt number", default: "1" },
    "payload-stdin": { type: "boolean", description: "Read the payload from stdin" },
    "payload-file": { type: "string", description: "Read the payload from this file" },
    "payload-json": { type: "string", description: "The payload itself" },
  },
  async run({ args }) {
    const sources: ExecPayloadSource[] = [];
    if (args["payload-stdin"]) sources.push({ kind: "stdin" });
    if (typeof args["payload-file"] === "string") sources.push({ kind: "file", path: args["payload-file"] });
    if (typeof args["payload-json"] === "string") sources.push({ kind: "json", text: args["payload-json"] });
    const payload = sources[0];
    if (sources.length !== 1 || !payload) throw new UsageError("exactly one of --payload-stdin, --payload-file, --payload-json is required");
    const attempt = Number.parseInt(args.attempt, 10);
    // A referenced timer keeps the event loop non-empty: while the task awaits a promise that
    // never settles and nothing else is pending, Bun would otherwise busy-spin a CPU core.
    const keepAlive = setInterval(() => {}, 2 ** 30);
    let envelope: Awaited<ReturnType<typeof runExecChild>>;
    try {
      envelope = await runExecChild({
        tasksDir: args["tasks-dir"],
        taskPath: args["task-path"],
        resultId: args["result-id"],
        attempt: Number.isSafeInteger(attempt) ? attempt : 1,
        payload,
      });
    } finally {
      clearInterval(keepAlive);
    }
    await Bun.write(Bun.stdout, execOutput(envelope));
    // Exit now: timers or sockets the task left open must not keep the child (and its slot) alive.
    process.exit(envelope.ok ? 0 : 1);
  },
});
