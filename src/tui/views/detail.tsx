// Task detail: one scrollable column of wrapped lines (j/k, PgUp/PgDn, g/G).
import { Box, Text } from "ink";
import { formatDuration, formatNumber, formatTimestamp, formatUntil, text, wrapLine } from "../format.ts";
import type { TaskDetail } from "../model.ts";
import { Styled, type Tone } from "../theme.tsx";
import { STATUS_TONE, taskState } from "./tasks.tsx";

export interface DetailLine {
  text: string;
  tone?: Tone | undefined;
  bold?: boolean;
}

function field(label: string, value: string, tone?: Tone): DetailLine {
  return { text: `${label.padEnd(14)}${value}`, tone };
}

function section(title: string): DetailLine[] {
  return [{ text: "" }, { text: title, tone: "title", bold: true }];
}

function pretty(value: unknown): string {
  if (value === undefined || value === null) return "–";
  try {
    return JSON.stringify(value, null, 2) ?? "–";
  } catch {
    return String(value);
  }
}

function block(body: string, tone?: Tone): DetailLine[] {
  return body.split("\n").map((line) => ({ text: `  ${line}`, tone }));
}

function statusText(d: TaskDetail): string {
  if (d.cancelRequested) return `${d.status} (cancel requested)`;
  if (taskState(d) === "SCHEDULED") return `${d.status} (scheduled: due ${formatUntil(d.dueInSeconds)})`;
  return d.status;
}

function summaryLines(d: TaskDetail): DetailLine[] {
  return [
    field("Status", statusText(d), STATUS_TONE[taskState(d)]),
    field("Task", text(d.taskPath)),
    field("Queue", d.queue),
    field("Priority", String(d.priority)),
    field("Attempts", `${d.attempts}/${d.maxAttempts}`),
    field("Enqueued", formatTimestamp(d.enqueuedAt)),
    field("Run after", formatTimestamp(d.runAfter)),
    field("Started", formatTimestamp(d.startedAt)),
    field("Finished", formatTimestamp(d.finishedAt)),
    field("Duration", formatDuration(d.durationSeconds)),
    field("Leased by", text(d.leasedBy)),
    field("Worker ids", d.workerIds.length > 0 ? d.workerIds.join(", ") : "–"),
    field("Workflow", text(d.workflowId)),
    field("Parent", text(d.parentId)),
    field("Spec hash", text(d.specHash)),
  ];
}

function errorLines(d: TaskDetail): DetailLine[] {
  if (d.errors.length === 0) return d.lastError ? [...section("Last error"), ...block(d.lastError, "bad")] : [];
  const lines = section(`Errors (${formatNumber(d.errors.length)})`);
  d.errors.forEach((e, i) => {
    const head = [`#${i + 1}`, e.kind, e.attempt === null ? null : `attempt ${e.attempt}`, e.at].filter((p) => p !== null && p !== "").join("  ");
    lines.push({ text: `  ${head}`, tone: "muted" });
    lines.push({ text: `  ${text(e.exceptionClass)}: ${e.message}`, tone: "bad" });
    if (e.traceback) lines.push(...block(e.traceback.replace(/\n+$/, "")));
  });
  return lines;
}

/** Every line of the detail screen, wrapped to `width`. */
export function detailLines(d: TaskDetail, width: number): DetailLine[] {
  const lines: DetailLine[] = [
    { text: `Task ${d.resultId}`, tone: "accent", bold: true },
    ...summaryLines(d),
    ...section("Arguments"),
    ...block(`args:   ${pretty(d.args)}`),
    ...block(`kwargs: ${pretty(d.kwargs)}`),
    ...errorLines(d),
    ...section("Return value"),
    ...block(d.returnPretty ?? "–"),
    ...section(`Log tail${d.logsUri ? ` (${d.logsUri})` : ""}`),
    ...block(d.logTail ? d.logTail.join("\n") || "(empty)" : d.logsUri ? "(not readable from here)" : "–", "muted"),
    ...section("Spec"),
    ...block(d.specPretty || "–", "muted"),
  ];
  return lines.flatMap((line) => wrapLine(line.text, width).map((t) => ({ ...line, text: t })));
}

export function detailPageSize(height: number): number {
  return Math.max(1, height - 1);
}

export function DetailView(props: { detail: TaskDetail | null | undefined; width: number; height: number; scroll: number; readOnly: boolean }) {
  if (props.detail === undefined) return <Text>loading…</Text>;
  if (props.detail === null) return <Text>This task no longer exists (pruned or deleted). esc goes back.</Text>;
  const lines = detailLines(props.detail, props.width);
  const size = detailPageSize(props.height);
  const start = Math.min(props.scroll, Math.max(0, lines.length - size));
  const hint = props.readOnly ? "" : "  ·  R retry  D discard  C cancel  P replay";
  return (
    <Box flexDirection="column" height={props.height}>
      {lines.slice(start, start + size).map((line, i) => (
        <Text key={i} wrap="truncate">
          <Styled tone={line.tone} bold={line.bold ?? false}>{line.text === "" ? " " : line.text}</Styled>
        </Text>
      ))}
      <Text wrap="truncate">
        <Styled tone="muted">{`  lines ${start + 1}–${Math.min(lines.length, start + size)} of ${lines.length}  ·  j/k scroll  ·  esc back${hint}`}</Styled>
      </Text>
    </Box>
  );
}
