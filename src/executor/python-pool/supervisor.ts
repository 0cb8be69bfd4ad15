// Keeps one warm pool process serving the worker's tasks. New tasks go to the current pool; a
// replaced pool drains (its running children finish where they are). Supervision: pings (a pool
// that stops answering is killed), stale-code checks, max tasks / max age. When a pool ends
// unexpectedly its started tasks are lost (their process groups are killed and they come back to
// the runtime as infra errors, retried by the normal rules), tasks it never started are resent,
// and the pool restarts with backoff; after repeated failures the executor falls back to one
// process per task for good (logged once).
import type { Logger } from "../../observability/logger.ts";
import type { StopReason } from "../process.ts";
import { killsAtOnce } from "../types.ts";
import { PoolProcess, type PoolJob, type PoolProcessOptions } from "./pool-process.ts";
import type { DoneEvent, RejectedEvent, RunRequest, UnstartedEvent } from "./protocol.ts";

/** A pool that has run this long without trouble wipes the failure count. */
const STABLE_AFTER_MS = 60_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface SupervisorOptions {
  pool: Omit<PoolProcessOptions, "onExit">;
  logger?: Logger;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  startTimeoutMs: number;
  restartBackoffMs: number;
  maxFailures: number;
  maxTasks: number;
  maxAgeMs: number;
  staleCheckIntervalMs: number;
  killGraceMs: number;
}

export interface JobSpec {
  argv: readonly string[];
  payload: string | null;
  timeoutMs: number;
  signal: AbortSignal;
}

export type JobOutcome =
  | { kind: "done"; event: DoneEvent; stopReason: StopReason | null }
  /** The pool ended while the task ran; its process group was killed. */
  | { kind: "lost"; pid: number; stopReason: StopReason | null; message: string }
  /** Never ran: stopped while waiting for a pool. */
  | { kind: "not_started"; stopReason: StopReason; message: string }
  /** Run it as its own process instead (pools disabled, or this pool could not fork). */
  | { kind: "spawn"; reason: string };

class Job implements PoolJob {
  id = "";
  pid: number | null = null;
  pool: PoolProcess | null = null;
  stopReason: StopReason | null = null;
  readonly outcome: Promise<JobOutcome>;
  private resolve!: (outcome: JobOutcome) => void;
  private settled = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onAbort = (): void => this.stop("aborted");

  constructor(
    readonly spec: JobSpec,
    private readonly supervisor: PoolSupervisor,
  ) {
    this.outcome = new Promise((resolve) => (this.resolve = resolve));
    this.startTimer();
    spec.signal.addEventListener("abort", this.onAbort, { once: true });
  }

  /** The task's timeout, from now: from the request, and again once a child starts it (a
   * persistent pool may hold a request until a child is free; that wait is not the task's). */
  private startTimer(): void {
    const { timeoutMs } = this.spec;
    clearTimeout(this.timer);
    if (Number.isFinite(timeoutMs) && timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS) {
      this.timer = setTimeout(() => this.stop("timeout"), timeoutMs);
    }
  }

  request(id: string): RunRequest {
    const { timeoutMs } = this.spec;
    const backstop = Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs / 1000 : 0;
    return { op: "run", id, argv: this.spec.argv, payload: this.spec.payload, timeout_s: backstop, grace_s: this.supervisor.killGraceMs / 1000 };
  }

  started(_pid: number): void {
    if (!this.settled && this.stopReason === null) this.startTimer();
  }

  unstarted(event: UnstartedEvent): void {
    const stopReason = this.stopReason ?? "aborted";
    this.settle({ kind: "not_started", stopReason, message: `stopped (${stopReason === "timeout" ? "timeout" : event.reason}) while waiting for a free python-pool child` });
  }

  done(event: DoneEvent): void {
    let stopReason = this.stopReason;
    if (stopReason === null && event.killed !== null) stopReason = event.killed === "timeout" ? "timeout" : "aborted";
    this.settle({ kind: "done", event, stopReason });
  }

  rejected(event: RejectedEvent): void {
    this.supervisor.onRejected(event);
    this.settle({ kind: "spawn", reason: event.message });
  }

  stop(reason: StopReason): void {
    if (this.settled || this.stopReason !== null) return;
    this.stopReason = reason;
    if (this.pool) {
      const graceMs = reason !== "timeout" && killsAtOnce(this.spec.signal) ? 0 : this.supervisor.killGraceMs;
      this.pool.kill(this, graceMs, reason === "timeout" ? "timeout" : "kill");
      return;
    }
    this.supervisor.unqueue(this);
    const message = reason === "timeout" ? "timed out while waiting for the python pool to start" : "aborted before the process started";
    this.settle({ kind: "not_started", stopReason: reason, message });
  }

  settle(outcome: JobOutcome): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.spec.signal.removeEventListener("abort", this.onAbort);
    this.pool = null;
    this.resolve(outcome);
  }
}

export class PoolSupervisor {
  private current: PoolProcess | null = null;
  private readonly pools = new Set<PoolProcess>();
  private readonly queue: Job[] = [];
  private starting: Promise<void> | null = null;
  private startedOnce: Promise<void> | null = null;
  private failures = 0;
  private disabledReason: string | null = null;
  private stopped = false;
  private replacing = false;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly timers: ReturnType<typeof setInterval>[] = [];

  constructor(private readonly options: SupervisorOptions) {}

  get killGraceMs(): number {
    return this.options.killGraceMs;
  }

  /** Pools are off for good (repeated failures, threads): run tasks as processes. */
  get disabled(): boolean {
    return this.disabledReason !== null;
  }

  /** The pool serving new tasks (tests and logs). */
  get currentPid(): number | null {
    return this.current?.state === "ready" ? this.current.pid : null;
  }

  /** Starts the first pool and the supervision timers; resolves once it is ready or has failed. */
  start(): Promise<void> {
    this.startedOnce ??= (async () => {
      const { pingIntervalMs, staleCheckIntervalMs } = this.options;
      this.timers.push(setInterval(() => this.tick(), pingIntervalMs));
      if (staleCheckIntervalMs > 0) this.timers.push(setInterval(() => void this.checkStale(), staleCheckIntervalMs));
      for (const timer of this.timers) timer.unref?.();
      await this.ensurePool();
    })();
    return this.startedOnce;
  }

  execute(spec: JobSpec): Promise<JobOutcome> {
    if (this.disabledReason !== null) return Promise.resolve({ kind: "spawn", reason: this.disabledReason });
    const job = new Job(spec, this);
    if (this.stopped) job.settle({ kind: "not_started", stopReason: "aborted", message: "the worker is stopping" });
    else this.dispatch(job);
    if (!this.startedOnce) void this.start();
    return job.outcome;
  }

  /** Start a fresh pool for new tasks; the current one finishes its running tasks. */
  replace(reason: string): void {
    if (this.stopped || this.disabledReason !== null || this.replacing) return;
    if (!this.current || this.starting) return; // a fresh pool is on its way anyway
    this.replacing = true;
    this.options.logger?.info("Replacing python pool", { reason, pool_pid: this.current.pid });
    void this.startPool(reason).finally(() => (this.replacing = false));
  }

  /** Stops every pool: running children get SIGTERM, SIGKILL after the grace. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    for (const job of this.queue.splice(0)) job.settle({ kind: "not_started", stopReason: "aborted", message: "the worker is stopping" });
    const pools = [...this.pools];
    for (const pool of pools) pool.shutdown(false, this.options.killGraceMs);
    const limit = new Promise<void>((resolve) => setTimeout(resolve, this.options.killGraceMs + 3_000));
    await Promise.race([Promise.all(pools.map((pool) => pool.ended)), limit]);
    for (const pool of pools) if (pool.state !== "exited") pool.terminate();
    await Promise.race([Promise.all(pools.map((pool) => pool.ended)), new Promise((resolve) => setTimeout(resolve, 2_000))]);
    this.current = null;
  }

  unqueue(job: Job): void {
    const index = this.queue.indexOf(job);
    if (index !== -1) this.queue.splice(index, 1);
  }

  onRejected(event: RejectedEvent): void {
    if (event.fatal) this.disable(`python pool refused to fork: ${event.message}`);
  }

  private dispatch(job: Job): void {
    const pool = this.current;
    if (pool?.state !== "ready") {
      this.queue.push(job);
      void this.ensurePool();
      return;
    }
    job.pool = pool;
    pool.run(job);
    const { maxTasks } = this.options;
    if (maxTasks > 0 && pool.sent >= maxTasks) this.replace(`served ${pool.sent} tasks (pool_max_tasks ${maxTasks})`);
  }

  private ensurePool(): Promise<void> {
    if (this.stopped || this.disabledReason !== null || this.current || this.restartTimer !== undefined) return this.starting ?? Promise.resolve();
    this.starting ??= this.startPool(null);
    return this.starting;
  }

  /** Starts a pool and makes it current once ready; `replacing` names why the old one goes. */
  private startPool(replacing: string | null): Promise<void> {
    const run = (async () => {
      const pool = new PoolProcess({ ...this.options.pool, onExit: (ended) => this.onPoolExit(ended) });
      this.pools.add(pool);
      const ready = await pool.waitReady(this.options.startTimeoutMs);
      if (!ready.ok) {
        pool.terminate();
        if (ready.reason === "threads") this.disable(ready.message);
        else this.failed(`python pool failed to start: ${ready.message}`);
        return;
      }
      if (this.stopped || this.disabledReason !== null) {
        pool.shutdown(false, this.options.killGraceMs);
        return;
      }
      const old = this.current;
      this.current = pool;
      const { logger } = this.options;
      const info = { pool_pid: pool.pid, mode: this.options.pool.init.mode, setup_ms: ready.info.setup_ms, django: ready.info.django, databases: ready.info.databases ?? [], watched_files: ready.info.files };
      for (const problem of ready.info.database_errors ?? []) {
        logger?.warn("Python pool could not import a database backend; tasks import it themselves", { pool_pid: pool.pid, ...problem });
      }
      if (old && replacing !== null) {
        logger?.info("Python pool replaced", { ...info, reason: replacing, old_pool_pid: old.pid });
      } else {
        logger?.info("Python pool ready", info);
      }
      old?.shutdown(true, this.options.killGraceMs);
      this.flushQueue();
    })().finally(() => {
      if (this.starting === run) this.starting = null;
    });
    if (replacing === null) this.starting = run;
    return run;
  }

  private flushQueue(): void {
    for (const job of this.queue.splice(0)) this.dispatch(job);
  }

  private failed(message: string): void {
    if (this.stopped) return; // shutting down: no restart (its timer would keep the process alive)
    this.failures += 1;
    const { logger, maxFailures, restartBackoffMs } = this.options;
    if (this.failures >= maxFailures) {
      this.disable(`${message} (${this.failures} failures in a row)`);
      return;
    }
    const delayMs = Math.min(restartBackoffMs * 2 ** (this.failures - 1), 30_000);
    logger?.warn("Python pool failure; restarting", { error: message, failures: this.failures, restart_in_ms: delayMs });
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.current) this.replace("restart after a failed replacement");
      else void this.ensurePool();
    }, delayMs);
  }

  private disable(reason: string): void {
    if (this.disabledReason !== null) return;
    this.disabledReason = reason;
    this.options.logger?.warn("Python pool disabled; running each task as its own process", { reason });
    clearTimeout(this.restartTimer);
    this.current?.shutdown(true, this.options.killGraceMs);
    this.current = null;
    for (const job of this.queue.splice(0)) job.settle({ kind: "spawn", reason });
  }

  private onPoolExit(pool: PoolProcess): void {
    this.pools.delete(pool);
    const wasCurrent = this.current === pool;
    if (wasCurrent) this.current = null;
    const resend: Job[] = [];
    let lost = 0;
    for (const job of pool.jobs.values()) {
      if (!(job instanceof Job)) continue;
      if (job.pid === null) {
        job.pool = null;
        // Stopped (timeout, cancel, shutdown) before it started: never send it to another pool.
        if (job.stopReason !== null) {
          job.settle({ kind: "not_started", stopReason: job.stopReason, message: `stopped (${job.stopReason}) before the python pool started it` });
        } else {
          resend.push(job);
        }
        continue;
      }
      // Its children got SIGKILL from PR_SET_PDEATHSIG; grandchildren did not.
      try {
        process.kill(-job.pid, "SIGKILL");
      } catch {
        // group already gone
      }
      lost += 1;
      job.settle({
        kind: "lost",
        pid: job.pid,
        stopReason: job.stopReason,
        message: `python pool process ${pool.pid} exited while the task was running (pid ${job.pid}); its process group was killed`,
      });
    }
    pool.jobs.clear();
    if (wasCurrent && !this.stopped && this.disabledReason === null) {
      this.options.logger?.warn("Python pool exited unexpectedly", { pool_pid: pool.pid, exit_code: pool.exitCode, lost, resent: resend.length });
      this.failed(`python pool process ${pool.pid} exited unexpectedly (exit code ${pool.exitCode})`);
    }
    this.queue.unshift(...resend);
    if (this.disabledReason !== null) {
      for (const job of this.queue.splice(0)) job.settle({ kind: "spawn", reason: this.disabledReason });
    } else if (this.current?.state === "ready") {
      this.flushQueue();
    } else if (resend.length > 0) {
      void this.ensurePool();
    }
  }

  private tick(): void {
    const now = performance.now();
    const { pingTimeoutMs, maxAgeMs, logger } = this.options;
    for (const pool of this.pools) {
      if (pool.state !== "ready" && pool.state !== "draining") continue;
      if (now - pool.lastPongAt > pingTimeoutMs) {
        logger?.warn("Python pool stopped answering pings; killing it", { pool_pid: pool.pid, silent_ms: Math.round(now - pool.lastPongAt) });
        pool.terminate();
        continue;
      }
      pool.ping();
    }
    const current = this.current;
    if (!current) return;
    if (now - current.readyAt > STABLE_AFTER_MS) this.failures = 0;
    if (maxAgeMs > 0 && now - current.readyAt >= maxAgeMs) this.replace(`pool is older than pool_max_age (${Math.round(maxAgeMs / 1000)}s)`);
  }

  private async checkStale(): Promise<void> {
    const pool = this.current;
    if (!pool || pool.state !== "ready" || this.replacing) return;
    const changed = await pool.checkStale();
    if (!changed || changed.length === 0 || pool !== this.current) return;
    const more = changed.length > 1 ? ` (+${changed.length - 1} more)` : "";
    this.replace(`source file changed: ${changed[0]}${more}`);
  }
}
