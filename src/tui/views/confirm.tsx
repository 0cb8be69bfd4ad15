// The confirmation dialog every action passes through: what will change (the source's preview),
// then y/enter to do it or n/esc to leave everything as it is. The answers name what they do
// ("yes, cancel it" / "no, keep it"), so the way out of a cancel dialog is not itself "cancel".
// While a bulk action runs it shows its progress, and esc stops it after the batch in progress.
import { Box, Text } from "ink";
import { formatNumber, wrapWords } from "../format.ts";
import type { Action, ActionPreview, ActionProgress } from "../model.ts";
import { Styled } from "../theme.tsx";

export interface ConfirmState {
  action: Action;
  preview: ActionPreview | null;
  /** "preview" while asking what would change, "running" while performing. */
  phase: "preview" | "ready" | "running";
  error: string | null;
  /** While running: batches done so far (bulk actions). */
  progress?: ActionProgress | null;
  /** esc was pressed while running: stopping after the batch in progress. */
  stopping?: boolean;
}

const BAR_WIDTH = 30;

function progressLine(progress: ActionProgress): string {
  const ratio = progress.total === 0 ? 1 : Math.min(1, progress.done / progress.total);
  const filled = Math.round(ratio * BAR_WIDTH);
  return `${"█".repeat(filled)}${"░".repeat(BAR_WIDTH - filled)} ${formatNumber(progress.done)} of ${formatNumber(progress.total)} (${Math.floor(ratio * 100)}%)`;
}

export function actionTitle(action: Action): string {
  switch (action.kind) {
    case "retry": return `Retry task ${action.resultId}?`;
    case "discard": return `Discard task ${action.resultId}?`;
    case "cancel": return `Cancel task ${action.resultId}?`;
    case "replay": return `Replay task ${action.resultId}?`;
    case "retry-matching": return "Retry all matching tasks?";
    case "discard-matching": return "Discard all matching tasks?";
    case "pause-queue": return `Pause queue ${action.queue}?`;
    case "resume-queue": return `Resume queue ${action.queue}?`;
  }
}

/** The two answers, named by what they do: [yes, no]. */
export function answerLabels(action: Action): [string, string] {
  switch (action.kind) {
    case "retry": return ["yes, retry it", "no, leave it"];
    case "discard": return ["yes, discard it", "no, keep it"];
    case "cancel": return ["yes, cancel it", "no, keep it"];
    case "replay": return ["yes, replay it", "no"];
    case "retry-matching": return ["yes, retry them", "no, leave them"];
    case "discard-matching": return ["yes, discard them", "no, keep them"];
    case "pause-queue": return ["yes, pause it", "no, keep it running"];
    case "resume-queue": return ["yes, resume it", "no, keep it paused"];
  }
}

function bodyLines(state: ConfirmState, inner: number): string[] {
  if (state.error) return wrapWords(`could not preview: ${state.error}`, inner);
  if (!state.preview) return ["checking what would change…"];
  const lines = state.preview.summary.split("\n").flatMap((line) => wrapWords(line, inner));
  lines.push("", `rows affected: ${formatNumber(state.preview.count)}`);
  if (state.phase === "running" && state.progress) lines.push(progressLine(state.progress));
  return lines;
}

function dialogWidth(columns: number): number {
  return Math.max(30, Math.min(76, columns - 2));
}

/** Lines the dialog takes: border, title, body, footer. */
export function confirmHeight(state: ConfirmState, columns: number): number {
  return 4 + bodyLines(state, dialogWidth(columns) - 4).length;
}

export function ConfirmDialog(props: { state: ConfirmState; width: number }) {
  const width = dialogWidth(props.width);
  const inner = width - 4;
  const [yes, no] = answerLabels(props.state.action);
  const footer =
    props.state.phase === "running" ? (props.state.stopping ? "stopping after this batch…" : props.state.progress ? "working…    esc: stop after this batch" : "working…")
    : props.state.preview && !props.state.error && props.state.preview.count > 0 ? `y / enter: ${yes}    n / esc: ${no}`
    : "esc: close";
  return (
    <Box flexDirection="column" borderStyle="round" width={width} paddingX={1}>
      <Text wrap="truncate">
        <Styled bold tone="warn">{actionTitle(props.state.action)}</Styled>
      </Text>
      {bodyLines(props.state, inner).map((line, i) => (
        <Text key={i} wrap="truncate">{line === "" ? " " : line}</Text>
      ))}
      <Text wrap="truncate">
        <Styled tone="accent" bold>{footer}</Styled>
      </Text>
    </Box>
  );
}
