// How long a kind of database write (task results, claims) has been unable to make progress:
// the oldest attempt still waiting (a statement stuck behind a lock never fails, it just waits)
// or, when attempts keep failing, the first failure since the last success. /healthz turns unhealthy
// when this exceeds worker.health_stall_timeout.

export class ProgressWatch {
  private readonly pending = new Map<number, number>();
  private nextId = 0;
  private failingSince: number | null = null;

  /** An attempt starts; call the returned function when it ends (either way). */
  begin(): () => void {
    const id = this.nextId++;
    this.pending.set(id, performance.now());
    return () => {
      this.pending.delete(id);
    };
  }

  /** Runs one attempt: pending while it runs; a success clears the failing state, a failure starts it. */
  async track<T>(attempt: () => Promise<T>): Promise<T> {
    const end = this.begin();
    try {
      const result = await attempt();
      this.succeeded();
      return result;
    } catch (error) {
      this.failed();
      throw error;
    } finally {
      end();
    }
  }

  failed(): void {
    this.failingSince ??= performance.now();
  }

  succeeded(): void {
    this.failingSince = null;
  }

  /** Attempts waiting now. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Milliseconds without progress: since the oldest pending attempt began or the first failure; 0 when fine. */
  stalledMs(now = performance.now()): number {
    let since = this.failingSince ?? Number.POSITIVE_INFINITY;
    // Map iteration is insertion order: the first entry is the oldest attempt.
    for (const started of this.pending.values()) {
      since = Math.min(since, started);
      break;
    }
    return since === Number.POSITIVE_INFINITY ? 0 : Math.max(0, now - since);
  }
}
