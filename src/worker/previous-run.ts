// A worker starting under the id of a run that died without deregistering (a crash, then a
// restart under the same id, as `<hostname>-<pid>` often is in a container). That run's registry
// row still holds its deadline; registering over it would renew the deadline, and the dead run's
// rows would wait for their leases. So: wait for the deadline, rescue those rows, and only then
// register (liveness.ts). A row that keeps moving meanwhile belongs to a live worker with the same
// id: reported, its rows left alone.
import { pause } from "../abort.ts";
import type { Sql } from "../db/client.ts";
import type { Logger } from "../observability/logger.ts";
import { workerDeadlineRead, workerRescueDead, type WorkerDeadlineState } from "../queue/index.ts";

/** Returns once the id is free to register (or `signal` aborted); `tick` runs about once a second while waiting. */
export async function takeOverPreviousRun(options: { sql: Sql; logger: Logger; workerId: string }, signal: AbortSignal, tick: () => void): Promise<void> {
  const { sql, logger, workerId } = options;
  const first = await workerDeadlineRead(sql, { workerId });
  if (first === null || first.aliveForSeconds === null) return;
  if (first.aliveForSeconds >= 0) {
    logger.warn("This worker id is still registered by a run that did not deregister; waiting for its deadline before taking over", {
      last_seen_at: first.lastSeenAt.toISOString(),
      wait_seconds: Math.ceil(first.aliveForSeconds),
    });
  }
  for (let state: WorkerDeadlineState | null = first; state !== null && (state.aliveForSeconds ?? -1) >= 0; ) {
    await pause(Math.min(1_000, (state.aliveForSeconds ?? 0) * 1000 + 50), signal);
    if (signal.aborted) return;
    tick();
    state = await workerDeadlineRead(sql, { workerId });
    if (state !== null && state.lastSeenAt.getTime() !== first.lastSeenAt.getTime()) {
      logger.error("Another live worker uses this worker id; worker ids must be unique (its tasks and this worker's can be mistaken for each other)", {
        last_seen_at: state.lastSeenAt.toISOString(),
      });
      return;
    }
  }
  for (const dead of await workerRescueDead(sql, { workerId, limit: 1, own: true })) {
    logger.warn("Requeued the tasks of this worker id's previous run", { last_seen_at: dead.lastSeenAt.toISOString(), requeued: dead.requeued, failed: dead.failed });
  }
}
