// Which Python executor setting would run tasks faster, and why it is not on: shown by the worker
// at start-up and by `reproq doctor` (docs/python-pool.md, "Choosing a mode").
import type { WorkerConfig } from "../../config/index.ts";

const WHY_NOT_DEFAULT =
  "not the default because tasks then share long-lived processes: module state, caches and (with CONN_MAX_AGE) database connections persist between tasks";

/** A one-line hint naming the faster setting, or null when the fastest Python mode is on (or the kind is not Python). */
export function pythonSpeedHint(worker: Pick<WorkerConfig, "executor" | "poolMode">): string | null {
  if (worker.executor === "python") {
    return `each task starts a new Python interpreter (hundreds of ms of CPU per Django task); --executor python-pool --pool-mode persistent (REPROQ_EXECUTOR=python-pool REPROQ_POOL_MODE=persistent) runs tasks in warm long-lived processes; ${WHY_NOT_DEFAULT}`;
  }
  if (worker.executor === "python-pool" && worker.poolMode === "fork") {
    return `python-pool forks a fresh child per task; --pool-mode persistent (REPROQ_POOL_MODE=persistent) keeps worker.concurrency children and cuts the CPU per task several times; ${WHY_NOT_DEFAULT}`;
  }
  return null;
}
