import { isObject } from "../mcp/content.ts";
import type { JsonObject, LoggingLevel } from "../mcp/types.ts";
import type { Connection } from "./connection.ts";
import { type ClientWarning, ProtocolError, TransportError } from "./errors.ts";
import type { Negotiated } from "./handshake.ts";
import { Health, type ResolvedPing, resolvePing } from "./health.ts";
import type { ClientMiddleware, McpClientOptions } from "./options.ts";
import { type ClientTimers, type RetryPolicy, resolveRetry, systemTimers } from "./retry.ts";
import { type ResolvedStrictness, resolveStrict } from "./strict.ts";
import { isModern } from "./versions.ts";

/** What each capability-gated method needs the server to have declared. */
const REQUIRED_CAPABILITY: Record<string, [string, string?]> = {
  "tools/list": ["tools"],
  "tools/call": ["tools"],
  "resources/list": ["resources"],
  "resources/templates/list": ["resources"],
  "resources/read": ["resources"],
  "resources/subscribe": ["resources", "subscribe"],
  "resources/unsubscribe": ["resources", "subscribe"],
  "prompts/list": ["prompts"],
  "prompts/get": ["prompts"],
  "completion/complete": ["completions"],
  "logging/setLevel": ["logging"],
};

/**
 * What the parts of one McpClient share: its options, the connection and what its opening
 * settled, and where warnings go. The lifecycle sets the connection state; the others read it.
 */
export class ClientCore {
  readonly options: McpClientOptions;
  readonly strict: ResolvedStrictness;
  /** How long a request waits for its reply when its caller does not say. */
  readonly requestTimeoutMs: number;
  connection: Connection | undefined;
  negotiated: Negotiated | undefined;
  /** Aborted when the connection closes: ends the handlers answering input requests. */
  life = new AbortController();
  /** Set by setLoggingLevel: restored in a new 2025 session, sent with 2026-07-28 requests. */
  logLevel: LoggingLevel | undefined;
  /** What `use` added, outermost first. */
  readonly middleware: ClientMiddleware[] = [];
  readonly retry: RetryPolicy;
  readonly ping: ResolvedPing | undefined;
  readonly timers: ClientTimers;
  /** The connection's state, which the lifecycle and the retries move. */
  readonly health: Health;

  constructor(options: McpClientOptions) {
    this.options = options;
    this.strict = resolveStrict(options.strict);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
    this.retry = resolveRetry(options.retry);
    this.ping = resolvePing(options.ping);
    this.timers = options.timers ?? systemTimers;
    this.health = new Health((error) =>
      this.warn({ code: "hook_failed", message: "A state listener threw", detail: error }),
    );
    const onStateChange = options.onStateChange;
    if (onStateChange) this.health.watch(onStateChange);
  }

  /** Whether the connection speaks 2026-07-28. */
  get modern(): boolean {
    const version = this.negotiated?.protocolVersion;
    return version !== undefined && isModern(version);
  }

  /** The connection, once its opening settled; else ERR_CONNECTION_CLOSED. */
  live(): Connection {
    const connection = this.connection;
    if (!connection || !this.negotiated) {
      throw new TransportError("ERR_CONNECTION_CLOSED", "Not connected: call connect() first");
    }
    return connection;
  }

  /** In strict mode, refuses a method the server declared no capability for. */
  checkCapability(method: string): void {
    const needed = Object.hasOwn(REQUIRED_CAPABILITY, method)
      ? REQUIRED_CAPABILITY[method]
      : undefined;
    if (!needed || !this.strict.capabilities) return;
    const [name, sub] = needed;
    const capability = this.negotiated?.serverCapabilities[name];
    const declared = isObject(capability) && (sub === undefined || capability[sub] === true);
    if (!declared) {
      throw new ProtocolError(
        "ERR_CAPABILITY",
        `The server did not declare the ${sub ? `${name}.${sub}` : name} capability needed for ${method}`,
      );
    }
  }

  /** A breach of the protocol's contract: thrown in strict mode, else reported and tolerated. */
  breach(message: string): void {
    if (this.strict.contract) throw new ProtocolError("ERR_CONTRACT", message);
    this.warn({ code: "contract", message });
  }

  /** The array a result must hold under `key`; an empty one, after a warning, when lenient. */
  requireArray(result: JsonObject, key: string, method: string): unknown[] {
    const value = result[key];
    if (Array.isArray(value)) return value;
    this.breach(`The ${method} result has no "${key}" list`);
    return [];
  }

  /** Runs a user hook; what it throws is reported, never let into the transport. */
  hook(run: () => void): void {
    try {
      run();
    } catch (error) {
      this.warn({ code: "hook_failed", message: "A notification hook threw", detail: error });
    }
  }

  warn(warning: ClientWarning): void {
    try {
      this.options.onWarning?.(warning);
    } catch {
      // A warning hook that throws has nowhere left to report to.
    }
  }
}
