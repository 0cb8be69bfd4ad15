// Round-robin over the worker's queues. The claim serves queues in the order it is given (rank 1
// of each, then rank 2, …); rotating that order past the queue of the last row claimed makes the
// turns continue across claims, so refills of one or two slots go round the queues too instead of
// always starting from the first one. See src/queue/claim.ts ("Fairness").

/** Which queue's turn it is; one per worker, not shared. */
export class QueueRotation {
  private readonly queues: readonly string[];
  private next = 0;

  constructor(queues: readonly string[]) {
    this.queues = [...new Set(queues)];
  }

  /** The queues starting with the one whose turn it is. */
  order(): string[] {
    return [...this.queues.slice(this.next), ...this.queues.slice(0, this.next)];
  }

  /**
   * After a claim: the turn passes to the queue after `lastQueue`, the queue of the last row
   * claimed (in claim order). Nothing claimed (undefined): the turn stays where it is.
   */
  advancePast(lastQueue: string | undefined): void {
    if (lastQueue === undefined) return;
    const index = this.queues.indexOf(lastQueue);
    if (index !== -1) this.next = (index + 1) % this.queues.length;
  }
}
