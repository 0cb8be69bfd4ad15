// Outages (the database, the logs directory) are logged once when they start and once when they
// end, not per attempt. A single failure because a connection died (a killed backend, a reset)
// followed by success is no outage and is not logged: under repeated backend kills that would be
// two lines per kill per activity.
import { isLostConnectionError } from "../db/retryable.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";

export class OutageTracker {
  private downSince: number | null = null;
  private failures = 0;

  constructor(
    private readonly logger: Logger,
    private readonly what: string,
    /** What the failure means, after "<what> failed; ". */
    private readonly consequence = "retrying until the database answers",
  ) {}

  failed(error: unknown): void {
    this.failures++;
    if (this.downSince !== null) return;
    if (this.failures === 1 && isLostConnectionError(error)) return;
    this.downSince = performance.now();
    this.logger.error(`${this.what} failed; ${this.consequence}`, { error: errorMessage(error) });
  }

  succeeded(): void {
    if (this.downSince === null) {
      this.failures = 0;
      return;
    }
    const seconds = Math.round((performance.now() - this.downSince) / 100) / 10;
    this.logger.info(`${this.what} works again`, { outage_seconds: seconds, failed_attempts: this.failures });
    this.downSince = null;
    this.failures = 0;
  }

  get down(): boolean {
    return this.downSince !== null;
  }
}
