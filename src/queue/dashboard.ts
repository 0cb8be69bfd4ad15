// The reads behind `reproq top` (src/tui/data.ts composes them; actions reuse triage.ts, cancel.ts,
// replay.ts and controls.ts). Every statement is read-only and locks nothing. Each one is written
// so an index serves it on a large task_runs: READY/RUNNING/WAITING/FAILED through their partial
// indexes (idx_task_runs_ready_order, idx_task_runs_running_lease, idx_task_runs_parent_id,
// idx_task_runs_failed_at), recent completions through idx_task_runs_finished_at (0006), and the
// huge SUCCESSFUL/CANCELLED totals from planner statistics instead of a count. Reads that could
// grow with the table are bounded: per-queue READY/FAILED counts stop at a cap (estimated beyond),
// failure groups read the newest N failures, a free-text search the newest N rows, a READY page
// (claim order) or scheduled page about offset + limit rows per queue and priority level.
//
// "Scheduled" is a view, not a status: a READY row whose run_after is still in the future (a retry
// backoff, a delayed enqueue). Due READY rows are the others (run_after NULL or past).

import type { Queryable } from "../db/client.ts";
import type { TaskStatus } from "./types.ts";

/** Worker health thresholds on reproq_workers.last_seen_at (seconds, database clock). */
export const WORKER_ALIVE_SECONDS = 30;
export const WORKER_STALE_SECONDS = 120;

/** Which task_runs rows a task list, count or bulk action covers; no field = every row. */
export interface DashboardTaskFilter {
  queue?: string;
  status?: TaskStatus;
  /** task_path prefix; `*` matches any run of characters (`myapp.tasks.send_*`). */
  taskPath?: string;
  /** The last errors_json entry's exception_class (its kind when there is none). */
  exceptionClass?: string;
  /** ILIKE against task_path and last_error; a number also matches result_id. */
  text?: string;
  /**
   * Search `text` only among the newest `textWindow` rows by result_id (result_id > max − window),
   * so a rare string reads a bounded primary-key range instead of the whole table. An exact
   * result_id match is found at any age.
   */
  textWindow?: number;
  /** Only rows with result_id ≤ this (a bulk action's bound from its preview). */
  maxResultId?: string;
  /** Only rows with result_id > this (the failures that arrived after a preview). */
  afterResultId?: string;
  /** true: only rows due now (run_after NULL or past); false: only rows whose run_after is in the future. */
  due?: boolean;
}

function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

const TASK_PATH = "coalesce(nullif(task_path, ''), spec_json->>'task_path')";
const EXCEPTION_CLASS = "coalesce(nullif(errors_json->-1->>'exception_class', ''), nullif(errors_json->-1->>'kind', ''))";
const ONE_LINE_MESSAGE = "btrim(split_part(coalesce(nullif(last_error, ''), errors_json->-1->>'message', ''), E'\\n', 1))";
/** run_after as idx_task_runs_claim_due (0003) indexes it: NULL (due at once) sorts first. */
const DUE_AT = "coalesce(run_after, '-infinity'::timestamptz)";
/** Seconds until run_after of a READY row that is not due yet (scheduled); NULL otherwise. */
const DUE_IN_SECONDS = "case when status = 'READY' and run_after > now() then extract(epoch from run_after - now())::float8 end";

function filterSql(sql: Queryable, filter: DashboardTaskFilter) {
  const text = filter.text?.trim() ?? "";
  const pathPattern = filter.taskPath === undefined ? undefined : `${filter.taskPath.split("*").map(likeEscape).join("%")}%`;
  const textPattern = `%${likeEscape(text)}%`;
  const window = filter.textWindow !== undefined && filter.textWindow > 0
    ? sql`result_id > (select max(result_id) from task_runs) - ${Math.floor(filter.textWindow)}::bigint`
    : sql`true`;
  return sql`
    ${filter.maxResultId === undefined ? sql`` : sql`and result_id <= ${filter.maxResultId}::bigint`}
    ${filter.afterResultId === undefined ? sql`` : sql`and result_id > ${filter.afterResultId}::bigint`}
    ${filter.queue === undefined ? sql`` : sql`and queue_name = ${filter.queue}`}
    ${filter.status === undefined ? sql`` : sql`and status = ${filter.status}`}
    ${filter.due === undefined ? sql``
      : filter.due ? sql`and (run_after is null or run_after <= now())`
      : sql`and run_after is not null and run_after > now()`}
    ${pathPattern === undefined ? sql`` : sql`and ${sql.unsafe(TASK_PATH)} like ${pathPattern}`}
    ${filter.exceptionClass === undefined ? sql`` : sql`and ${sql.unsafe(EXCEPTION_CLASS)} = ${filter.exceptionClass}`}
    ${text === ""
      ? sql``
      : /^\d{1,18}$/.test(text)
        ? sql`and (result_id = ${text}::bigint or (${window} and (task_path ilike ${textPattern} or last_error ilike ${textPattern})))`
        : sql`and ${window} and (task_path ilike ${textPattern} or last_error ilike ${textPattern})`}`;
}

export interface DashboardQueueCountRow {
  queue: string;
  /**
   * Every READY row (due and scheduled), the scheduled ones among them (run_after in the future)
   * and FAILED, each counted up to the `cap` given to the read: cap + 1 means "more than cap".
   */
  ready: number;
  scheduled: number;
  running: number;
  waiting: number;
  failed: number;
  /** NOW() − max(enqueued_at, run_after) of the oldest due READY row; null when none is due. */
  oldestReadySeconds: number | null;
}

const DUE_KEY = "coalesce(t.run_after, '-infinity'::timestamptz)";

/**
 * `ready_q`: the queues that have READY rows, by a loose index scan of idx_task_runs_claim (one
 * probe per queue); ends with a NULL row. Needs WITH RECURSIVE.
 */
function readyQueueScan(sql: Queryable) {
  return sql`ready_q as (
      (select queue_name from task_runs where status = 'READY' order by queue_name limit 1)
      union all
      select (select t.queue_name from task_runs t where t.status = 'READY' and t.queue_name > r.queue_name order by t.queue_name limit 1)
      from ready_q r where r.queue_name is not null
    )`;
}

// Per-queue READY (all, and the scheduled ones), RUNNING, WAITING and FAILED counts and the
// oldest due READY age, reading only index entries, never every READY/FAILED row's heap tuple:
// * the queues with READY / FAILED rows by a loose index scan (one index probe per queue) over
//   idx_task_runs_claim (queue_name, …) WHERE READY and idx_task_runs_failed_queue (0007);
// * READY per queue counted through idx_task_runs_claim, the scheduled ones as the future
//   run_after range of idx_task_runs_ready_run_after (0009), FAILED through
//   idx_task_runs_failed_queue, each up to `cap` + 1 rows (the caller shows more than `cap` as an
//   estimate); RUNNING and WAITING (few) grouped through their partial indexes;
// * the oldest due READY row per queue through idx_task_runs_claim_due (queue_name,
//   COALESCE(run_after, '-infinity'), priority DESC, enqueued_at): for rows without run_after the
//   first entry of each priority level (a loose scan over the levels), for rows with a past
//   run_after the 100 earliest run_after entries. Exact unless a queue holds more than 100 due rows
//   whose run_after precedes their enqueued_at; it can then show a younger age, never an older one.
export async function dashboardQueueCountsRead(sql: Queryable, params: { cap: number }): Promise<DashboardQueueCountRow[]> {
  const limit = Math.max(1, Math.floor(params.cap)) + 1;
  return sql<DashboardQueueCountRow[]>`
    with recursive
    ${readyQueueScan(sql)},
    failed_q as (
      (select queue_name from task_runs where status = 'FAILED' order by queue_name limit 1)
      union all
      select (select t.queue_name from task_runs t where t.status = 'FAILED' and t.queue_name > r.queue_name order by t.queue_name limit 1)
      from failed_q r where r.queue_name is not null
    ),
    other as (
      select queue_name, count(*) as running, 0 as waiting from task_runs where status = 'RUNNING' group by queue_name
      union all
      select queue_name, 0, count(*) from task_runs where status = 'WAITING' group by queue_name
    ),
    queues as (
      select queue_name from ready_q where queue_name is not null
      union select queue_name from failed_q where queue_name is not null
      union select queue_name from other
    ),
    counted as (
      select q.queue_name,
             (select count(*) from (select 1 from task_runs t where t.status = 'READY' and t.queue_name = q.queue_name limit ${limit}) s) as ready,
             (select count(*) from (select 1 from task_runs t where t.status = 'READY' and t.queue_name = q.queue_name
                                    and t.run_after is not null and t.run_after > now() limit ${limit}) s) as scheduled,
             (select count(*) from (select 1 from task_runs t where t.status = 'FAILED' and t.queue_name = q.queue_name limit ${limit}) s) as failed,
             (select sum(o.running) from other o where o.queue_name = q.queue_name) as running,
             (select sum(o.waiting) from other o where o.queue_name = q.queue_name) as waiting,
             least(
               (with recursive levels as (
                  (select t.priority, t.enqueued_at from task_runs t
                   where t.status = 'READY' and t.queue_name = q.queue_name and ${sql.unsafe(DUE_KEY)} = '-infinity'
                   order by t.priority desc, t.enqueued_at limit 1)
                  union all
                  select n.priority, n.enqueued_at from levels l cross join lateral (
                    select t.priority, t.enqueued_at from task_runs t
                    where t.status = 'READY' and t.queue_name = q.queue_name and ${sql.unsafe(DUE_KEY)} = '-infinity' and t.priority < l.priority
                    order by t.priority desc, t.enqueued_at limit 1) n
                ) select min(enqueued_at) from levels),
               (select min(greatest(s.enqueued_at, s.run_after)) from (
                  select t.enqueued_at, t.run_after from task_runs t
                  where t.status = 'READY' and t.queue_name = q.queue_name
                    and ${sql.unsafe(DUE_KEY)} > '-infinity' and ${sql.unsafe(DUE_KEY)} <= now()
                  order by ${sql.unsafe(DUE_KEY)} limit 100) s)
             ) as oldest_due
      from queues q
    )
    select queue_name as queue, ready::int as ready, scheduled::int as scheduled, coalesce(running, 0)::int as running,
           coalesce(waiting, 0)::int as waiting, failed::int as failed,
           case when oldest_due is null then null
                else greatest(0, extract(epoch from now() - oldest_due))::float8 end as "oldestReadySeconds"
    from counted order by queue_name`;
}

export interface DashboardQueueNameRow {
  queue: string;
  paused: boolean;
  pausedReason: string | null;
}

// Queues known without reading task_runs: every reproq_queue_controls row (with its pause state)
// and every queue a registered worker serves. Ordered by name.
export async function dashboardQueueNamesRead(sql: Queryable): Promise<DashboardQueueNameRow[]> {
  return sql<DashboardQueueNameRow[]>`
    with names as (
      select queue_name from reproq_queue_controls
      union
      select jsonb_array_elements_text(queues) from reproq_workers where jsonb_typeof(queues) = 'array'
    )
    select n.queue_name as queue, coalesce(c.paused, false) as paused,
           case when coalesce(c.paused, false) then c.reason end as "pausedReason"
    from names n left join reproq_queue_controls c on c.queue_name = n.queue_name
    order by n.queue_name`;
}

export interface DashboardThroughputRow {
  finished1m: number;
  finished5m: number;
  successful5m: number;
  failed5m: number;
}

// Rows that finished (finished_at set: SUCCESSFUL, FAILED, CANCELLED) in the last 1 and 5 minutes,
// and how many of the 5-minute ones succeeded or failed. Served by idx_task_runs_finished_at.
export async function dashboardThroughputRead(sql: Queryable): Promise<DashboardThroughputRow> {
  const [row] = await sql<DashboardThroughputRow[]>`
    select count(*) filter (where finished_at > now() - interval '1 minute')::int as "finished1m",
           count(*)::int as "finished5m",
           count(*) filter (where status = 'SUCCESSFUL')::int as "successful5m",
           count(*) filter (where status = 'FAILED')::int as "failed5m"
    from task_runs
    where finished_at > now() - interval '5 minutes'`;
  return row!;
}

export interface DashboardCompletionRow {
  queue: string;
  /** Whole minutes ago: 0 = the last 60 seconds. */
  minutesAgo: number;
  count: number;
}

// Finished rows per queue per minute over the last `minutes` minutes (finished_at, index-served).
export async function dashboardCompletionsRead(sql: Queryable, params: { minutes: number }): Promise<DashboardCompletionRow[]> {
  return sql<DashboardCompletionRow[]>`
    select queue_name as queue,
           least(${params.minutes - 1}::int, floor(extract(epoch from now() - finished_at) / 60))::int as "minutesAgo",
           count(*)::int as count
    from task_runs
    where finished_at > now() - make_interval(mins => ${params.minutes}::int) and finished_at <= now()
    group by 1, 2`;
}

export interface DashboardStatusStatsRow {
  /** Current size of task_runs in pages (pg_relation_size; no scan). */
  pages: number;
  /** Planner statistics: rows and pages at the last ANALYZE/VACUUM (-1/0 when never analysed). */
  reltuples: number;
  relpages: number;
  /** pg_stats most common status values and their frequencies (empty before ANALYZE). */
  statuses: string[];
  frequencies: number[];
}

// Reads task_runs' size and the planner's status statistics (pg_class, pg_stats): the basis of the
// estimated SUCCESSFUL/CANCELLED totals. Catalog reads only.
export async function dashboardStatusStatsRead(sql: Queryable): Promise<DashboardStatusStatsRow> {
  const [row] = await sql<DashboardStatusStatsRow[]>`
    select (pg_relation_size(c.oid) / current_setting('block_size')::int)::float8 as pages,
           c.reltuples::float8 as reltuples, c.relpages::float8 as relpages,
           coalesce((select s.most_common_vals::text::text[] from pg_stats s
                     where s.schemaname = n.nspname and s.tablename = c.relname and s.attname = 'status'), '{}') as statuses,
           coalesce((select s.most_common_freqs::float8[] from pg_stats s
                     where s.schemaname = n.nspname and s.tablename = c.relname and s.attname = 'status'), '{}') as frequencies
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.oid = 'task_runs'::regclass`;
  return row!;
}

// Exact SUCCESSFUL and CANCELLED totals. Reads the whole table: call it only when it is small
// (dashboardStatusStatsRead's pages), never on a large task_runs.
export async function dashboardFinishedCountsRead(sql: Queryable): Promise<{ successful: number; cancelled: number }> {
  const [row] = await sql<{ successful: number; cancelled: number }[]>`
    select count(*) filter (where status = 'SUCCESSFUL')::float8 as successful,
           count(*) filter (where status = 'CANCELLED')::float8 as cancelled
    from task_runs`;
  return row!;
}

export interface DashboardFailureRow {
  resultId: string;
  queue: string;
  taskPath: string | null;
  exceptionClass: string | null;
  message: string;
  failedAt: Date | null;
  attempts: number;
  maxAttempts: number;
}

// The newest `limit` FAILED rows by failed_at (idx_task_runs_failed_at read backwards; rows
// without failed_at are left out), with a one-line message.
export async function dashboardRecentFailuresRead(sql: Queryable, params: { limit: number }): Promise<DashboardFailureRow[]> {
  return sql<DashboardFailureRow[]>`
    select result_id as "resultId", queue_name as queue, ${sql.unsafe(TASK_PATH)} as "taskPath",
           nullif(errors_json->-1->>'exception_class', '') as "exceptionClass",
           ${sql.unsafe(ONE_LINE_MESSAGE)} as message,
           failed_at as "failedAt", attempts, max_attempts as "maxAttempts"
    from task_runs
    where status = 'FAILED' and failed_at is not null
    order by failed_at desc, result_id desc
    limit ${params.limit}`;
}

export interface DashboardWorkerRow {
  workerId: string;
  hostname: string;
  version: string | null;
  queues: string[];
  concurrency: number;
  running: number;
  startedAt: Date | null;
  lastSeenSeconds: number | null;
  health: "alive" | "stale" | "dead";
}

// Every registered worker, most recently seen first, with its RUNNING rows (leased_by, read
// through the RUNNING partial index) and health from last_seen_at (alive < 30 s, stale < 2 min).
export async function dashboardWorkersRead(sql: Queryable): Promise<DashboardWorkerRow[]> {
  return sql<DashboardWorkerRow[]>`
    with running as (
      select leased_by, count(*)::int as n from task_runs
      where status = 'RUNNING' and leased_by is not null group by leased_by
    )
    select w.worker_id as "workerId", coalesce(w.hostname, '') as hostname, w.version,
           case when jsonb_typeof(w.queues) = 'array' then array(select jsonb_array_elements_text(w.queues)) else '{}'::text[] end as queues,
           coalesce(w.concurrency, 0) as concurrency, coalesce(r.n, 0) as running, w.started_at as "startedAt",
           greatest(0, extract(epoch from now() - w.last_seen_at))::float8 as "lastSeenSeconds",
           case when w.last_seen_at > now() - make_interval(secs => ${WORKER_ALIVE_SECONDS}) then 'alive'
                when w.last_seen_at > now() - make_interval(secs => ${WORKER_STALE_SECONDS}) then 'stale'
                else 'dead' end as health
    from reproq_workers w left join running r on r.leased_by = w.worker_id
    order by w.last_seen_at desc, w.worker_id`;
}

export interface DashboardFailureGroupRow {
  taskPath: string | null;
  exceptionClass: string | null;
  count: number;
  lastFailedAt: Date | null;
  sampleMessage: string;
  /** FAILED rows the grouping read (the window): equal to the window size when it was full. */
  scanned: number;
  /** Groups in the window (more than the rows returned when `limit` cut the list). */
  groupCount: number;
}

// FAILED rows grouped by task path and the last errors_json entry's exception class (its kind when
// there is none) — taskSummarizeFailures' grouping — with the newest failure's one-line message.
// Most frequent first, at most `limit` groups. Bounded: only the newest `window` FAILED rows by
// failed_at (idx_task_runs_failed_at read backwards), plus up to `window` FAILED rows without a
// failed_at (written by older versions; found through the same index), so a refresh never reads
// every FAILED row; `scanned` tells the caller whether the window was full, `groupCount` how many
// groups the window holds.
export async function dashboardFailureGroupsRead(sql: Queryable, params: { limit: number; window: number }): Promise<DashboardFailureGroupRow[]> {
  const window = Math.max(1, Math.floor(params.window));
  return sql<DashboardFailureGroupRow[]>`
    with f as materialized (
      select ${sql.unsafe(TASK_PATH)} as task_path, ${sql.unsafe(EXCEPTION_CLASS)} as exception_class,
             coalesce(failed_at, finished_at, updated_at) as at, result_id,
             last_error, errors_json->-1->>'message' as entry_message
      from (
        (select * from task_runs where status = 'FAILED' and failed_at is not null order by failed_at desc limit ${window})
        union all
        (select * from task_runs where status = 'FAILED' and failed_at is null limit ${window})
      ) w
    ),
    n as (select count(*)::int as scanned, (select count(*) from (select 1 from f group by task_path, exception_class) x)::int as group_count from f),
    g as (
      select task_path, exception_class, count(*)::int as count, max(at) as last_at
      from f group by 1, 2
      order by count desc, last_at desc nulls last, 1, 2
      limit ${params.limit}
    ),
    sample as (
      select distinct on (f.task_path, f.exception_class) f.task_path, f.exception_class,
             btrim(split_part(coalesce(nullif(f.last_error, ''), f.entry_message, ''), E'\n', 1)) as message
      from f join g on g.task_path is not distinct from f.task_path and g.exception_class is not distinct from f.exception_class
      order by f.task_path, f.exception_class, f.at desc nulls last, f.result_id desc
    )
    select g.task_path as "taskPath", g.exception_class as "exceptionClass", g.count, g.last_at as "lastFailedAt",
           coalesce(s.message, '') as "sampleMessage", n.scanned, n.group_count as "groupCount"
    from g cross join n
    left join sample s on s.task_path is not distinct from g.task_path and s.exception_class is not distinct from g.exception_class
    order by g.count desc, g.last_at desc nulls last, 1, 2`;
}

export interface DashboardPeriodicRow {
  name: string;
  cronExpr: string;
  taskPath: string;
  queue: string;
  enabled: boolean;
  nextRunAt: Date | null;
  nextRunInSeconds: number | null;
  lastRunAt: Date | null;
}

// Every periodic_tasks row by name, with seconds until next_run_at (negative when overdue).
export async function dashboardPeriodicRead(sql: Queryable): Promise<DashboardPeriodicRow[]> {
  return sql<DashboardPeriodicRow[]>`
    select name, cron_expr as "cronExpr", task_path as "taskPath", queue_name as queue, enabled,
           next_run_at as "nextRunAt", extract(epoch from next_run_at - now())::float8 as "nextRunInSeconds",
           last_run_at as "lastRunAt"
    from periodic_tasks order by name`;
}

export interface DashboardTaskListRow {
  resultId: string;
  queue: string;
  status: TaskStatus;
  taskPath: string | null;
  priority: number;
  attempts: number;
  maxAttempts: number;
  enqueuedAt: Date;
  ageSeconds: number;
  /** Seconds until run_after for a READY row that is not due yet (scheduled); else null. */
  dueInSeconds: number | null;
  lastError: string | null;
}

/** The columns of a task list row (DashboardTaskListRow), over task_runs unqualified. */
const TASK_LIST_COLUMNS = `result_id as "resultId", queue_name as queue, status, ${TASK_PATH} as "taskPath", priority,
  attempts, max_attempts as "maxAttempts", enqueued_at as "enqueuedAt",
  greatest(0, extract(epoch from now() - coalesce(finished_at, enqueued_at)))::float8 as "ageSeconds",
  ${DUE_IN_SECONDS} as "dueInSeconds", last_error as "lastError"`;
/** The same columns by their output names (to select them back from a CTE). */
const TASK_LIST_NAMES = `"resultId", queue, status, "taskPath", priority, attempts, "maxAttempts", "enqueuedAt", "ageSeconds", "dueInSeconds", "lastError"`;

// One page of rows matching `filter`, newest (highest result_id) first.
export async function dashboardTaskPageRead(
  sql: Queryable,
  params: { filter: DashboardTaskFilter; offset: number; limit: number },
): Promise<DashboardTaskListRow[]> {
  return sql<DashboardTaskListRow[]>`
    select ${sql.unsafe(TASK_LIST_COLUMNS)}
    from task_runs
    where true ${filterSql(sql, params.filter)}
    order by result_id desc
    limit ${params.limit} offset ${params.offset}`;
}

/** `queues`: the one queue of the filter, else every queue with READY rows (readyQueueScan). */
function pageQueues(sql: Queryable, queue: string | undefined) {
  return queue === undefined
    ? sql`${readyQueueScan(sql)}, queues as (select queue_name from ready_q where queue_name is not null)`
    : sql`queues as (select ${queue}::text as queue_name)`;
}

/** The rest of a READY page's filter: queue, status and due are the page query's own. */
function pageFilter(filter: DashboardTaskFilter): DashboardTaskFilter {
  return { ...filter, queue: undefined, status: undefined, due: undefined };
}

// One page of due READY rows matching `filter` (its status and due are implied) in claim order
// (taskClaimPick's): effective priority first (priority + seconds waiting / priorityAgingFactor;
// plain priority when the factor is ≤ 0), then enqueued_at, then result_id. Index-served like the
// claim: the priority levels of each queue by a loose scan of idx_task_runs_ready_order, then per
// level its first offset + limit due rows in index order (oldest first, which within one level is
// also highest effective priority first), merged. Reads about (offset + limit) × levels rows
// whatever the backlog. Across queues the rows are merged by effective priority, whereas workers
// interleave their queues; rows a claim would skip for now (lock_key held, concurrency or rate
// limit reached, queue paused) keep their place.
export async function dashboardReadyPageRead(
  sql: Queryable,
  params: { filter: DashboardTaskFilter; offset: number; limit: number; priorityAgingFactor: number },
): Promise<DashboardTaskListRow[]> {
  const take = params.offset + params.limit;
  const factor = params.priorityAgingFactor;
  return sql<DashboardTaskListRow[]>`
    with recursive
    ${pageQueues(sql, params.filter.queue)},
    levels as (
      select q.queue_name,
             (select t.priority from task_runs t where t.status = 'READY' and t.queue_name = q.queue_name
              order by t.priority desc limit 1) as priority
      from queues q
      union all
      select l.queue_name,
             (select t.priority from task_runs t where t.status = 'READY' and t.queue_name = l.queue_name and t.priority < l.priority
              order by t.priority desc limit 1)
      from levels l where l.priority is not null
    ),
    candidates as (
      select c.* from levels l cross join lateral (
        select ${sql.unsafe(TASK_LIST_COLUMNS)},
               case when ${factor}::float8 > 0
                    then priority + greatest(0, extract(epoch from now() - enqueued_at))::float8 / ${factor}::float8
                    else priority end as effective
        from task_runs
        where status = 'READY' and queue_name = l.queue_name and priority = l.priority
          and ${sql.unsafe(DUE_AT)} <= now()
          ${filterSql(sql, pageFilter(params.filter))}
        order by enqueued_at, result_id
        limit ${take}
      ) c
      where l.priority is not null
    )
    select ${sql.unsafe(TASK_LIST_NAMES)} from candidates
    order by effective desc, "enqueuedAt", "resultId"
    limit ${params.limit} offset ${params.offset}`;
}

// One page of scheduled READY rows (run_after in the future) matching `filter`, soonest due first
// (then priority, enqueued_at, result_id): the order they will become due. Per queue the first
// offset + limit rows of the future run_after range of idx_task_runs_claim_due, merged.
export async function dashboardScheduledPageRead(
  sql: Queryable,
  params: { filter: DashboardTaskFilter; offset: number; limit: number },
): Promise<DashboardTaskListRow[]> {
  const take = params.offset + params.limit;
  return sql<DashboardTaskListRow[]>`
    with recursive
    ${pageQueues(sql, params.filter.queue)},
    candidates as (
      select c.* from queues q cross join lateral (
        select ${sql.unsafe(TASK_LIST_COLUMNS)}, ${sql.unsafe(DUE_AT)} as due_at
        from task_runs
        where status = 'READY' and queue_name = q.queue_name and ${sql.unsafe(DUE_AT)} > now()
          ${filterSql(sql, pageFilter(params.filter))}
        order by ${sql.unsafe(DUE_AT)}, priority desc, enqueued_at, result_id
        limit ${take}
      ) c
    )
    select ${sql.unsafe(TASK_LIST_NAMES)} from candidates
    order by due_at, priority desc, "enqueuedAt", "resultId"
    limit ${params.limit} offset ${params.offset}`;
}

// Counts the rows matching `filter`, stopping at `cap` (returns at most `cap`). Cheap when the
// filter names a READY/RUNNING/WAITING/FAILED status (partial index) or matches densely.
export async function dashboardTaskCountRead(sql: Queryable, params: { filter: DashboardTaskFilter; cap: number }): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::float8 as n from (
      select 1 from task_runs where true ${filterSql(sql, params.filter)} limit ${params.cap}
    ) s`;
  return row!.n;
}

// The planner's estimate of the rows matching `filter` (EXPLAIN, nothing is read or run).
export async function dashboardTaskCountEstimate(sql: Queryable, params: { filter: DashboardTaskFilter }): Promise<number> {
  const rows = await sql<{ "QUERY PLAN": [{ Plan: { "Plan Rows": number } }] }[]>`
    explain (format json) select 1 from task_runs where true ${filterSql(sql, params.filter)}`;
  return Math.round(rows[0]?.["QUERY PLAN"][0]?.Plan["Plan Rows"] ?? 0);
}

// The ids of FAILED rows matching `filter` (its status must be FAILED or absent), ascending, at
// most `limit`: the rows a bulk retry/discard from the dashboard touches.
export async function dashboardFailedIdsRead(sql: Queryable, params: { filter: DashboardTaskFilter; limit: number }): Promise<string[]> {
  const rows = await sql<{ result_id: string }[]>`
    select result_id from task_runs
    where status = 'FAILED' ${filterSql(sql, { ...params.filter, status: undefined })}
    order by result_id
    limit ${params.limit}`;
  return rows.map((r) => r.result_id);
}

// What a bulk retry/discard preview saw: how many FAILED rows match `filter` (counting stops at
// `limit` + 1) and the highest result_id among the first `limit` by id (null when none). The
// perform step acts only on rows ≤ that id, so failures that arrive after the preview are left out.
export async function dashboardFailedBoundRead(
  sql: Queryable,
  params: { filter: DashboardTaskFilter; limit: number },
): Promise<{ count: number; maxResultId: string | null }> {
  const [row] = await sql<{ count: number; maxResultId: string | null }[]>`
    select count(*)::int as count, max(result_id) filter (where rn <= ${params.limit}) as "maxResultId" from (
      select result_id, row_number() over (order by result_id) as rn from task_runs
      where status = 'FAILED' ${filterSql(sql, { ...params.filter, status: undefined })}
      order by result_id
      limit ${params.limit + 1}
    ) s`;
  return { count: row!.count, maxResultId: row!.maxResultId === null ? null : String(row!.maxResultId) };
}

// Whether task_runs holds rows older than the newest `window` by result_id (a text search with
// that window then skips them). Two primary-key probes.
export async function dashboardOlderThanWindowRead(sql: Queryable, params: { window: number }): Promise<boolean> {
  const [row] = await sql<{ older: boolean | null }[]>`
    select (select min(result_id) from task_runs) <= (select max(result_id) from task_runs) - ${Math.floor(params.window)}::bigint as older`;
  return row!.older === true;
}

export interface DashboardTaskRow {
  resultId: string;
  queue: string;
  status: TaskStatus;
  priority: number;
  taskPath: string | null;
  attempts: number;
  maxAttempts: number;
  enqueuedAt: Date;
  runAfter: Date | null;
  /** Seconds until run_after when the row is READY and not due yet; else null. */
  dueInSeconds: number | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  durationSeconds: number | null;
  leasedBy: string | null;
  workerIds: unknown;
  specHash: string;
  /** spec_json as text (key order as stored). */
  specText: string;
  /** return_json as text; null when SQL NULL. */
  returnText: string | null;
  errors: unknown;
  lastError: string | null;
  logsUri: string | null;
  workflowId: string | null;
  parentId: string | null;
  cancelRequested: boolean;
}

// One row by result_id with everything the detail view shows; null when it does not exist.
export async function dashboardTaskRead(sql: Queryable, params: { resultId: string }): Promise<DashboardTaskRow | null> {
  if (!/^\d{1,18}$/.test(params.resultId)) return null;
  const [row] = await sql<DashboardTaskRow[]>`
    select result_id as "resultId", queue_name as queue, status, priority, ${sql.unsafe(TASK_PATH)} as "taskPath",
           attempts, max_attempts as "maxAttempts", enqueued_at as "enqueuedAt", run_after as "runAfter",
           ${sql.unsafe(DUE_IN_SECONDS)} as "dueInSeconds", started_at as "startedAt", finished_at as "finishedAt",
           extract(epoch from finished_at - started_at)::float8 as "durationSeconds",
           leased_by as "leasedBy", worker_ids as "workerIds", rtrim(spec_hash) as "specHash",
           spec_json::text as "specText", return_json::text as "returnText", errors_json as errors,
           last_error as "lastError", logs_uri as "logsUri", workflow_id::text as "workflowId",
           parent_id as "parentId", cancel_requested as "cancelRequested"
    from task_runs where result_id = ${params.resultId}::bigint`;
  return row ?? null;
}
