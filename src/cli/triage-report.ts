// The stdout lines of `triage retry` and `triage discard`: one line per skipped or locked row,
// then the summary. The summaries keep the Go worker's wording where it had one (`Retried <n>
// task(s)`, `No failed tasks updated.`, `Discarded <n> task(s)`, `No failed tasks discarded.`);
// skips give `retried 40, skipped 2` (SPEC §2).
import type { DiscardOutcome } from "../queue/triage-discard.ts";
import type { RetryOutcome, RetrySkip } from "../queue/triage-retry.ts";

/** Exit code when Ctrl-C stopped a bulk operation between batches (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;
/** Ids listed after "Restored N dependent task(s) to WAITING:" before "… and N more". */
const LISTED_IDS = 50;

export function skipLine(skip: RetrySkip): string {
  if (skip.parent !== null) {
    return `task ${skip.resultId} waits for task #${skip.parent.resultId} (${skip.parent.status}); retry #${skip.parent.resultId} to requeue both`;
  }
  return `task ${skip.resultId} is already queued as #${skip.activeId ?? "?"}`;
}

const lockedLine = (id: string) => `task ${id} is locked by another transaction; left as it was (run the command again)`;

function idList(ids: readonly string[]): string {
  const shown = ids.slice(0, LISTED_IDS).join(", ");
  return ids.length > LISTED_IDS ? `${shown} … and ${ids.length - LISTED_IDS} more` : shown;
}

const stoppedLine = (verb: string) => `Stopped by Ctrl-C between two batches: what is counted below is committed; run the command again to ${verb} the rest`;

export function retryLines(outcome: RetryOutcome, dryRun: boolean): string[] {
  const lines = [...outcome.skipped.map(skipLine), ...outcome.locked.map(lockedLine)];
  const retried = outcome.retried.length;
  const skipped = outcome.skipped.length + outcome.locked.length;
  if (outcome.stopped) lines.push(stoppedLine("retry"));
  if (dryRun) {
    lines.push(`Dry run: would retry ${retried} task(s)${skipped > 0 ? `, skip ${skipped}` : ""}; nothing changed`);
    if (outcome.restored.length > 0) lines.push(`Would restore ${outcome.restored.length} dependent task(s) to WAITING: ${idList(outcome.restored)}`);
  } else {
    if (skipped > 0) lines.push(`retried ${retried}, skipped ${skipped}`);
    else lines.push(retried === 0 ? "No failed tasks updated." : `Retried ${retried} task(s)`);
    if (outcome.restored.length > 0) lines.push(`Restored ${outcome.restored.length} dependent task(s) to WAITING: ${idList(outcome.restored)}`);
  }
  if (outcome.cancelledLeft > 0) {
    lines.push(`Left ${outcome.cancelledLeft} task(s) an operator cancelled as they are; add --include-cancelled to retry them too`);
  }
  return lines;
}

export function discardLines(outcome: DiscardOutcome, dryRun: boolean): string[] {
  const lines = outcome.locked.map(lockedLine);
  const discarded = outcome.discarded.length;
  if (outcome.stopped) lines.push(stoppedLine("discard"));
  if (dryRun) lines.push(`Dry run: would discard ${discarded} task(s); nothing changed`);
  else if (outcome.locked.length > 0) lines.push(`discarded ${discarded}, skipped ${outcome.locked.length}`);
  else lines.push(discarded === 0 ? "No failed tasks discarded." : `Discarded ${discarded} task(s)`);
  return lines;
}
