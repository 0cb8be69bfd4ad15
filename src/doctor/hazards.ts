// Doctor checks for the database's own hazards: who holds back the xmin horizon (VACUUM cannot
// remove task_runs' dead rows while a snapshot is open), task_runs' dead rows and last vacuum,
// and sessions waiting for a lock on task_runs. Thresholds are shared with `reproq top`.
import { boundedReads } from "../db/bounded.ts";
import type { Sql } from "../db/client.ts";
import {
  deadTuplesHigh,
  describeHolder,
  HAZARD_BOUNDS,
  holderAge,
  HORIZON_FAIL_SECONDS,
  HORIZON_WARN_SECONDS,
} from "../observability/hazards.ts";
import { dbHorizonHolderRead, dbTaskRunsLockWaitRead, dbTaskRunsVacuumRead } from "../queue/hazards.ts";
import type { DoctorCheck } from "./index.ts";

export async function hazardChecks(sql: Sql): Promise<DoctorCheck[]> {
  const { holder, vacuum, lockWait } = await boundedReads(sql, HAZARD_BOUNDS, async (tx) => ({
    holder: await dbHorizonHolderRead(tx),
    vacuum: await dbTaskRunsVacuumRead(tx),
    lockWait: await dbTaskRunsLockWaitRead(tx),
  }));
  const checks: DoctorCheck[] = [];
  if (!holder) {
    checks.push({ name: "xmin horizon", status: "ok", detail: "no other session, prepared transaction or replication slot holds a snapshot" });
  } else {
    const age = holder.ageSeconds ?? 0;
    const status = age >= HORIZON_FAIL_SECONDS ? "fail" : age >= HORIZON_WARN_SECONDS ? "warn" : "ok";
    const opened = holder.ageSeconds === null ? "" : `, transaction open ${holderAge(holder)}`;
    const started = holder.queryStart ? `, query started ${holder.queryStart.toISOString()}` : "";
    const advice = status === "ok" ? "" : `; VACUUM cannot remove dead rows newer than its snapshot: end it (pg_terminate_backend(${holder.pid ?? "pid"})) — see docs/operations.md`;
    checks.push({
      name: "xmin horizon",
      status,
      detail: `oldest snapshot held by ${describeHolder(holder)}${opened}${started}, ${Math.round(holder.xidAge)} transactions old (warn at ${HORIZON_WARN_SECONDS} s, fail at ${HORIZON_FAIL_SECONDS} s)${advice}`,
    });
  }
  if (vacuum) {
    const last = vacuum.vacuumAgeSeconds === null ? "never vacuumed" : `last (auto)vacuum ${Math.floor(vacuum.vacuumAgeSeconds)} s ago`;
    const high = deadTuplesHigh(vacuum);
    checks.push({
      name: "task_runs vacuum",
      status: high ? "warn" : "ok",
      detail: `${Math.round(vacuum.deadTuples)} dead rows, ${Math.round(vacuum.liveTuples)} live, ${last}, ${Math.round(vacuum.autovacuumCount)} autovacuums${high ? "; claims slow down as dead rows pile up: find what holds the xmin horizon" : ""}`,
    });
  }
  if (lockWait) {
    const blocker = lockWait.blockerPid === null
      ? "its blocker has gone"
      : `blocked by pid ${lockWait.blockerPid}, application "${lockWait.blockerApplication ?? ""}", ${lockWait.blockerState ?? "no state"}${lockWait.blockerMode ? `, holding ${lockWait.blockerMode}` : ""}`;
    checks.push({ name: "task_runs locks", status: "warn", detail: `${lockWait.waiting} session(s) waiting for a lock on task_runs for up to ${Math.floor(lockWait.waitSeconds)} s, ${blocker}` });
  }
  return checks;
}
