import { type ChildProcess, spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { TransportError } from "../client/errors.ts";
import { type ClientTimers, systemTimers } from "../client/retry.ts";
import type { ClientTransport, TransportHandlers } from "../client/transport.ts";
import { ServerEndpoint } from "../mcp/channel.ts";
import { ErrorCode, failure, type JsonRpcMessage, McpError } from "../mcp/jsonrpc.ts";
import type { McpServer } from "../mcp/server.ts";
import { readLines } from "./lines.ts";
import { StderrTail, type StderrTailOptions } from "./stderr-tail.ts";

export interface StdioClientOptions {
  /** The program to run, e.g. "npx" or process.execPath. */
  command: string;
  args?: readonly string[];
  /**
   * Variables for the server process. It inherits only a few harmless ones from this process
   * (PATH, HOME, …) unless `inheritEnv` is set: a third-party server should not see secrets.
   */
  env?: Record<string, string>;
  /** Pass this process's whole environment on. Default false. */
  inheritEnv?: boolean;
  cwd?: string;
  /**
   * The server's stderr: passed through (default), exposed as `stderr`, dropped, or
   * `"capture"`d: its last lines kept (`stderrTail`) for errors and status, nothing passed on.
   */
  stderr?: "inherit" | "pipe" | "ignore" | "capture";
  /** How much `"capture"` keeps. Default the last 50 lines, at most 8192 characters. */
  stderrTail?: StderrTailOptions;
  /**
   * How long the server may take to answer its first request (the handshake). Past it the
   * process is killed and the connection fails with ERR_STARTUP_TIMEOUT. Default no limit.
   */
  startupTimeoutMs?: number;
  /** What the startup limit waits with. Default real timers. */
  timers?: ClientTimers;
  /** Largest message accepted from the server. Default 16 MiB. */
  maxMessageBytes?: number;
  /** How long close() waits for the process to exit on its own before signalling it. Default 2 s. */
  closeTimeoutMs?: number;
}

/** Variables a server process gets from ours by default: enough to find programs and home. */
const INHERITED_ENV =
  process.platform === "win32"
    ? [
        "APPDATA",
        "COMSPEC",
        "HOMEDRIVE",
        "HOMEPATH",
        "LOCALAPPDATA",
        "PATH",
        "PATHEXT",
        "PROCESSOR_ARCHITECTURE",
        "PROGRAMFILES",
        "SYSTEMDRIVE",
        "SYSTEMROOT",
        "TEMP",
        "TMP",
        "USERNAME",
        "USERPROFILE",
      ]
    : ["HOME", "LANG", "LOGNAME", "PATH", "SHELL", "TERM", "TMPDIR", "USER"];

function serverEnv(options: StdioClientOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && (options.inheritEnv || INHERITED_ENV.includes(name))) {
      env[name] = value;
    }
  }
  return { ...env, ...options.env };
}

/** Writes one message as a line, resolving once it is handed to the stream. */
function writeLine(output: Writable, message: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    output.write(`${JSON.stringify(message)}\n`, (error) => (error ? reject(error) : resolve()));
  });
}

/** A client transport that runs an MCP server as a child process and speaks over its stdio. */
export class StdioClientTransport implements ClientTransport {
  readonly #options: StdioClientOptions;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #closing = false;
  readonly #tail: StderrTail | undefined;
  /** Set when the startup limit passed: the reason the process was killed. */
  #startupFailure: TransportError | undefined;
  /** Aborted once the server answered (or the process ended): the startup limit is off. */
  readonly #started = new AbortController();

  constructor(options: StdioClientOptions) {
    const limit = options.startupTimeoutMs;
    if (limit !== undefined && !(Number.isFinite(limit) && limit > 0)) {
      throw new TypeError("startupTimeoutMs must be a positive number");
    }
    this.#options = options;
    if (options.stderr === "capture") this.#tail = new StderrTail(options.stderrTail);
  }

  /** The last lines the server wrote to stderr, with `stderr: "capture"`. */
  get stderrTail(): string | undefined {
    return this.#tail?.toString();
  }

  /** The server process, once started. */
  get process(): ChildProcess | undefined {
    return this.#child;
  }

  /** The server's stderr, with `stderr: "pipe"`. */
  get stderr(): Readable | null {
    return this.#child?.stderr ?? null;
  }

  async start(handlers: TransportHandlers): Promise<void> {
    if (this.#child) throw new Error("A transport carries one connection; make a new one");
    const options = this.#options;
    const child = spawn(options.command, options.args ?? [], {
      env: serverEnv(options),
      stdio: [
        "pipe",
        "pipe",
        options.stderr === "capture" ? "pipe" : (options.stderr ?? "inherit"),
      ],
      windowsHide: true,
      ...(options.cwd !== undefined && { cwd: options.cwd }),
    });
    this.#child = child;
    try {
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", resolve);
        child.once("error", reject);
      });
    } catch (cause) {
      throw new TransportError(
        "ERR_SPAWN",
        `Could not start ${options.command}: ${String(cause)}`,
        {
          cause,
        },
      );
    }
    // Writing to a process that died raises EPIPE here; its exit is reported below instead.
    child.stdin!.on("error", () => undefined);
    const stderrDone = this.#tail && child.stderr ? this.#tail.follow(child.stderr) : undefined;
    this.#exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.#started.abort();
        const why = signal ? `signal ${signal}` : `code ${code}`;
        // The last words on stderr may still be in the pipe: wait for its end, briefly (a
        // grandchild may hold it open).
        const drained = stderrDone
          ? Promise.race([stderrDone, new Promise<void>((done) => setTimeout(done, 100).unref())])
          : Promise.resolve();
        void drained.then(() => {
          const stderr = this.stderrTail;
          const last = stderr?.trim().split("\n").at(-1);
          handlers.closed(
            this.#startupFailure ??
              new TransportError(
                "ERR_CONNECTION_CLOSED",
                this.#closing
                  ? "The connection is closed"
                  : `The server process exited (${why})${last ? `: ${last}` : ""}`,
                stderr ? { stderr } : {},
              ),
          );
          resolve();
        });
      });
    });
    if (options.startupTimeoutMs !== undefined) this.#limitStartup(child, options.startupTimeoutMs);
    const maxBytes = options.maxMessageBytes ?? 16 * 1024 * 1024;
    readLines(
      child.stdout!,
      (line) => {
        if (line.trim() === "") return;
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch {
          // Servers that print logs to stdout are common; their lines are not ours.
          handlers.warning?.({
            code: "bad_message",
            message: "Ignored a line of the server's stdout that is not JSON",
            detail: line.length > 200 ? `${line.slice(0, 200)}…` : line,
          });
          return;
        }
        // An answer to a request: the server is up and speaking MCP.
        if (typeof value === "object" && value !== null && "id" in value && !("method" in value)) {
          this.#started.abort();
        }
        handlers.message(value);
      },
      {
        maxBytes,
        onTooLong: () => {
          // A message lost on the only stream could be any reply: fail them all, clearly.
          handlers.closed(
            new TransportError(
              "ERR_MESSAGE_TOO_LARGE",
              `The server sent a message larger than the limit of ${maxBytes} bytes`,
            ),
          );
          child.kill();
        },
      },
    );
  }

  /** Kills the process when it has not answered within `ms`. */
  #limitStartup(child: ChildProcess, ms: number): void {
    const timers = this.#options.timers ?? systemTimers;
    timers.sleep(ms, this.#started.signal).then(
      () => {
        if (this.#started.signal.aborted) return;
        const stderr = this.stderrTail;
        this.#startupFailure = new TransportError(
          "ERR_STARTUP_TIMEOUT",
          `The server process did not answer within ${ms} ms and was stopped`,
          stderr ? { stderr } : {},
        );
        child.kill("SIGKILL");
      },
      () => undefined,
    );
  }

  async send(message: JsonRpcMessage): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null || this.#closing) {
      throw new TransportError("ERR_CONNECTION_CLOSED", "The server process is not running");
    }
    try {
      await writeLine(child.stdin!, message);
    } catch (cause) {
      throw new TransportError("ERR_CONNECTION_CLOSED", "Could not write to the server process", {
        cause,
      });
    }
  }

  /** Ends the server's stdin, then signals it if it does not exit in time. */
  async close(): Promise<void> {
    const child = this.#child;
    if (!child || this.#closing) return;
    this.#closing = true;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const wait = this.#options.closeTimeoutMs ?? 2_000;
    const exited = (ms: number) =>
      Promise.race([
        this.#exited.then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref()),
      ]);
    child.stdin?.end();
    if (await exited(wait)) return;
    child.kill("SIGTERM");
    if (await exited(wait)) return;
    child.kill("SIGKILL");
    await this.#exited;
  }
}

/** Runs an MCP server as a child process; pass it to `McpClient.connect`. */
export function stdioClientTransport(options: StdioClientOptions): StdioClientTransport {
  return new StdioClientTransport(options);
}

export interface ServeStdioOptions {
  /** Default process.stdin. */
  stdin?: Readable;
  /** Default process.stdout. Nothing else may write to it: log to stderr. */
  stdout?: Writable;
  /** Largest message accepted from the client. Default 16 MiB. */
  maxMessageBytes?: number;
  /** How long a server-to-client request waits for the client. Default 10 minutes. */
  clientRequestTimeoutMs?: number;
}

export interface StdioServer {
  /** Resolves when the client closed our stdin, or close() was called. */
  readonly closed: Promise<void>;
  close(): void;
}

/** Serves an McpServer to the client on the other end of this process's stdin and stdout. */
export function serveStdio(server: McpServer, options: ServeStdioOptions = {}): StdioServer {
  const stdin = options.stdin ?? process.stdin;
  const stdout = options.stdout ?? process.stdout;
  const send = (message: JsonRpcMessage) => {
    writeLine(stdout, message).catch(() => endpoint.close());
  };
  const endpoint = new ServerEndpoint(
    server,
    send,
    options.clientRequestTimeoutMs === undefined
      ? {}
      : { clientRequestTimeoutMs: options.clientRequestTimeoutMs },
  );
  const maxBytes = options.maxMessageBytes ?? 16 * 1024 * 1024;
  const stopReading = readLines(
    stdin,
    (line) => {
      if (line.trim() === "") return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        send(
          failure(null, new McpError(ErrorCode.ParseError, "Parse error: the line is not JSON")),
        );
        return;
      }
      endpoint.receive(value);
    },
    {
      maxBytes,
      onTooLong: () =>
        send(
          failure(
            null,
            new McpError(ErrorCode.InvalidRequest, `Message larger than ${maxBytes} bytes`),
          ),
        ),
    },
  );
  let done: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => {
    done = resolve;
  });
  const close = () => {
    endpoint.close();
    stopReading();
    stdin.off("end", close);
    done();
  };
  stdin.once("end", close);
  return { closed, close };
}
