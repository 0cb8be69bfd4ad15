// The bun kind, child side (`reproq exec`, hidden): read the payload, resolve and import the task
// module, call the task with (args, kwargs, ctx) and print the result envelope as the last line of
// stdout. SIGTERM (timeout, cancel, shutdown: the worker signals the process group) aborts
// ctx.signal; a task that then settles still gets its envelope printed, one that ignores the
// signal is SIGKILLed by the worker after the kill grace.
import { readFile } from "node:fs/promises";
import { envelopeFromError, envelopeLine, failureEnvelope, invokeTask, loadTaskFunction, parseTaskPayload, type TaskContext } from "./ts-invoke.ts";
import { resolveTaskModule } from "./ts-module.ts";
import type { Envelope } from "./types.ts";

export type ExecPayloadSource = { kind: "stdin" } | { kind: "file"; path: string } | { kind: "json"; text: string };

export interface ExecChildOptions {
  tasksDir: string;
  taskPath: string;
  resultId: string;
  attempt: number;
  payload: ExecPayloadSource;
}

async function readPayload(source: ExecPayloadSource): Promise<string> {
  switch (source.kind) {
    case "stdin":
      return await new Response(Bun.stdin.stream()).text();
    case "file":
      return await readFile(source.path, "utf8");
    case "json":
      return source.text;
  }
}

/** Runs one task and returns its envelope (never throws). */
export async function runExecChild(options: ExecChildOptions): Promise<Envelope> {
  let payload: string;
  try {
    payload = await readPayload(options.payload);
  } catch (error) {
    return envelopeFromError(error, "cannot read the payload: ");
  }
  const call = parseTaskPayload(payload);
  if ("error" in call) return failureEnvelope("PayloadError", call.error);
  const resolved = resolveTaskModule(options.tasksDir, options.taskPath);
  if (!resolved.ok) return failureEnvelope(resolved.kind === "security_violation" ? "SecurityViolation" : "TaskNotFoundError", resolved.message);
  const loaded = await loadTaskFunction((file) => import(file), resolved.file, resolved.modulePath, resolved.exportName);
  if ("envelope" in loaded) return loaded.envelope;

  const controller = new AbortController();
  const onTerm = (): void => controller.abort(new Error("terminated by the worker (SIGTERM: timeout, cancel or shutdown)"));
  process.on("SIGTERM", onTerm);
  const ctx: TaskContext = Object.freeze({
    resultId: options.resultId,
    attempt: options.attempt,
    queue: call.queue,
    taskPath: options.taskPath,
    signal: controller.signal,
  });
  try {
    return await invokeTask(loaded.fn, call, ctx);
  } finally {
    process.off("SIGTERM", onTerm);
  }
}

/** The envelope line as written to stdout (a leading newline ends any unterminated task output). */
export function execOutput(envelope: Envelope): string {
  return `\n${envelopeLine(envelope)}\n`;
}
