/** What an McpClient is given: its options, and those of connect and of tool calls. */
import type { JsonRpcNotification, RequestId } from "../mcp/jsonrpc.ts";
import type {
  ClientCapabilities,
  CreateMessageParams,
  CreateMessageResult,
  ElicitResult,
  Icon,
  JsonObject,
  Root,
} from "../mcp/types.ts";
import type { Authorizer } from "./auth-seam.ts";
import type { Progress, RequestOptions } from "./connection.ts";
import type { DeliveryInbox } from "./deliveries.ts";
import type { ClientWarning } from "./errors.ts";
import type { PingOptions, StateChange } from "./health.ts";
import type { ReconnectOptions } from "./reconnect.ts";
import type { ClientTimers, RetryOptions } from "./retry.ts";
import type { ClientStateStore } from "./state.ts";
import type { StrictOptions } from "./strict.ts";
import type { ElicitationRequest, LogMessage, TaskInfo } from "./types.ts";

/** What a handler of a server-to-client request receives besides the request. */
export interface HandlerExtra {
  /**
   * Aborts when the server cancels the request or the connection closes; in 2026-07-28, when
   * the call that needs the input is aborted.
   */
  signal: AbortSignal;
  /** The server's request id (2025), or the key of the input request (2026-07-28). */
  requestId: RequestId;
  /**
   * 2026-07-28: the signal the caller passed to the call that needs the input, which tells a
   * client serving several callers (a gateway) whose question it is.
   */
  callSignal?: AbortSignal;
  /**
   * 2026-07-28: the server's key for the input request (of a call's round or of a task), for
   * a client that passes the question on under the same name (a gateway).
   */
  inputKey?: string;
}

/**
 * Answers to what a server may ask. Each one given is declared as a capability (at
 * initialize, or in every 2026-07-28 request). In 2025 a server asking for one not given gets
 * "method not found"; in 2026-07-28 the call that needs it fails with ERR_INPUT_REQUEST. The
 * same handlers serve 2025 server-to-client requests and 2026-07-28 input requests (MRTR),
 * which the client answers and retries without its caller seeing them.
 */
export interface ClientHandlers {
  /** Asks the user for input (elicitation/create). */
  elicitation?: (
    request: ElicitationRequest,
    extra: HandlerExtra,
  ) => ElicitResult | Promise<ElicitResult>;
  /** Asks the client's model for a completion (sampling/createMessage). */
  sampling?: (
    params: CreateMessageParams,
    extra: HandlerExtra,
  ) => CreateMessageResult | Promise<CreateMessageResult>;
  /** Lists the client's roots (roots/list). */
  roots?: (extra: HandlerExtra) => Root[] | Promise<Root[]>;
}

export interface McpClientOptions {
  name: string;
  version: string;
  title?: string;
  description?: string;
  websiteUrl?: string;
  icons?: Icon[];
  handlers?: ClientHandlers;
  /** The elicitation modes `handlers.elicitation` can do. Default ["form"]. */
  elicitationModes?: readonly ("form" | "url")[];
  /**
   * Declare that this client renders MCP Apps (`io.modelcontextprotocol/ui` with
   * `text/html;profile=mcp-app`), so servers may offer tools with views. Default false.
   */
  apps?: boolean;
  /** Capabilities to declare besides those the handlers imply (e.g. `experimental`). */
  capabilities?: ClientCapabilities;
  /**
   * Declare the 2026-07-28 tasks extension in every request (default false). A server may then
   * answer any tools/call with a task, which callTool waits for behind the caller: polling at
   * the server's pace and answering the task's input with the handlers. startTool and the
   * other task calls declare it in their own requests whatever this says.
   */
  tasks?: boolean;
  /**
   * Extensions this client supports (SEP-2133), by id, each with its settings object (`{}`
   * for none): declared under `capabilities.extensions` at initialize and in every 2026-07-28
   * request. None by default; extensions are opt-in.
   */
  extensions?: Readonly<Record<string, JsonObject>>;

  /**
   * Takes results by webhook (`webhookInbox` of portcullis/queue). Calls to tools the server
   * lists with webhook delivery give it an address of this inbox, and callTool (or the task's
   * `result()`) resolves when the signed delivery arrives; tasks/get polls go on meanwhile at
   * the inbox's `fallbackPollMs`, in case it never does.
   */
  deliveries?: DeliveryInbox;
  /**
   * The revision to speak. "auto" (default) probes with server/discover and speaks 2026-07-28
   * with servers that do, else falls back to initialize and the newest 2025 revision the server
   * speaks. "2026-07-28" speaks only that; a 2025 revision is offered at initialize, no probe.
   */
  protocolVersion?: "auto" | (string & {});
  /**
   * How many times one call may be answered with "input required" (2026-07-28) before it
   * fails with ERR_INPUT_ROUNDS. Default 8.
   */
  maxInputRounds?: number;
  /** How long a request waits for its reply by default. Default 60 s. */
  requestTimeoutMs?: number;
  /** Largest message accepted from the server (HTTP transport). Default 16 MiB. */
  maxMessageBytes?: number;
  /** `true` for every strict rule, or a selection; lenient by default. */
  strict?: boolean | StrictOptions;
  /** What the client tolerated in lenient mode, or could not do in the background. */
  onWarning?: (warning: ClientWarning) => void;
  /** notifications/message. */
  onLog?: (message: LogMessage) => void;
  onToolsChanged?: () => void;
  onResourcesChanged?: () => void;
  onPromptsChanged?: () => void;
  /** A subscribed resource changed. */
  onResourceUpdated?: (uri: string) => void;
  /**
   * A task this client watches (`watchTask`, 2026-07-28) changed: its whole state, result or
   * input requests included, as tasks/get would give it. Only watched tasks are delivered.
   */
  onTaskStatus?: (task: TaskInfo) => void;
  /** Progress of any request (a call's own `onProgress` receives its own too). */
  onProgress?: (progress: Progress & { progressToken: string | number }) => void;
  /** Every notification from the server, after the specific hooks. */
  onNotification?: (notification: JsonRpcNotification) => void;
  /**
   * The server forgot the session and a new one replaced it. Subscriptions and the logging
   * level are restored; anything else the old session held is gone.
   */
  onSessionRestarted?: () => void;
  /**
   * Requests that failed on the network or with a 5xx are sent again after an exponential,
   * jittered wait: those safe to repeat (initialize, ping, lists, reads, prompts/get) and a
   * tools/call only when its tool was listed readOnlyHint or idempotentHint, or its caller
   * says so (`retry` in the call's options). Default 3 tries, 250 ms doubling up to 5 s;
   * `false` never retries.
   */
  retry?: RetryOptions | false;
  /** Pings the server periodically to notice it is gone before a caller does. Default off. */
  ping?: PingOptions;
  /** Every change of the connection's state (see `McpClient.state`). */
  onStateChange?: (change: StateChange) => void;
  /** Where the waits of retries, pings and the connect limit come from. Default: real time. */
  timers?: ClientTimers;
}

export interface ConnectOptions {
  /** Where the session is kept between processes. Default: in memory. */
  state?: ClientStateStore;
  /** Authorizes HTTP requests (URL targets only). */
  authorizer?: Authorizer;
  /** Extra HTTP headers (URL targets only). */
  headers?: Record<string, string>;
  /** The fetch to use (URL targets only). */
  fetch?: typeof fetch;
  /**
   * How dropped SSE streams are resumed (2025, URL targets only), and how a dropped
   * subscriptions/listen stream is opened again (2026-07-28).
   */
  reconnect?: ReconnectOptions;
  /**
   * Open the channel for server-initiated messages: the GET stream (2025, URL targets only),
   * or the subscriptions/listen stream for the list-changed hooks (2026-07-28). `true`: always;
   * `false`: never. Default: when needed: the GET stream opens once a hook would hear what it
   * carries (a list-changed hook for a list the server says changes, onLog with logging,
   * onNotification, a handler for server requests) or a resource is subscribed to.
   */
  listen?: boolean;
  /** Aborts the opening handshake. */
  signal?: AbortSignal;
  /**
   * A limit on the whole of connect(), retries included: past it, connect rejects with
   * ERR_TIMEOUT and the state is `closed`. Default none (each request has its own limit).
   */
  connectTimeoutMs?: number;
  /**
   * Time limit for each request of the opening handshake. Without it the server/discover probe
   * waits 10 s before taking a silent server for a 2025 one, and initialize `requestTimeoutMs`.
   */
  timeoutMs?: number;
}

export interface CallToolOptions extends RequestOptions {
  /** `_meta` to send with the call. */
  meta?: JsonObject;
  /**
   * Declare the 2026-07-28 tasks extension in this call (as `McpClientOptions.tasks` does in
   * every request): the server may then answer with a task, which callTool waits for.
   */
  tasks?: boolean;
  /**
   * Called once when the server made a task of the call (in either era), before callTool
   * waits for it: a caller passing the call on can tell its own caller so.
   */
  onTask?: (task: TaskInfo) => void;
}

/** How startTool asks for a task; its RequestOptions bound the tools/call alone. */
export interface StartToolOptions extends Omit<CallToolOptions, "tasks" | "onTask"> {
  /** How long the server should keep the task (2025-11-25; 2026-07-28 servers choose). */
  ttlMs?: number;
  /**
   * A completion webhook: a server that supports them POSTs the finished task to `url`,
   * signed with `secret` (Standard Webhooks, `whsec_` and base64) so the caller need not poll.
   */
  webhook?: { url: string; secret: string };
}

/** One request the client is about to send, as a client middleware sees and may change it. */
export interface OutgoingRequestInfo {
  readonly method: string;
  /** The request's params: a middleware may add to `_meta` (trace context, for one). */
  params: JsonObject;
  /** HTTP headers for this request alone; ignored by transports without headers. */
  headers: Record<string, string>;
  /** The server's URL, over Streamable HTTP. */
  readonly url: URL | undefined;
  /** The revision spoken; undefined before the opening handshake settled it. */
  readonly protocolVersion: string | undefined;
  /** The 2025 session, once there is one. */
  readonly sessionId: string | undefined;
  /** The JSON-RPC id, once `next()` was called. */
  readonly id: RequestId | undefined;
}

/**
 * Wraps every JSON-RPC request the client sends, the opening handshake and each round of a
 * 2026-07-28 multi round-trip request included. Call `next()` to send and resolve with the
 * result; it rejects as the request does.
 */
export type ClientMiddleware = (
  request: OutgoingRequestInfo,
  next: () => Promise<JsonObject>,
) => Promise<JsonObject>;
