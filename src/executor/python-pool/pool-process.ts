// One pool process (zygote.py) seen from the worker: starting it, the ready handshake, sending
// requests, routing events to the jobs it runs, and noticing its end. What to do about an end
// (lost tasks, resending, restarting) is the supervisor's business.
import type { Subprocess } from "bun";
import type { Logger } from "../../observability/logger.ts";
import {
  encodeRequest,
  parseEvent,
  readLines,
  type DoneEvent,
  type FatalEvent,
  type InitRequest,
  type PoolEvent,
  type PoolRequest,
  type ReadyEvent,
  type RejectedEvent,
  type RunRequest,
  type UnstartedEvent,
} from "./protocol.ts";
import zygoteSource from "./zygote.py" with { type: "text" };

/** argv[0] of the pool after start-up (its command line is rewritten to show this). */
const POOL_MARKER = "reproq-python-pool";

/** A task as the pool process sees it; the supervisor implements the callbacks. */
export interface PoolJob {
  /** Set by PoolProcess.run: unique within that pool. */
  id: string;
  pid: number | null;
  request(id: string): RunRequest;
  started(pid: number): void;
  done(event: DoneEvent): void;
  rejected(event: RejectedEvent): void;
  /** Stopped while it waited in the pool for a free child: it never ran. */
  unstarted(event: UnstartedEvent): void;
}

export type ReadyResult = { ok: true; info: ReadyEvent } | { ok: false; reason: FatalEvent["reason"] | "exit" | "timeout" | "spawn"; message: string };

export interface PoolProcessOptions {
  pythonBin: string;
  env: Record<string, string>;
  init: Omit<InitRequest, "op">;
  logger?: Logger;
  /** Called once when the process has ended (expected or not). */
  onExit(pool: PoolProcess): void;
}

export class PoolProcess {
  private static generations = 0;
  readonly generation = ++PoolProcess.generations;
  readonly jobs = new Map<string, PoolJob>();
  state: "starting" | "ready" | "draining" | "exited" = "starting";
  pid = 0;
  /** Tasks sent to this pool. */
  sent = 0;
  readyAt = 0;
  lastPongAt = performance.now();
  exitCode: number | null = null;
  private proc: Subprocess<"pipe", "pipe", "pipe"> | null = null;
  private nextId = 0;
  private readyWaiter: ((result: ReadyResult) => void) | null = null;
  private readySettled: ReadyResult | null = null;
  private staleWaiters: ((changed: string[] | null) => void)[] = [];
  readonly ended: Promise<void>;
  private markEnded!: () => void;

  constructor(private readonly options: PoolProcessOptions) {
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
    try {
      this.proc = Bun.spawn([options.pythonBin, "-c", zygoteSource, POOL_MARKER], {
        env: options.env,
        stdin: "pipe",
        stdout: "pipe",
        stderr: "pipe",
        // Its own session: a terminal's Ctrl-C reaches the worker, which decides when the pool stops.
        detached: true,
      });
    } catch (error) {
      const message = `python pool: could not start ${options.pythonBin}: ${error instanceof Error ? error.message : String(error)}`;
      this.settleReady({ ok: false, reason: "spawn", message });
      this.state = "exited";
      queueMicrotask(() => this.finish());
      return;
    }
    this.pid = this.proc.pid;
    this.send({ op: "init", ...options.init });
    void this.pumpStderr(this.proc.stderr);
    void readLines(this.proc.stdout, (line) => this.onLine(line)).then(() => this.onStdoutEnd());
  }

  /** Resolves once the pool has imported everything (or failed to); kills it on timeout. */
  waitReady(timeoutMs: number): Promise<ReadyResult> {
    if (this.readySettled) return Promise.resolve(this.readySettled);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.settleReady({ ok: false, reason: "timeout", message: `python pool did not finish its imports within ${Math.round(timeoutMs / 1000)}s` });
        this.terminate();
      }, timeoutMs);
      this.readyWaiter = (result) => {
        clearTimeout(timer);
        resolve(result);
      };
    });
  }

  run(job: PoolJob): void {
    const id = `${this.generation}.${++this.nextId}`;
    job.id = id;
    job.pid = null;
    this.jobs.set(id, job);
    this.sent += 1;
    this.send(job.request(id));
  }

  kill(job: PoolJob, graceMs: number, reason: string): void {
    if (this.jobs.get(job.id) !== job) return;
    this.send({ op: "kill", id: job.id, grace_s: graceMs / 1000, reason });
  }

  ping(): void {
    this.send({ op: "ping" });
  }

  /** Changed source files since the pool started; null when the pool ended first. */
  checkStale(): Promise<string[] | null> {
    if (this.state === "exited") return Promise.resolve(null);
    return new Promise((resolve) => {
      this.staleWaiters.push(resolve);
      this.send({ op: "check_stale" });
    });
  }

  /** No new tasks; drain: let children finish, else stop them (SIGTERM, SIGKILL after grace). */
  shutdown(drain: boolean, graceMs: number): void {
    if (this.state === "exited") return;
    this.state = "draining";
    this.send({ op: "shutdown", drain, grace_s: graceMs / 1000 });
  }

  /** SIGKILL the pool process; its children die by PR_SET_PDEATHSIG. */
  terminate(): void {
    try {
      this.proc?.kill("SIGKILL");
    } catch {
      // already gone
    }
  }

  private send(request: PoolRequest): void {
    const stdin = this.proc?.stdin;
    if (!stdin || this.state === "exited") return;
    try {
      const written = stdin.write(encodeRequest(request));
      if (written instanceof Promise) written.catch(() => {});
      const flushed = stdin.flush();
      if (flushed instanceof Promise) flushed.catch(() => {});
    } catch {
      // EPIPE: the pool is gone; onStdoutEnd handles it
    }
  }

  private settleReady(result: ReadyResult): void {
    if (this.readySettled) return;
    this.readySettled = result;
    this.readyWaiter?.(result);
    this.readyWaiter = null;
  }

  private onLine(line: string): void {
    const event = parseEvent(line);
    if (!event) {
      this.options.logger?.warn("Python pool wrote a malformed event", { pool_pid: this.pid, line: line.slice(0, 200) });
      return;
    }
    this.onEvent(event);
  }

  private onEvent(event: PoolEvent): void {
    switch (event.event) {
      case "ready":
        if (this.state === "starting") this.state = "ready";
        this.readyAt = performance.now();
        this.lastPongAt = this.readyAt;
        this.settleReady({ ok: true, info: event });
        return;
      case "fatal":
        this.settleReady({ ok: false, reason: event.reason, message: event.traceback ? `${event.message}\n${event.traceback}` : event.message });
        return;
      case "started": {
        const job = this.jobs.get(event.id);
        if (job) {
          job.pid = event.pid;
          job.started(event.pid);
        }
        return;
      }
      case "done": {
        const job = this.jobs.get(event.id);
        this.jobs.delete(event.id);
        job?.done(event);
        return;
      }
      case "unstarted": {
        const job = this.jobs.get(event.id);
        this.jobs.delete(event.id);
        job?.unstarted(event);
        return;
      }
      case "rejected": {
        const job = this.jobs.get(event.id);
        this.jobs.delete(event.id);
        job?.rejected(event);
        return;
      }
      case "pong":
        this.lastPongAt = performance.now();
        return;
      case "stale":
        this.staleWaiters.shift()?.(event.changed);
        return;
    }
  }

  private async pumpStderr(stream: ReadableStream<Uint8Array>): Promise<void> {
    await readLines(stream, (line) => {
      if (this.options.logger) this.options.logger.warn("Python pool stderr", { pool_pid: this.pid, line });
      else process.stderr.write(`[python pool ${this.pid}] ${line}\n`);
    });
  }

  private async onStdoutEnd(): Promise<void> {
    // Without its protocol stream the pool is of no use, alive or not.
    this.terminate();
    this.exitCode = (await this.proc?.exited) ?? null;
    this.state = "exited";
    this.settleReady({ ok: false, reason: "exit", message: `python pool exited (code ${this.exitCode}) before it was ready` });
    this.finish();
  }

  private finish(): void {
    for (const waiter of this.staleWaiters.splice(0)) waiter(null);
    this.options.onExit(this);
    this.markEnded();
  }
}
