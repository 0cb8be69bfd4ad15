// Delays: task retry backoff (SPEC §4.3) and the idle poll backoff (SPEC §4.2).

/** min(base · 2^(attempt−1), max) seconds, then ± jitter (a fraction, e.g. 0.1 = ±10 %). */
export function retryDelaySeconds(
  attempt: number,
  options: { baseSeconds: number; maxSeconds: number; jitter: number },
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, attempt - 1);
  // 2^exponent overflows to Infinity for huge attempt counts, and min() then caps it.
  const raw = Math.min(options.baseSeconds * 2 ** exponent, options.maxSeconds);
  const spread = raw * options.jitter * (2 * random() - 1);
  return Math.max(0, Math.min(options.maxSeconds, raw + spread));
}

/** Exponential poll backoff between min and max: doubles on every empty claim, resets on work. */
export class PollBackoff {
  private current: number;

  constructor(private readonly minMs: number, private readonly maxMs: number) {
    this.current = minMs;
  }

  /** The next sleep after an empty claim (then doubles, up to max). */
  next(): number {
    const delay = this.current;
    this.current = Math.min(this.maxMs, Math.max(1, this.current * 2));
    return delay;
  }

  reset(): void {
    this.current = this.minMs;
  }
}
