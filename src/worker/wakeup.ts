// What wakes the producer: a NOTIFY for one of our queues, a freed slot after a full claim, the
// LISTEN connection coming (back) up, or a timer (poll backoff / earliest future run_after).
// A kick that arrives while nobody waits is remembered, so no wake-up is lost between a claim
// and the next wait.
export type WakeReason = "kick" | "timer" | "aborted";

export class Wakeup {
  private pending = false;
  private waiter: (() => void) | null = null;

  kick(): void {
    this.pending = true;
    this.waiter?.();
  }

  wait(timeoutMs: number, signal: AbortSignal): Promise<WakeReason> {
    if (signal.aborted) return Promise.resolve("aborted");
    if (this.pending) {
      this.pending = false;
      return Promise.resolve("kick");
    }
    return new Promise((resolve) => {
      const finish = (reason: WakeReason) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.waiter = null;
        this.pending = false;
        resolve(reason);
      };
      const onAbort = () => finish("aborted");
      const timer = setTimeout(() => finish("timer"), Math.max(0, timeoutMs));
      this.waiter = () => finish("kick");
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}
