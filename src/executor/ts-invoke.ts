// Calling a TypeScript/JavaScript task function and turning what happened into a result
// envelope. Shared by the bun kind (inside `reproq exec`) and the bun-inprocess kind, so a task
// behaves the same under both: `fn(args, kwargs, ctx)`, any JSON-serialisable return value (or
// a Promise of one); a throw or rejection becomes ok:false with the error's class, message, stack.
import type { Envelope } from "./types.ts";

/** The third argument every task function receives. */
export interface TaskContext {
  /** task_runs.result_id as a decimal string. */
  readonly resultId: string;
  /** 1-based attempt number. */
  readonly attempt: number;
  /** The spec's queue_name. */
  readonly queue: string;
  readonly taskPath: string;
  /** Aborted on timeout, cancel, lost lease or worker shutdown: stop work and return/throw. */
  readonly signal: AbortSignal;
}

export type TaskFunction = (args: unknown[], kwargs: Record<string, unknown>, ctx: TaskContext) => unknown;

export interface TaskCall {
  args: unknown[];
  kwargs: Record<string, unknown>;
  queue: string;
  /** spec_json.task_path ("" when absent). */
  taskPath: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** args, kwargs and queue from the payload (spec_json text), or why it is not a spec. */
export function parseTaskPayload(payload: string): TaskCall | { error: string } {
  let spec: unknown;
  try {
    spec = JSON.parse(payload);
  } catch (error) {
    return { error: `payload is not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  return taskCallOf(spec);
}

/** args, kwargs and queue from an already parsed spec, or why it is not a spec. */
export function taskCallOf(spec: unknown): TaskCall | { error: string } {
  if (!isRecord(spec)) return { error: "payload is not a JSON object" };
  const args = spec.args ?? [];
  const kwargs = spec.kwargs ?? {};
  if (!Array.isArray(args)) return { error: "payload args is not an array" };
  if (!isRecord(kwargs)) return { error: "payload kwargs is not an object" };
  return {
    args,
    kwargs,
    queue: typeof spec.queue_name === "string" && spec.queue_name !== "" ? spec.queue_name : "default",
    taskPath: typeof spec.task_path === "string" ? spec.task_path : "",
  };
}

/** An ok:false envelope. */
export function failureEnvelope(exceptionClass: string, message: string, traceback = ""): Envelope {
  return { ok: false, returnJson: null, exceptionClass, message, traceback };
}

/** The class name of a thrown value: a subclass's own name even when it left `name` as "Error". */
export function errorClassOf(error: unknown): string {
  if (typeof error === "object" && error !== null) {
    const name = (error as { name?: unknown }).name;
    const ctor = (error as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === "string" && name !== "" && name !== "Error") return name;
    if (typeof ctor === "string" && ctor !== "" && ctor !== "Object") return ctor;
    if (typeof name === "string" && name !== "") return name;
    return "Error";
  }
  return "Error";
}

/** An ok:false envelope for a thrown value; `prefix` goes before its message. */
export function envelopeFromError(error: unknown, prefix = ""): Envelope {
  const object = typeof error === "object" && error !== null ? (error as { message?: unknown; stack?: unknown }) : null;
  const text = object && typeof object.message === "string" ? object.message : object ? String(error) : `non-Error value thrown: ${String(error)}`;
  const stack = object && typeof object.stack === "string" ? object.stack : "";
  return failureEnvelope(errorClassOf(error), prefix + text, stack);
}

/** The return value as JSON text (undefined → null), or an ok:false envelope when it cannot be. */
export function serialiseReturn(value: unknown): { json: string } | { envelope: Envelope } {
  try {
    const json = JSON.stringify(value);
    return { json: json === undefined ? "null" : json };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { envelope: failureEnvelope("TypeError", `task return value is not JSON-serialisable: ${reason}`) };
  }
}

/** Runs the task to settlement (the caller races it against timeouts). Never rejects. */
export async function invokeTask(fn: TaskFunction, call: TaskCall, ctx: TaskContext): Promise<Envelope> {
  let value: unknown;
  try {
    // A synchronous throw lands in the catch just like a rejection.
    value = await fn(call.args, call.kwargs, ctx);
  } catch (error) {
    return envelopeFromError(error);
  }
  const serialised = serialiseReturn(value);
  if ("envelope" in serialised) return serialised.envelope;
  return { ok: true, returnJson: serialised.json, exceptionClass: "", message: "", traceback: "" };
}

/** The envelope as the protocol's stdout line. */
export function envelopeLine(envelope: Envelope): string {
  if (envelope.ok) return `{"ok":true,"return":${envelope.returnJson ?? "null"}}`;
  return JSON.stringify({ ok: false, exception_class: envelope.exceptionClass, message: envelope.message, traceback: envelope.traceback });
}

/** Imports a resolved module file and picks the task function, or an ok:false envelope saying why not. */
export async function loadTaskFunction(
  importModule: (file: string) => Promise<Record<string, unknown>>,
  file: string,
  modulePath: string,
  exportName: string,
): Promise<{ fn: TaskFunction } | { envelope: Envelope }> {
  let module: Record<string, unknown>;
  try {
    module = await importModule(file);
  } catch (error) {
    return { envelope: envelopeFromError(error, `cannot import task module ${modulePath} (${file}): `) };
  }
  const fn = module[exportName];
  if (typeof fn !== "function") {
    const what = fn === undefined ? "does not export" : `exports a ${typeof fn}, not a function, as`;
    return { envelope: failureEnvelope("TaskNotFoundError", `task module ${modulePath} (${file}) ${what} ${JSON.stringify(exportName)}`) };
  }
  return { fn: fn as TaskFunction };
}
