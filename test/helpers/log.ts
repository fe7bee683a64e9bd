import type { LogFields, Logger, LogLevel } from "../../src/util/log.ts";

export interface LogLine {
  level: LogLevel;
  message: string;
  fields: LogFields;
}

/** A Logger that keeps every line it is given, at every level, for a test to read. */
export function capturingLogger(): Logger & { lines: LogLine[]; at(level: LogLevel): LogLine[] } {
  const lines: LogLine[] = [];
  const write =
    (level: LogLevel) =>
    (message: string, fields: LogFields = {}) => {
      lines.push({ level, message, fields });
    };
  return {
    lines,
    at: (level) => lines.filter((line) => line.level === level),
    debug: write("debug"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
  };
}
