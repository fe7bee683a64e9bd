/** How much an operator hears, least severe first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Extra facts on a log line: `key=value` in text, properties in JSON. */
export type LogFields = Record<string, unknown>;

/**
 * Where Portcullis reports what operators need: requests (debug), authorization failures
 * (info), misconfiguration (warn), server errors (error). Any object with these four methods
 * will do, a pino or console instance included.
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** The least severe level written, when known: lets callers skip work for lines dropped. */
  readonly level?: LogLevel | "silent";
}

export interface ConsoleLoggerOptions {
  /** Default: `LOG_LEVEL` from the environment, else "info". */
  level?: LogLevel | "silent";
  /** "json": one JSON object per line. Default: `LOG_FORMAT` from the environment, else "text". */
  format?: "text" | "json";
}

const RANK: Record<LogLevel | "silent", number> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
  silent: 99,
};

/** The environment where the runtime has one (Node, Bun, Deno's compat, Workers' nodejs_compat). */
function env(name: string): string | undefined {
  const process = (globalThis as { process?: { env?: Record<string, string | undefined> } })
    .process;
  return process?.env?.[name];
}

function isLevel(value: string | undefined): value is LogLevel | "silent" {
  return value !== undefined && Object.hasOwn(RANK, value);
}

/** An Error as plain data: message, stack, and its causes. */
function errorData(error: Error, depth = 0): LogFields {
  const data: LogFields = { name: error.name, message: error.message };
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) data.code = code;
  if (error.stack) data.stack = error.stack;
  if (error.cause !== undefined && depth < 3) {
    data.cause = error.cause instanceof Error ? errorData(error.cause, depth + 1) : error.cause;
  }
  return data;
}

function textValue(value: unknown): string {
  if (value instanceof Error) return textValue(value.message);
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (text === undefined) return String(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

/** The stacks of the errors among a line's fields, and of their causes, for text lines. */
function stacks(fields: LogFields): string {
  let out = "";
  for (const value of Object.values(fields)) {
    let error: unknown = value;
    for (let depth = 0; error instanceof Error && depth < 4; depth++) {
      const stack = error.stack ?? `${error.name}: ${error.message}`;
      out += `\n  ${depth ? "caused by: " : ""}${stack.replaceAll("\n", "\n  ")}`;
      error = error.cause;
    }
  }
  return out;
}

/**
 * The default logger: one line per event on stderr (`console.error`, so it runs on every
 * runtime). Text lines read `portcullis: level message key=value …`, with the stack of any
 * error under them; JSON lines carry `time`, `level`, `msg` and the fields.
 */
export function consoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const configured = options.level ?? env("LOG_LEVEL")?.toLowerCase();
  const level = isLevel(configured) ? configured : "info";
  const json = (options.format ?? env("LOG_FORMAT")?.toLowerCase()) === "json";
  const write =
    (at: LogLevel) =>
    (message: string, fields: LogFields = {}) => {
      if (RANK[at] < RANK[level]) return;
      if (json) {
        const line: LogFields = { time: new Date().toISOString(), level: at, name: "portcullis" };
        line.msg = message;
        for (const [key, value] of Object.entries(fields)) {
          line[key] = value instanceof Error ? errorData(value) : value;
        }
        console.error(JSON.stringify(line));
        return;
      }
      let line = `portcullis: ${at} ${message}`;
      for (const [key, value] of Object.entries(fields)) {
        if (value !== undefined) line += ` ${key}=${textValue(value)}`;
      }
      console.error(line + stacks(fields));
    };
  return {
    level,
    debug: write("debug"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
  };
}

/** A logger that writes nothing. */
export const silentLogger: Logger = {
  level: "silent",
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/**
 * The logger to use: the one given, else the default on stderr; silent under vitest (the
 * suite's own output stays readable) unless a test passes its own.
 */
export function resolveLogger(given: Logger | undefined): Logger {
  if (given) return given;
  return env("VITEST") ? silentLogger : consoleLogger();
}

/** Whether a logger writes lines of a level (true when it does not say). */
export function logs(logger: Logger, level: LogLevel): boolean {
  return logger.level === undefined || RANK[level] >= RANK[logger.level];
}

const said = new WeakMap<Logger, Set<string>>();

/**
 * Writes a line only the first time `key` is seen for this logger: a warning about
 * configuration is said once, not once per request or per mount.
 */
export function logOnce(
  logger: Logger,
  level: LogLevel,
  key: string,
  message: string,
  fields?: LogFields,
): void {
  let keys = said.get(logger);
  if (!keys) said.set(logger, (keys = new Set()));
  if (keys.has(key)) return;
  keys.add(key);
  logger[level](message, fields);
}

/**
 * A correlation id for one server error: in the log line and in the reply, so a user's report
 * leads the operator to the cause.
 */
export function errorId(): string {
  return crypto.randomUUID();
}
