// Task ledgers: task bodies append `start|child|end <result_id> <attempt> <pid> <epoch seconds>`
// lines to a file ($LEDGER_FILE), so a test sees what actually ran, when, and in which process.
import { readFileSync } from "node:fs";

export interface LedgerLine {
  word: "start" | "child" | "end";
  id: string;
  attempt: number;
  pid: number;
  /** Epoch milliseconds. */
  at: number;
}

/** The lines written so far (none when the file does not exist yet). */
export function readLedger(path: string): LedgerLine[] {
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  return text.split("\n").filter((line) => line.trim() !== "").map((line) => {
    const [word, id, attempt, pid, at] = line.trim().split(/\s+/);
    return { word: word as LedgerLine["word"], id: id!, attempt: Number(attempt), pid: Number(pid), at: Number(at) * 1000 };
  });
}
