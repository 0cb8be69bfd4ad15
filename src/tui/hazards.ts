// The warning lines top shows above the queues when the database itself is the problem: a
// snapshot holding back the xmin horizon (VACUUM cannot clean task_runs, claims slow down), a
// pile of dead rows in task_runs, or writes to task_runs waiting for a lock. Each names who to
// look at (pid, application, state, age); docs/operations.md says what to do.
import { deadTuplesHigh, describeHolder } from "../observability/hazards.ts";
import { formatAge, formatAgo, formatNumber } from "./format.ts";
import type { DbHazards } from "./model.ts";

export function hazardWarnings(hazards: DbHazards | undefined): string[] {
  if (!hazards) return [];
  const lines: string[] = [];
  const { holder, vacuum, lockWait } = hazards;
  if (holder && (holder.ageSeconds ?? Number.POSITIVE_INFINITY) >= hazards.horizonWarnSeconds) {
    const age = holder.ageSeconds === null ? `${formatNumber(holder.xidAge)} transactions` : formatAge(holder.ageSeconds);
    lines.push(`⚠ xmin horizon held ${age} by ${describeHolder(holder)}: VACUUM cannot clean task_runs`);
  }
  if (vacuum && deadTuplesHigh(vacuum)) {
    lines.push(`⚠ task_runs has ${formatNumber(vacuum.deadTuples)} dead rows (${formatNumber(vacuum.liveTuples)} live), last vacuum ${vacuum.vacuumAgeSeconds === null ? "never" : formatAgo(vacuum.vacuumAgeSeconds)}`);
  }
  if (lockWait) {
    const blocker = lockWait.blockerPid === null
      ? "the blocker has gone"
      : `pid ${lockWait.blockerPid}, application "${lockWait.blockerApplication ?? ""}", ${lockWait.blockerState ?? "no state"}${lockWait.blockerMode ? `, ${lockWait.blockerMode}` : ""}`;
    lines.push(`⚠ task_runs locked: ${lockWait.waiting} waiting up to ${formatAge(lockWait.waitSeconds)} on ${blocker}`);
  }
  return lines;
}
