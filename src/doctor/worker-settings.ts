// Doctor checks of worker settings that fail quietly at run time: an allow-list that refuses the
// project's tasks (or allows everything), and a logs_dir that cannot be written.
import type { Config } from "../config/index.ts";
import type { Queryable } from "../db/client.ts";
import { allowListWarning, effectiveAllowList, isTaskPathAllowed, logsDirProblem } from "../executor/index.ts";
import { errorMessage } from "../errors.ts";
import { statsQueuedTaskPaths, type QueuedTaskPath } from "../queue/index.ts";
import type { DoctorCheck } from "./index.ts";

/** Task paths looked at in the queued-rows check (the most common ones). */
const QUEUED_PATHS_LIMIT = 1000;
/** Refused task paths named in the check's detail. */
const NAMED_PATHS = 5;

export async function workerSettingChecks(config: Config): Promise<DoctorCheck[]> {
  const allowed = config.worker.allowedTaskModules;
  const warning = allowListWarning(allowed);
  const checks: DoctorCheck[] = [warning
    ? { name: "allowed_task_modules", status: "warn", detail: `${warning.message}; ${warning.hint}` }
    : { name: "allowed_task_modules", status: "ok", detail: effectiveAllowList(allowed).join(", ") }];
  if (config.worker.logsDir !== "") {
    const problem = await logsDirProblem(config);
    checks.push({ name: "logs_dir", status: problem ? "fail" : "ok", detail: problem ?? `${config.worker.logsDir} is writable` });
  }
  return checks;
}

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? "" : "s"}`;

/** How many queued rows this allow-list would refuse (security_violation), by task path. */
export async function queuedTaskPathCheck(sql: Queryable, allowed: readonly string[]): Promise<DoctorCheck> {
  const name = "queued task paths";
  let paths: QueuedTaskPath[];
  try {
    paths = await statsQueuedTaskPaths(sql, QUEUED_PATHS_LIMIT);
  } catch (error) {
    return { name, status: "warn", detail: `could not read the queued rows: ${errorMessage(error)}` };
  }
  const total = paths.reduce((sum, path) => sum + path.rows, 0);
  if (total === 0) return { name, status: "ok", detail: "no READY/WAITING rows" };
  // A row with no task path at all fails as invalid_spec, not here.
  const outside = paths.filter((path) => path.taskPath !== "" && !isTaskPathAllowed(path.taskPath, allowed));
  const outsideRows = outside.reduce((sum, path) => sum + path.rows, 0);
  const mismatched = paths.filter((path) => !outside.includes(path)).reduce((sum, path) => sum + path.mismatched, 0);
  const scope = paths.length === QUEUED_PATHS_LIMIT ? ` (the ${QUEUED_PATHS_LIMIT} most common task paths)` : "";
  if (outsideRows + mismatched === 0) return { name, status: "ok", detail: `all ${plural(total, "READY/WAITING row")} are allowed${scope}` };
  const reasons: string[] = [];
  if (outsideRows > 0) {
    const named = outside.slice(0, NAMED_PATHS).map((path) => `${path.taskPath}: ${path.rows}`);
    if (outside.length > NAMED_PATHS) named.push(`${outside.length - NAMED_PATHS} more`);
    reasons.push(`${outsideRows} outside the allow-list (${named.join(", ")})`);
  }
  if (mismatched > 0) reasons.push(`${mismatched} whose spec_json.task_path differs from its task_path column`);
  return {
    name,
    status: "warn",
    detail: `${outsideRows + mismatched} of ${plural(total, "READY/WAITING row")} would fail as security_violation${scope}: ${reasons.join(", ")}`,
  };
}
