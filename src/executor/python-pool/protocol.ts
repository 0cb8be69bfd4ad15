// The wire protocol between the worker and the pool process (zygote.py): newline-delimited JSON
// on the pool's stdin (requests) and stdout (events). zygote.py's header documents the same.

export interface InitRequest {
  op: "init";
  executor_module: string;
  /** Shown as the children's command line (`<python_bin> -m <module> …`). */
  python_bin: string;
  preload: readonly string[];
  max_stdout: number;
  max_stderr: number;
  /** Trailing bytes of stdout kept (max_stdout + 1: the envelope window, which holds the displayed tail). */
  stdout_tail: number;
  /** Trailing bytes of stderr kept (the displayed tail: max_stderr minus its first half). */
  stderr_tail: number;
  /** How long output pipes may stay open after a child exited (grandchildren holding them). */
  drain_ms: number;
  /** fork: one child per task; persistent: `children` long-lived children running tasks in turn. */
  mode: "fork" | "persistent";
  /** persistent: children kept warm (the worker's concurrency). */
  children: number;
  /** persistent: a child is replaced after this many tasks (0 = never). */
  max_tasks_per_child: number;
  /** persistent: a child whose resident size is above this after a task is replaced (0 = never). */
  max_child_rss_kb: number;
  /** persistent: keep healthy Django connections between tasks even when CONN_MAX_AGE is 0. */
  db_reuse: boolean;
}

export interface RunRequest {
  op: "run";
  id: string;
  /** Arguments after `-m <executor_module>`. */
  argv: readonly string[];
  /** Written to the child's fd 0 (a pipe) then closed; null gives it /dev/null. */
  payload: string | null;
  /** The pool's own backstop; the worker normally stops the task first. 0 = none. */
  timeout_s: number;
  grace_s: number;
}

export type PoolRequest =
  | InitRequest
  | RunRequest
  | { op: "kill"; id: string; grace_s: number; reason: string }
  | { op: "ping" }
  | { op: "check_stale" }
  | { op: "shutdown"; drain: boolean; grace_s?: number };

export interface ReadyEvent {
  event: "ready";
  pid: number;
  python: string;
  django: boolean;
  /** Database aliases whose backend (and so driver) was imported before forking (Django only). */
  databases?: string[];
  /** Backends that failed to import there; a task using one imports it itself. */
  database_errors?: { alias: string | null; engine: string | null; error: string }[];
  setup_ms: number;
  /** Loaded source files watched by check_stale. */
  files: number;
}

export interface FatalEvent {
  event: "fatal";
  /** preload: an import or django.setup() failed; threads: a background thread exists. */
  reason: "preload" | "threads";
  message: string;
  traceback?: string;
}

export interface StartedEvent {
  event: "started";
  id: string;
  pid: number;
}

/** persistent: a request that waited for a free child was stopped (kill, shutdown) before any child took it. */
export interface UnstartedEvent {
  event: "unstarted";
  id: string;
  /** The kill request's reason, or "shutdown". */
  reason: string;
}

export interface RejectedEvent {
  event: "rejected";
  id: string;
  message: string;
  /** The pool cannot fork any more (a thread appeared): stop using pools. */
  fatal: boolean;
}

export interface DoneEvent {
  event: "done";
  id: string;
  pid: number;
  exit_code: number | null;
  signal: string | null;
  /** Why the pool stopped the child ("timeout", the kill request's reason…), or null. */
  killed: string | null;
  /** The strongest signal sent to the group before the child exited. */
  sent_signal: "SIGTERM" | "SIGKILL" | null;
  pipes_held_open: boolean;
  /** The first max bytes of the stream: as text when they are UTF-8, else base64 in stdout_b64. */
  stdout?: string;
  stdout_b64?: string;
  stdout_total: number;
  /** The last stdout_tail bytes when the stream went over its limit, else empty (text or _b64). */
  stdout_tail?: string;
  stdout_tail_b64?: string;
  stderr?: string;
  stderr_b64?: string;
  stderr_total: number;
  /** The last stderr_tail bytes when the stream went over its limit, else empty (text or _b64). */
  stderr_tail?: string;
  stderr_tail_b64?: string;
  wall_ms: number;
  maxrss_kb: number;
}

export interface PongEvent {
  event: "pong";
  /** Resident set size of the pool process, KiB. */
  rss: number;
  in_flight: number;
  served: number;
  /** persistent mode: pids of the live children. */
  children?: number[];
}

export interface StaleEvent {
  event: "stale";
  changed: string[];
}

export type PoolEvent = ReadyEvent | FatalEvent | StartedEvent | UnstartedEvent | RejectedEvent | DoneEvent | PongEvent | StaleEvent;

export function encodeRequest(request: PoolRequest): string {
  return `${JSON.stringify(request)}\n`;
}

/** Reads `stream` line by line; malformed lines are reported, not fatal. Resolves at EOF. */
export async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for await (const chunk of stream) {
      const searchFrom = buffer.length; // big events arrive in many chunks: scan only the new text
      buffer += decoder.decode(chunk, { stream: true });
      let newline = buffer.indexOf("\n", searchFrom);
      while (newline !== -1) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line.trim() !== "") onLine(line);
        newline = buffer.indexOf("\n");
      }
    }
  } catch {
    // a read error ends the stream like EOF
  }
  buffer += decoder.decode();
  if (buffer.trim() !== "") onLine(buffer);
}

export function parseEvent(line: string): PoolEvent | null {
  try {
    const value = JSON.parse(line) as unknown;
    if (typeof value === "object" && value !== null && typeof (value as { event?: unknown }).event === "string") return value as PoolEvent;
  } catch {
    // not JSON
  }
  return null;
}
