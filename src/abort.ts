// Waiting on an AbortSignal: shared by every long-running service (worker, beat).

/** Resolves after `ms`, or early (without throwing) when the signal aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Resolves when the signal aborts (AbortSignal.timeout timers do not keep the process alive). */
export function aborted(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}

/** Runs `round` every `intervalMs` until the signal aborts; `round` must not throw. */
export async function every(intervalMs: number, signal: AbortSignal, round: () => Promise<void>): Promise<void> {
  while (!signal.aborted) {
    await pause(intervalMs, signal);
    if (!signal.aborted) await round();
  }
}
