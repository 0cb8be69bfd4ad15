// Getting the payload (spec_json::text, byte-for-byte) to the executor, per payload_mode:
// stdin (`--payload-stdin`, written then closed), file (`--payload-file <path>`, a private temp
// file removed afterwards) or inline (`--payload-json <text>`, visible in the process list).
import { randomBytes } from "node:crypto";
import { open, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { PayloadMode } from "../config/index.ts";

export interface PreparedPayload {
  /** Arguments appended to the executor's argv. */
  args: string[];
  /** Text to write to the child's stdin, or null to give it no stdin. */
  stdin: string | null;
  /** Removes anything created for this run; never throws. */
  cleanup(): Promise<void>;
}

const nothingToClean = async (): Promise<void> => {};

/** `payload size <n> exceeds limit <max>` when the payload is too big, else null. */
export function payloadSizeProblem(payload: string, maxPayloadBytes: number): string | null {
  const size = Buffer.byteLength(payload, "utf8");
  return size > maxPayloadBytes ? `payload size ${size} exceeds limit ${maxPayloadBytes}` : null;
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function writePayloadFile(payload: string, resultId: string, tmpDir: string): Promise<PreparedPayload | { error: string }> {
  // The id only decorates the name; keep it from steering the path.
  const safeId = resultId.replace(/[^0-9A-Za-z_-]/g, "_");
  const path = join(tmpDir, `reproq-payload-${safeId}-${randomBytes(6).toString("hex")}.json`);
  const cleanup = async (): Promise<void> => {
    await unlink(path).catch(() => {});
  };
  let handle;
  try {
    // "wx": create exclusively (never reuse or follow an existing name); 0600: payloads may hold secrets.
    handle = await open(path, "wx", 0o600);
  } catch (error) {
    return { error: `failed to create temp file: ${reason(error)}` };
  }
  try {
    await handle.writeFile(payload, "utf8");
  } catch (error) {
    await handle.close().catch(() => {});
    await cleanup();
    return { error: `failed to write payload to file: ${reason(error)}` };
  }
  try {
    await handle.close();
  } catch (error) {
    await cleanup();
    return { error: `failed to write payload to file: ${reason(error)}` };
  }
  return { args: ["--payload-file", path], stdin: null, cleanup };
}

/** Builds the payload arguments (and temp file) for one run, or says why it cannot. */
export async function preparePayload(
  mode: PayloadMode,
  payload: string,
  resultId: string,
  tmpDir: string,
): Promise<PreparedPayload | { error: string }> {
  switch (mode) {
    case "stdin":
      return { args: ["--payload-stdin"], stdin: payload, cleanup: nothingToClean };
    case "inline":
      return { args: ["--payload-json", payload], stdin: null, cleanup: nothingToClean };
    case "file":
      return writePayloadFile(payload, resultId, tmpDir);
    default:
      return { error: `invalid payload mode: ${String(mode)}` };
  }
}
