// Splits a migration file into single statements. Semicolons inside quotes ('…', E'…', "…"),
// dollar quotes ($$…$$, $tag$…$tag$) and comments (-- …, nested /* … */) do not end a statement.
// Comments before a statement's first token are dropped (they document the file, not the
// statement); comments inside a statement are kept. Empty statements are skipped.

/** Marker on the first line of a migration file that must run outside a transaction. */
export const NO_TRANSACTION_MARKER = "-- reproq:no-transaction";

/** True when the file's first line carries the no-transaction marker. */
export function isNoTransaction(fileText: string): boolean {
  const firstLine = fileText.split("\n", 1)[0] ?? "";
  return firstLine.includes(NO_TRANSACTION_MARKER);
}

/** The statements of `text`, in order, trimmed, without their terminating semicolons. */
export function splitSqlStatements(text: string): string[] {
  const statements: string[] = [];
  let start = -1; // index of the current statement's first token, -1 while between statements
  let i = 0;
  const n = text.length;

  const finish = (end: number) => {
    if (start >= 0) {
      const stmt = text.slice(start, end).trim();
      if (stmt !== "") statements.push(stmt);
    }
    start = -1;
  };

  while (i < n) {
    const ch = text[i]!;
    const next = text[i + 1];
    if (ch === "-" && next === "-") {
      i = skipLineComment(text, i);
      continue;
    }
    if (ch === "/" && next === "*") {
      i = skipBlockComment(text, i);
      continue;
    }
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === ";") {
      finish(i);
      i++;
      continue;
    }
    if (start < 0) start = i;
    if (ch === "'") {
      i = skipQuoted(text, i, "'", isEscapeString(text, i));
    } else if (ch === '"') {
      i = skipQuoted(text, i, '"', false);
    } else if (ch === "$") {
      i = skipDollar(text, i);
    } else {
      i++;
    }
  }
  finish(n);
  return statements;
}

/**
 * The first line of a statement, for messages (`CREATE TABLE IF NOT EXISTS task_runs (`). For an
 * anonymous `DO` block, whose first line says nothing, the first DDL line inside is appended.
 */
export function statementFirstLine(statement: string): string {
  const lines = statement.split("\n").map((line) => line.trim());
  const first = lines[0] ?? "";
  if (!/^DO\b/i.test(first)) return first;
  const inner = lines.slice(1).find((line) => /^(CREATE|ALTER|DROP|INSERT|UPDATE|DELETE)\b/i.test(line));
  return inner ? `${first} … ${inner}` : first;
}

function skipLineComment(text: string, i: number): number {
  const end = text.indexOf("\n", i);
  return end < 0 ? text.length : end + 1;
}

/** Block comments nest in PostgreSQL. An unterminated comment runs to the end of the text. */
function skipBlockComment(text: string, i: number): number {
  let depth = 0;
  while (i < text.length) {
    if (text[i] === "/" && text[i + 1] === "*") {
      depth++;
      i += 2;
    } else if (text[i] === "*" && text[i + 1] === "/") {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return i;
}

/** E'…' strings treat backslash as an escape; a preceding identifier character means it is not an E prefix. */
function isEscapeString(text: string, quoteIndex: number): boolean {
  const prefix = text[quoteIndex - 1];
  if (prefix !== "E" && prefix !== "e") return false;
  const before = text[quoteIndex - 2];
  return before === undefined || !/[A-Za-z0-9_$]/.test(before);
}

/** Skips a quoted token; a doubled quote is an escaped quote. Returns the index after the closing quote. */
function skipQuoted(text: string, i: number, quote: string, backslashEscapes: boolean): number {
  i++;
  while (i < text.length) {
    const ch = text[i];
    if (backslashEscapes && ch === "\\") {
      i += 2;
    } else if (ch === quote) {
      if (text[i + 1] === quote) {
        i += 2;
      } else {
        return i + 1;
      }
    } else {
      i++;
    }
  }
  return i;
}

/** `$tag$ … $tag$`; a `$` that does not open a dollar quote (e.g. `$1`, `a$b`) is an ordinary character. */
function skipDollar(text: string, i: number): number {
  const before = text[i - 1];
  if (before !== undefined && /[A-Za-z0-9_]/.test(before)) return i + 1;
  const match = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(text.slice(i, i + 200));
  if (!match) return i + 1;
  const delimiter = match[0];
  const close = text.indexOf(delimiter, i + delimiter.length);
  return close < 0 ? text.length : close + delimiter.length;
}
