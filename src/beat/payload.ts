// periodic_tasks.payload_json → (args, kwargs), the Go worker's rules (go-worker-contract §6.3):
//  1. empty → [], {}
//  2. an object with an `args` and/or `kwargs` key is the envelope Django writes: args must be an
//     array, kwargs an object; a missing part is []/{}; other keys are dropped
//  3. an array is the args (legacy rows), kwargs {}
//  4. any other object is the kwargs, args []
//  5. anything else (string, number, bool) is an error
// Deliberate difference: Go kept a JSON `null` (top level, or `args`/`kwargs: null`) as null,
// which Python then fails on (`*None`); we read null as the empty list/object.
// Numbers keep Python's int/float distinction and big integers (parseJsonPreservingNumbers), so
// the spec we store and hash carries the payload as Django wrote it.
import { parseJsonPreservingNumbers, PyFloat } from "../spec/canonical.ts";

export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PayloadError";
  }
}

export interface PeriodicPayload {
  args: unknown[];
  kwargs: Record<string, unknown>;
}

/** `raw` is payload_json as text (or already-parsed JSON); throws PayloadError. */
export function parsePeriodicPayload(raw: string): PeriodicPayload {
  if (raw.trim() === "") return { args: [], kwargs: {} };
  let value: unknown;
  try {
    value = parseJsonPreservingNumbers(raw);
  } catch (error) {
    throw new PayloadError(`invalid payload JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (value === null) return { args: [], kwargs: {} };
  if (Array.isArray(value)) return { args: value, kwargs: {} };
  if (!isObject(value)) throw new PayloadError(`invalid payload JSON: expected an object or an array, got ${describe(value)}`);
  if (!("args" in value) && !("kwargs" in value)) return { args: [], kwargs: value };
  const args = value.args ?? [];
  const kwargs = value.kwargs ?? {};
  if (!Array.isArray(args)) throw new PayloadError(`invalid periodic args: expected an array, got ${describe(args)}`);
  if (!isObject(kwargs)) throw new PayloadError(`invalid periodic kwargs: expected an object, got ${describe(kwargs)}`);
  return { args, kwargs };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof PyFloat);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof PyFloat || typeof value === "number" || typeof value === "bigint") return "a number";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}
