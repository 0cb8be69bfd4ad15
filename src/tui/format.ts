// Pure text helpers for `reproq top`: ages, counts, truncation and padding. Everything the views
// print goes through here, so a missing value is always "–" and never "NaN" or "undefined".

export const DASH = "–";
export const ELLIPSIS = "…";

function finite(value: number | null | undefined): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/** 5s, 3m, 2h 5m, 3d 4h; "–" when unknown. Negative ages count as 0. */
export function formatAge(seconds: number | null | undefined): string {
  if (!finite(seconds)) return DASH;
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) {
    const minutes = Math.floor((s % 3600) / 60);
    return minutes === 0 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 3600)}h ${minutes}m`;
  }
  const hours = Math.floor((s % 86_400) / 3600);
  return hours === 0 ? `${Math.floor(s / 86_400)}d` : `${Math.floor(s / 86_400)}d ${hours}h`;
}

/** "5s ago" style for a past moment; "–" when unknown. */
export function formatAgo(seconds: number | null | undefined): string {
  return finite(seconds) ? `${formatAge(seconds)} ago` : DASH;
}

/** Time until a scheduled moment: "in 2m", "now", "5m overdue". */
export function formatUntil(seconds: number | null | undefined): string {
  if (!finite(seconds)) return DASH;
  if (Math.abs(seconds) < 1) return "now";
  return seconds > 0 ? `in ${formatAge(seconds)}` : `${formatAge(-seconds)} overdue`;
}

/** A duration in seconds with sub-second precision: 120ms, 4.2s, 3m 10s. */
export function formatDuration(seconds: number | null | undefined): string {
  if (!finite(seconds)) return DASH;
  if (seconds < 0) return DASH;
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  if (seconds < 60) return `${(Math.round(seconds * 10) / 10).toFixed(1)}s`;
  const whole = Math.floor(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)}m ${whole % 60}s`;
  return formatAge(whole);
}

/** 1234567 → "1,234,567"; fractions keep one decimal ("4.2"). */
export function formatNumber(value: number | null | undefined): string {
  if (!finite(value)) return DASH;
  const rounded = Number.isInteger(value) ? value : Math.round(value * 10) / 10;
  return rounded.toLocaleString("en-US", { maximumFractionDigits: 1 });
}

/** A count that may be a planner estimate: "~1.2M" style is avoided; "~1,234,000". */
export function formatCount(count: { value: number; estimate: boolean } | null | undefined): string {
  if (!count || !finite(count.value)) return DASH;
  return `${count.estimate ? "~" : ""}${formatNumber(count.value)}`;
}

/** 0.973 → "97.3%"; null → "–". */
export function formatPercent(ratio: number | null | undefined): string {
  if (!finite(ratio)) return DASH;
  const percent = ratio * 100;
  return `${percent >= 99.95 || percent === 0 ? percent.toFixed(0) : percent.toFixed(1)}%`;
}

/** Per-minute rate: "12/min", "0.5/min". */
export function formatRate(perMinute: number | null | undefined): string {
  return finite(perMinute) ? `${formatNumber(perMinute)}/min` : DASH;
}

/** Any value as one line of text: null/undefined/NaN → "–", newlines collapsed. */
export function text(value: unknown): string {
  if (value === null || value === undefined) return DASH;
  if (typeof value === "number") return formatNumber(value);
  if (value instanceof Date) return formatTimestamp(value);
  const s = String(value).replace(/\s*[\r\n]+\s*/g, " ").trim();
  return s === "" ? DASH : s;
}

/** Database timestamps as UTC "2026-03-10 09:30:05Z" (unambiguous across hosts). */
export function formatTimestamp(date: Date | null | undefined): string {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) return DASH;
  return `${date.toISOString().slice(0, 19).replace("T", " ")}Z`;
}

/** Terminal cells of a string: one per code point (top shows ASCII data plus box/block glyphs). */
export function cellWidth(value: string): number {
  let width = 0;
  for (const _ of value) width++;
  return width;
}

/** Cut to `width` cells, ending in "…" when something was cut. */
export function truncate(value: string, width: number): string {
  if (width <= 0) return "";
  const chars = Array.from(value);
  if (chars.length <= width) return value;
  if (width === 1) return ELLIPSIS;
  return chars.slice(0, width - 1).join("") + ELLIPSIS;
}

/** Separators of dotted task paths and exception classes (`app.tasks.send`, `mod:func`, `a/b`). */
const PATH_SEPARATORS = new Set([".", ":", "/"]);

/**
 * Cut a dotted name (task path, exception class) to `width` cells in the middle: the last segment
 * (the function or class name) always stays, whole trailing segments are kept while a few cells of
 * the start still fit, and "…" replaces what is cut: `myproj…invoicing.tasks.send_reminder`. A last
 * segment that alone does not fit keeps its start and its end: `send_ove…_reminder`.
 */
export function truncateMiddle(value: string, width: number): string {
  if (width <= 0) return "";
  const chars = Array.from(value);
  if (chars.length <= width) return value;
  if (width === 1) return ELLIPSIS;
  const budget = width - 1;
  const starts = chars.flatMap((c, i) => (PATH_SEPARATORS.has(c) && i + 1 < chars.length ? [i + 1] : []));
  const last = starts.at(-1) ?? 0;
  if (chars.length - last === budget) return ELLIPSIS + chars.slice(last).join("");
  if (chars.length - last > budget) {
    const head = Math.ceil(budget / 2);
    return chars.slice(last, last + head).join("") + ELLIPSIS + chars.slice(chars.length - (budget - head)).join("");
  }
  const room = budget - Math.min(6, budget - (chars.length - last)); // keep up to 6 cells of the start
  let from = last;
  for (let i = starts.length - 2; i >= 0 && chars.length - starts[i]! <= room; i--) from = starts[i]!;
  return chars.slice(0, budget - (chars.length - from)).join("") + ELLIPSIS + chars.slice(from).join("");
}

/** How a value too long for its cell is cut: at the end, or in the middle (dotted names). */
export type Cut = "end" | "middle";

/** Truncate, then pad to exactly `width` cells on the right (align left) or the left. */
export function fit(value: string, width: number, align: "left" | "right" = "left", cutAt: Cut = "end"): string {
  const cut = cutAt === "middle" ? truncateMiddle(value, width) : truncate(value, width);
  const pad = " ".repeat(Math.max(0, width - cellWidth(cut)));
  return align === "right" ? pad + cut : cut + pad;
}

/** Hard-wrap one line to `width` cells (for tracebacks and JSON in the detail view). */
export function wrapLine(line: string, width: number): string[] {
  if (width <= 0) return [];
  const chars = Array.from(line.replace(/\t/g, "  "));
  if (chars.length <= width) return [chars.join("")];
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += width) out.push(chars.slice(i, i + width).join(""));
  return out;
}

/** Wrap prose at word boundaries to `width` cells (words longer than the width are cut hard). */
export function wrapWords(line: string, width: number): string[] {
  if (width <= 0) return [];
  const out: string[] = [];
  let currentLine = "";
  for (const word of line.split(/\s+/).filter((w) => w !== "")) {
    const candidate = currentLine === "" ? word : `${currentLine} ${word}`;
    if (cellWidth(candidate) <= width) {
      currentLine = candidate;
      continue;
    }
    if (currentLine !== "") out.push(currentLine);
    const pieces = wrapLine(word, width);
    currentLine = pieces.pop() ?? "";
    out.push(...pieces);
  }
  out.push(currentLine);
  return out;
}

/** "rows 1–20 of 1,234" (or "no rows"); `estimate` adds "~". */
export function pagerText(offset: number, shown: number, total: number, estimate = false): string {
  if (shown <= 0 || total <= 0) return total > 0 ? `rows – of ${estimate ? "~" : ""}${formatNumber(total)}` : "no rows";
  return `rows ${formatNumber(offset + 1)}–${formatNumber(offset + shown)} of ${estimate ? "~" : ""}${formatNumber(total)}`;
}
