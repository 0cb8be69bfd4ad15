// A Logger that keeps every line in memory, for tests that assert on what was logged.
import type { Logger } from "../../src/observability/logger.ts";

export interface LogLine {
  level: string;
  msg: string;
  attrs: Record<string, unknown>;
}

export function memoryLogger(lines: LogLine[]): Logger {
  const at = (level: string) => (msg: string, attrs: Record<string, unknown> = {}) => void lines.push({ level, msg, attrs });
  const logger: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), child: () => logger };
  return logger;
}
