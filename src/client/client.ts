import { isObject } from "../mcp/content.ts";
import { ErrorCode, type JsonRpcNotification, McpError, type RequestId } from "../mcp/jsonrpc.ts";
import { INPUT_CAPABLE, META } from "../mcp/modern.ts";
import {
  type CallToolResult,
  type ClientCapabilities,
  type CreateMessageParams,
  type CreateMessageResult,
  type ElicitResult,
  type GetPromptResult,
  type Icon,
  type Implementation,
  type JsonObject,
  LOGGING_LEVELS,
  type LoggingLevel,
  type ReadResourceResult,
  type Root,
} from "../mcp/types.ts";
import type { Authorizer } from "./auth-seam.ts";
import {
  Connection,
  type InboundRequest,
  type Progress,
  type RequestOptions,
  type SendControl,
} from "./connection.ts";
import {
  type ClientWarning,
  OutputSchemaError,
  ProtocolError,
  TaskError,
  TransportError,
} from "./errors.ts";
import { type Era, handshake, modernMeta, type Negotiated } from "./handshake.ts";
import { type HeaderParam, paramHeaders, toolHeaderParams } from "./headers.ts";
import { type ReconnectOptions, StreamableHttpClientTransport } from "./http.ts";
import { OutputSchemas } from "./output-schema.ts";
import { type ClientState, type ClientStateStore, memoryClientState } from "./state.ts";
import { type ResolvedStrictness, resolveStrict, type StrictOptions } from "./strict.ts";
import { ListenStream } from "./subscriptions.ts";
import {
  abortable,
  parseTask,
  TASKS_EXTENSION,
  TaskHandle,
  type TaskOps,
  type TaskWaitOptions,
  WEBHOOK_META,
} from "./tasks.ts";
import type { ClientTransport, SessionUpdate } from "./transport.ts";
import type {
  CompleteResult,
  CompletionReference,
  ElicitationRequest,
  ListPromptsResult,
  ListResourcesResult,
  ListResourceTemplatesResult,
  ListTasksResult,
  ListToolsResult,
  LogMessage,
  Prompt,
  Resource,
  ResourceTemplate,
  TaskInfo,
  Tool,
} from "./types.ts";
import { isModern, LEGACY_VERSIONS } from "./versions.ts";

/** What a handler of a server-to-client request receives besides the request. */
export interface HandlerExtra {
  /**
   * Aborts when the server cancels the request or the connection closes; in 2026-07-28, when
   * the call that needs the input is aborted.
   */
  signal: AbortSignal;
  /** The server's request id (2025), or the key of the input request (2026-07-28). */
  requestId: RequestId;
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
  /** Progress of any request (a call's own `onProgress` receives its own too). */
  onProgress?: (progress: Progress & { progressToken: string | number }) => void;
  /** Every notification from the server, after the specific hooks. */
  onNotification?: (notification: JsonRpcNotification) => void;
  /**
   * The server forgot the session and a new one replaced it. Subscriptions and the logging
   * level are restored; anything else the old session held is gone.
   */
  onSessionRestarted?: () => void;
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
   * or the subscriptions/listen stream for the list-changed hooks (2026-07-28). Default true.
   */
  listen?: boolean;
  /** Aborts the opening handshake. */
  signal?: AbortSignal;
  /**
   * Time limit for each request of the opening handshake. Without it the server/discover probe
   * waits 10 s before taking a silent server for a 2025 one, and initialize `requestTimeoutMs`.
   */
  timeoutMs?: number;
}

export interface CallToolOptions extends RequestOptions {
  /** `_meta` to send with the call. */
  meta?: JsonObject;
}

/** How startTool asks for a task; its RequestOptions bound the tools/call alone. */
export interface StartToolOptions extends CallToolOptions {
  /** How long the server should keep the task (2025-11-25; 2026-07-28 servers choose). */
  ttlMs?: number;
  /**
   * A completion webhook: a server that supports them POSTs the finished task to `url`,
   * signed with `secret` (Standard Webhooks, `whsec_` and base64) so the caller need not poll.
   */
  webhook?: { url: string; secret: string };
}

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

/** How long the server/discover probe waits by default: a silent server is a 2025 one. */
const PROBE_TIMEOUT_MS = 10_000;

function sessionLost(error: unknown): boolean {
  return (
    error instanceof TransportError &&
    (error.code === "ERR_SESSION_EXPIRED" ||
      (error.code === "ERR_HTTP_STATUS" && error.status === 400))
  );
}

/**
 * An MCP client: connects to one server over Streamable HTTP (a URL) or any ClientTransport,
 * finds the revision both speak (2026-07-28, stateless, or a 2025 one with a session), and
 * offers the server's tools, resources and prompts as typed calls that behave the same in
 * either era. Lenient with servers by default; see `strict`.
 *
 * ```ts
 * const client = new McpClient({ name: "my-agent", version: "1.0.0" });
 * await client.connect("https://example.com/mcp");
 * for await (const tool of client.tools()) console.log(tool.name);
 * const result = await client.callTool("add", { a: 1, b: 2 }, { timeoutMs: 10_000 });
 * ```
 */
export class McpClient {
  readonly #options: McpClientOptions;
  readonly #strict: ResolvedStrictness;
  readonly #outputs = new OutputSchemas();
  /** 2025 subscriptions, restored when a session is replaced. */
  readonly #subscriptions = new Set<string>();
  /** Tool arguments to mirror into Mcp-Param-* headers, by tool (2026-07-28). */
  readonly #headerParams = new Map<string, readonly HeaderParam[]>();
  /** The `execution.taskSupport` of each listed tool (2025-11-25). */
  readonly #taskSupport = new Map<string, string>();
  #connection: Connection | undefined;
  #negotiated: Negotiated | undefined;
  #store: ClientStateStore = memoryClientState();
  #record: Partial<ClientState> = {};
  #saving: Promise<void> = Promise.resolve();
  #recovering: Promise<void> | undefined;
  #logLevel: LoggingLevel | undefined;
  /** The origin of the server URL, which the stored state must belong to. */
  #origin: string | undefined;
  /** The subscriptions/listen stream (2026-07-28). */
  #listen: ListenStream | undefined;
  /** Aborted when the connection closes: ends the handlers answering input requests. */
  #life = new AbortController();
  #reconnect: ReconnectOptions | undefined;

  constructor(options: McpClientOptions) {
    this.#options = options;
    this.#strict = resolveStrict(options.strict);
  }

  // Connection

  /**
   * Connects to a server: a URL (Streamable HTTP) or a transport. With a `state` store that
   * holds a session the server still knows, the session is taken up without a new initialize;
   * one that remembers a 2025 server skips the 2026-07-28 probe. With 2026-07-28 and any of
   * the list-changed hooks set, the subscriptions/listen stream is open once this resolves.
   */
  async connect(
    target: string | URL | ClientTransport,
    options: ConnectOptions = {},
  ): Promise<void> {
    if (this.#connection && !this.#connection.closed) {
      throw new Error("This client is already connected; close() it first");
    }
    const transport =
      typeof target === "string" || target instanceof URL
        ? this.#httpTransport(target, options)
        : target;
    const connection = new Connection(
      transport,
      {
        request: (request) => this.#serve(request),
        notification: (notification) => this.#notified(notification),
        warning: (warning) => this.#warn(warning),
        recover: () => this.#recover(),
        sessionExpired: () => {
          if (!connection.closed)
            this.#recover().catch((error: unknown) => this.#recoveryFailed(error));
        },
        sessionChanged: (update) => this.#sessionChanged(update),
      },
      this.#options.requestTimeoutMs ?? 60_000,
    );
    this.#connection = connection;
    this.#negotiated = undefined;
    this.#record = {};
    this.#outputs.clear();
    this.#subscriptions.clear();
    this.#headerParams.clear();
    this.#taskSupport.clear();
    this.#logLevel = undefined;
    this.#listen?.close(new TransportError("ERR_CONNECTION_CLOSED", "Not connected"));
    this.#listen = undefined;
    this.#life = new AbortController();
    this.#reconnect = options.reconnect;
    this.#store = options.state ?? memoryClientState();
    this.#origin =
      transport instanceof StreamableHttpClientTransport ? transport.url.origin : undefined;
    const opening: RequestOptions = {};
    if (options.signal) opening.signal = options.signal;
    if (options.timeoutMs !== undefined) opening.timeoutMs = options.timeoutMs;
    try {
      await transport.start(connection.handlers());
      const saved = await this.#saved();
      if (!(await this.#resume(connection, saved, opening))) {
        await this.#open(connection, opening, rememberedEra(saved));
      }
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
    if (this.#modern && options.listen !== false) await this.#openListen(opening);
  }

  /** The stored state, if it belongs to this server. */
  async #saved(): Promise<ClientState | undefined> {
    const saved = await this.#store.get();
    if (saved?.origin !== undefined && saved.origin !== this.#origin) return undefined;
    return saved;
  }

  /** Whether the connection speaks 2026-07-28. */
  get #modern(): boolean {
    const version = this.#negotiated?.protocolVersion;
    return version !== undefined && isModern(version);
  }

  #httpTransport(url: string | URL, options: ConnectOptions): StreamableHttpClientTransport {
    return new StreamableHttpClientTransport(url, {
      ...(options.fetch && { fetch: options.fetch }),
      ...(options.headers && { headers: options.headers }),
      ...(options.authorizer && { authorizer: options.authorizer }),
      ...(options.reconnect && { reconnect: options.reconnect }),
      ...(options.listen !== undefined && { listen: options.listen }),
      ...(this.#options.maxMessageBytes !== undefined && {
        maxMessageBytes: this.#options.maxMessageBytes,
      }),
      strictHeaders: this.#strict.headers,
    });
  }

  /** Takes up a stored session if the server still knows it (a ping tells). */
  async #resume(
    connection: Connection,
    saved: ClientState | undefined,
    opening: RequestOptions,
  ): Promise<boolean> {
    const transport = connection.transport;
    if (!saved?.sessionId || !LEGACY_VERSIONS.includes(saved.protocolVersion)) return false;
    const snapshot = {
      protocolVersion: saved.protocolVersion,
      sessionId: saved.sessionId,
      lastEventId: saved.lastEventId,
    };
    if (!transport.restore?.(snapshot)) return false;
    try {
      await connection.request("ping", {}, opening, { recover: false });
    } catch (error) {
      if (!sessionLost(error)) throw error;
      transport.reset?.();
      return false;
    }
    this.#negotiated = {
      protocolVersion: saved.protocolVersion,
      serverInfo: saved.serverInfo ?? { name: "unknown", version: "unknown" },
      serverCapabilities: saved.serverCapabilities ?? {},
      ...(saved.instructions !== undefined && { instructions: saved.instructions }),
    };
    this.#record = saved;
    transport.listen?.();
    return true;
  }

  async #open(
    connection: Connection,
    opening: RequestOptions,
    remembered: Era | undefined,
  ): Promise<void> {
    const negotiated = await handshake(connection, {
      clientInfo: this.#clientInfo(),
      capabilities: this.#capabilities(false),
      modernCapabilities: this.#capabilities(true),
      ...(this.#options.protocolVersion !== undefined && {
        protocolVersion: this.#options.protocolVersion,
      }),
      remembered,
      strictContract: this.#strict.contract,
      warn: (warning) => this.#warn(warning),
      request: opening,
      probeTimeoutMs: PROBE_TIMEOUT_MS,
    });
    this.#negotiated = negotiated;
    const record: ClientState = {
      ...this.#record,
      protocolVersion: negotiated.protocolVersion,
      serverInfo: negotiated.serverInfo,
      serverCapabilities: negotiated.serverCapabilities,
    };
    if (this.#origin !== undefined) record.origin = this.#origin;
    const sessionId = connection.transport.sessionId;
    if (sessionId !== undefined) record.sessionId = sessionId;
    if (negotiated.instructions !== undefined) record.instructions = negotiated.instructions;
    this.#record = record;
    this.#save();
  }

  /**
   * The server forgot the session: open a new one, once for every request that found out,
   * and restore what the old one held.
   */
  #recover(): Promise<void> {
    const connection = this.#connection;
    if (!connection || connection.closed) {
      return Promise.reject(new TransportError("ERR_CONNECTION_CLOSED", "Not connected"));
    }
    this.#recovering ??= (async () => {
      connection.transport.reset?.();
      this.#record = {};
      // Sessions are a 2025 matter: the new one is opened the way the old one was.
      await this.#open(connection, {}, "legacy");
      if (this.#logLevel !== undefined) {
        await connection.request(
          "logging/setLevel",
          { level: this.#logLevel },
          {},
          { recover: false },
        );
      }
      for (const uri of this.#subscriptions) {
        await connection.request("resources/subscribe", { uri }, {}, { recover: false });
      }
      this.#hook(() => this.#options.onSessionRestarted?.());
    })().finally(() => {
      this.#recovering = undefined;
    });
    return this.#recovering;
  }

  #recoveryFailed(error: unknown): void {
    this.#warn({
      code: "session_recovery",
      message: "Could not open a new session",
      detail: error,
    });
  }

  #sessionChanged(update: SessionUpdate): void {
    const record = { ...this.#record };
    if ("sessionId" in update) {
      if (update.sessionId === undefined) delete record.sessionId;
      else record.sessionId = update.sessionId;
    }
    if ("lastEventId" in update) {
      if (update.lastEventId === undefined) delete record.lastEventId;
      else record.lastEventId = update.lastEventId;
    }
    this.#record = record;
    // Saved once the handshake settled the version; before that there is nothing to resume.
    if (this.#negotiated) this.#save();
  }

  #save(): void {
    const record = this.#record;
    if (record.protocolVersion === undefined) return;
    const state = { ...record } as ClientState;
    this.#saving = this.#saving
      .then(() => this.#store.set(state))
      .catch((error: unknown) =>
        this.#warn({
          code: "state_store",
          message: "Could not save the client state",
          detail: error,
        }),
      );
  }

  /**
   * Closes the connection. By default the server's session ends too (HTTP DELETE) and the
   * stored session is forgotten, keeping only the revision (the server's era) for the next
   * connect; `terminate: false` keeps both, to resume from another process.
   */
  async close(options: { terminate?: boolean } = {}): Promise<void> {
    const connection = this.#connection;
    if (!connection) return;
    const closed = new TransportError("ERR_CONNECTION_CLOSED", "The client closed the connection");
    this.#listen?.close(closed);
    this.#life.abort(closed);
    await connection.close(options);
    await this.#saving;
    if (options.terminate === false) return;
    const { protocolVersion, origin } = this.#record;
    await this.#store.set(
      protocolVersion === undefined
        ? undefined
        : { protocolVersion, ...(origin !== undefined && { origin }) },
    );
  }

  /** Whether the client is connected and the connection is open. */
  get connected(): boolean {
    return this.#connection !== undefined && !this.#connection.closed;
  }

  /** The protocol revision in use: 2026-07-28, or the one negotiated at initialize. */
  get protocolVersion(): string | undefined {
    return this.#negotiated?.protocolVersion;
  }

  get serverInfo(): Implementation | undefined {
    return this.#negotiated?.serverInfo;
  }

  get serverCapabilities(): JsonObject | undefined {
    return this.#negotiated?.serverCapabilities;
  }

  get instructions(): string | undefined {
    return this.#negotiated?.instructions;
  }

  /** The 2025 session id, when the server keeps sessions. */
  get sessionId(): string | undefined {
    return this.#connection?.transport.sessionId;
  }

  #clientInfo(): Implementation {
    const { name, version, title, description, websiteUrl, icons } = this.#options;
    return {
      name,
      version,
      ...(title !== undefined && { title }),
      ...(description !== undefined && { description }),
      ...(websiteUrl !== undefined && { websiteUrl }),
      ...(icons !== undefined && { icons }),
    };
  }

  /** What the client declares; `tasks` adds the tasks extension to a 2026-07-28 request. */
  #capabilities(modern: boolean, tasks = false): JsonObject {
    const handlers = this.#options.handlers ?? {};
    const capabilities: JsonObject = { ...this.#options.capabilities };
    if (modern && (tasks || this.#options.tasks)) {
      const extensions = isObject(capabilities.extensions) ? capabilities.extensions : {};
      capabilities.extensions = { ...extensions, [TASKS_EXTENSION]: {} };
    }
    if (handlers.elicitation) {
      const modes = this.#options.elicitationModes ?? ["form"];
      capabilities.elicitation = Object.fromEntries(modes.map((mode) => [mode, {}]));
    }
    if (handlers.sampling) capabilities.sampling = {};
    // 2026-07-28 has no roots/list_changed notification to promise.
    if (handlers.roots) capabilities.roots = modern ? {} : { listChanged: true };
    return capabilities;
  }

  /** The `_meta` of a 2026-07-28 request: version, identity, capabilities, log level. */
  #modernMeta(tasks: boolean): JsonObject {
    const meta = modernMeta(
      this.#negotiated!.protocolVersion,
      this.#clientInfo(),
      this.#capabilities(true, tasks),
    );
    if (this.#logLevel !== undefined) meta[META.logLevel] = this.#logLevel;
    return meta;
  }

  // Requests

  #live(): Connection {
    const connection = this.#connection;
    if (!connection || !this.#negotiated) {
      throw new TransportError("ERR_CONNECTION_CLOSED", "Not connected: call connect() first");
    }
    return connection;
  }

  /**
   * Sends any request and resolves with its result: for methods this class has no call for.
   * In 2026-07-28 the request carries the per-request `_meta`, and input the server asks for
   * is answered by the handlers before the result comes back.
   */
  async request(
    method: string,
    params: JsonObject = {},
    options: RequestOptions = {},
  ): Promise<JsonObject> {
    return this.#call(method, params, options);
  }

  /** One request in either era; `tasks` declares the tasks extension in a 2026-07-28 one. */
  async #call(
    method: string,
    params: JsonObject,
    options: RequestOptions,
    control: SendControl = {},
    tasks = false,
  ): Promise<JsonObject> {
    const connection = this.#live();
    this.#checkCapability(method);
    if (!this.#modern) return connection.request(method, params, options, control);
    return this.#modernCall(connection, method, params, options, control, tasks);
  }

  /**
   * One 2026-07-28 request to its end: each "input required" result is answered by the
   * handlers (all of a round's requests at once) and the request sent again, with a new id,
   * the answers and the server's exact requestState, a bounded number of times. A task
   * handle (tools/call only) comes back as it is, `resultType` and all, for the caller to wait on.
   */
  async #modernCall(
    connection: Connection,
    method: string,
    params: JsonObject,
    options: RequestOptions,
    control: SendControl,
    tasks: boolean,
  ): Promise<JsonObject> {
    const meta = { ...(isObject(params._meta) ? params._meta : {}), ...this.#modernMeta(tasks) };
    const maxRounds = this.#options.maxInputRounds ?? 8;
    let retry: JsonObject = {};
    for (let round = 0; ; round++) {
      const result = await connection.request(
        method,
        { ...params, ...retry, _meta: meta },
        options,
        control,
      );
      const type = result.resultType;
      if (type === undefined && this.#strict.contract) {
        throw new ProtocolError("ERR_CONTRACT", `The ${method} result has no "resultType"`);
      }
      if (type === undefined || type === "complete") {
        // Always "complete" by the time callers see it: the rounds are this class's business.
        const { resultType: _type, ...complete } = result;
        return complete;
      }
      if (type === "task" && method === "tools/call") return result;
      if (type !== "input_required") {
        throw new ProtocolError(
          "ERR_RESULT_TYPE",
          `The ${method} result has resultType ${JSON.stringify(type)}, which this client does not know`,
        );
      }
      if (!INPUT_CAPABLE.has(method)) {
        throw new ProtocolError(
          "ERR_CONTRACT",
          `The server asked for input in reply to ${method}, which cannot take any`,
        );
      }
      if (round >= maxRounds) {
        throw new ProtocolError(
          "ERR_INPUT_ROUNDS",
          `The server still asked for input after ${maxRounds} rounds of ${method}`,
        );
      }
      retry = await this.#inputRound(method, result, options.signal);
    }
  }

  /** Answers one InputRequiredResult: the fields of the retry. */
  async #inputRound(
    method: string,
    result: JsonObject,
    callSignal: AbortSignal | undefined,
  ): Promise<JsonObject> {
    const { inputRequests: requests, requestState: state } = result;
    const malformed = (what: string) =>
      new ProtocolError("ERR_CONTRACT", `The input_required result of ${method} ${what}`);
    if (requests !== undefined && !isObject(requests)) throw malformed("has no inputRequests map");
    if (state !== undefined && typeof state !== "string") throw malformed("has a bad requestState");
    if (requests === undefined && state === undefined) {
      throw malformed("has neither inputRequests nor requestState");
    }
    const signal = callSignal
      ? AbortSignal.any([callSignal, this.#life.signal])
      : this.#life.signal;
    const retry: JsonObject = {};
    if (requests) {
      const entries = Object.entries(requests);
      const answers = await abortable(
        Promise.all(entries.map(([key, request]) => this.#answerInput(key, request, signal))),
        signal,
      );
      retry.inputResponses = Object.fromEntries(entries.map(([key], i) => [key, answers[i]]));
    }
    // Echoed exactly, and only when the server sent one.
    if (state !== undefined) retry.requestState = state;
    return retry;
  }

  async #answerInput(key: string, request: unknown, signal: AbortSignal): Promise<JsonObject> {
    if (!isObject(request) || typeof request.method !== "string") {
      throw new ProtocolError("ERR_CONTRACT", `The input request "${key}" has no method`);
    }
    const method = request.method;
    const params = isObject(request.params) ? request.params : {};
    let answer: JsonObject | undefined;
    try {
      answer = await this.#handle(method, params, { signal, requestId: key });
    } catch (error) {
      // A request this client cannot take (a mode it did not declare) is the server's fault;
      // whatever a handler throws is the caller's own and reaches the caller as it is.
      if (error instanceof McpError) throw new ProtocolError("ERR_INPUT_REQUEST", error.message);
      throw error;
    }
    if (answer === undefined) {
      throw new ProtocolError(
        "ERR_INPUT_REQUEST",
        `The server asked for ${method}, which this client did not declare`,
      );
    }
    return answer;
  }

  /** Sends any notification. */
  async notify(method: string, params?: JsonObject): Promise<void> {
    await this.#live().notify(method, params);
  }

  #checkCapability(method: string): void {
    const needed = Object.hasOwn(REQUIRED_CAPABILITY, method)
      ? REQUIRED_CAPABILITY[method]
      : undefined;
    if (!needed || !this.#strict.capabilities) return;
    const [name, sub] = needed;
    const capability = this.#negotiated?.serverCapabilities[name];
    const declared = isObject(capability) && (sub === undefined || capability[sub] === true);
    if (!declared) {
      throw new ProtocolError(
        "ERR_CAPABILITY",
        `The server did not declare the ${sub ? `${name}.${sub}` : name} capability needed for ${method}`,
      );
    }
  }

  /** Checks a result has the array the spec requires, filling in an empty one when lenient. */
  #requireArray(result: JsonObject, key: string, method: string): unknown[] {
    const value = result[key];
    if (Array.isArray(value)) return value;
    const message = `The ${method} result has no "${key}" list`;
    if (this.#strict.contract) throw new ProtocolError("ERR_CONTRACT", message);
    this.#warn({ code: "contract", message });
    return [];
  }

  async #list(method: string, key: string, cursor: string | undefined, options: RequestOptions) {
    const result = await this.request(method, cursor === undefined ? {} : { cursor }, options);
    const items = this.#requireArray(result, key, method);
    const nextCursor = typeof result.nextCursor === "string" ? result.nextCursor : undefined;
    return { result, items, nextCursor };
  }

  async *#all<T>(
    page: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor?: string }>,
    what: string,
  ): AsyncGenerator<T> {
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const { items, nextCursor } = await page(cursor);
      yield* items;
      cursor = nextCursor;
      if (cursor !== undefined) {
        if (seen.has(cursor)) {
          throw new ProtocolError("ERR_PAGINATION_LOOP", `The server repeated a ${what} cursor`);
        }
        seen.add(cursor);
      }
    } while (cursor !== undefined);
  }

  /**
   * One page of tools; remembers their output schemas to check results against and, in
   * 2026-07-28, the arguments to mirror into headers. A tool whose `x-mcp-header` annotations
   * break the spec's rules is left out, with an "invalid_tool" warning.
   */
  async listTools(
    params: { cursor?: string } = {},
    options: RequestOptions = {},
  ): Promise<ListToolsResult> {
    const { result, items, nextCursor } = await this.#list(
      "tools/list",
      "tools",
      params.cursor,
      options,
    );
    const tools = this.#modern ? items.filter((item) => this.#headerCheck(item)) : items;
    this.#outputs.remember(tools);
    for (const tool of tools) {
      if (!isObject(tool) || typeof tool.name !== "string") continue;
      const support = isObject(tool.execution) ? tool.execution.taskSupport : undefined;
      if (typeof support === "string") this.#taskSupport.set(tool.name, support);
      else this.#taskSupport.delete(tool.name);
    }
    return { ...result, tools: tools as Tool[], ...(nextCursor !== undefined && { nextCursor }) };
  }

  /** Records a listed tool's header arguments; false for a definition to leave out. */
  #headerCheck(item: unknown): boolean {
    if (!isObject(item) || typeof item.name !== "string") return true;
    const checked = toolHeaderParams(item.inputSchema);
    if (!checked.ok) {
      this.#headerParams.delete(item.name);
      this.#warn({
        code: "invalid_tool",
        message: `Left out tool "${item.name}": ${checked.reason}`,
        detail: item,
      });
      return false;
    }
    if (checked.params.length) this.#headerParams.set(item.name, checked.params);
    else this.#headerParams.delete(item.name);
    return true;
  }

  /** Every tool, across pages. */
  tools(options: RequestOptions = {}): AsyncGenerator<Tool> {
    return this.#all(async (cursor) => {
      const page = await this.listTools(cursor === undefined ? {} : { cursor }, options);
      return {
        items: page.tools,
        ...(page.nextCursor !== undefined && { nextCursor: page.nextCursor }),
      };
    }, "tools/list");
  }

  async listResources(
    params: { cursor?: string } = {},
    options: RequestOptions = {},
  ): Promise<ListResourcesResult> {
    const { result, items, nextCursor } = await this.#list(
      "resources/list",
      "resources",
      params.cursor,
      options,
    );
    return {
      ...result,
      resources: items as Resource[],
      ...(nextCursor !== undefined && { nextCursor }),
    };
  }

  /** Every resource, across pages. */
  resources(options: RequestOptions = {}): AsyncGenerator<Resource> {
    return this.#all(async (cursor) => {
      const page = await this.listResources(cursor === undefined ? {} : { cursor }, options);
      return {
        items: page.resources,
        ...(page.nextCursor !== undefined && { nextCursor: page.nextCursor }),
      };
    }, "resources/list");
  }

  async listResourceTemplates(
    params: { cursor?: string } = {},
    options: RequestOptions = {},
  ): Promise<ListResourceTemplatesResult> {
    const { result, items, nextCursor } = await this.#list(
      "resources/templates/list",
      "resourceTemplates",
      params.cursor,
      options,
    );
    return {
      ...result,
      resourceTemplates: items as ResourceTemplate[],
      ...(nextCursor !== undefined && { nextCursor }),
    };
  }

  /** Every resource template, across pages. */
  resourceTemplates(options: RequestOptions = {}): AsyncGenerator<ResourceTemplate> {
    return this.#all(async (cursor) => {
      const page = await this.listResourceTemplates(
        cursor === undefined ? {} : { cursor },
        options,
      );
      return {
        items: page.resourceTemplates,
        ...(page.nextCursor !== undefined && { nextCursor: page.nextCursor }),
      };
    }, "resources/templates/list");
  }

  async listPrompts(
    params: { cursor?: string } = {},
    options: RequestOptions = {},
  ): Promise<ListPromptsResult> {
    const { result, items, nextCursor } = await this.#list(
      "prompts/list",
      "prompts",
      params.cursor,
      options,
    );
    return {
      ...result,
      prompts: items as Prompt[],
      ...(nextCursor !== undefined && { nextCursor }),
    };
  }

  /** Every prompt, across pages. */
  prompts(options: RequestOptions = {}): AsyncGenerator<Prompt> {
    return this.#all(async (cursor) => {
      const page = await this.listPrompts(cursor === undefined ? {} : { cursor }, options);
      return {
        items: page.prompts,
        ...(page.nextCursor !== undefined && { nextCursor: page.nextCursor }),
      };
    }, "prompts/list");
  }

  /**
   * Calls a tool. A tool error comes back as a result with `isError`; protocol errors
   * (unknown tool, bad params) reject with McpError. When the tool was listed with an
   * outputSchema, structuredContent is checked against it (see StrictOptions.outputSchema).
   *
   * A call the server turns into a task (2026-07-28, see `tasks`) is waited for behind the
   * caller, as is a 2025-11-25 tool listed as needing one: the result, or the error, is the
   * one the call would have had. The signal then cancels the task, `timeoutMs` bounds each
   * request and `maxTotalTimeoutMs` the whole wait.
   */
  async callTool(
    name: string,
    args: JsonObject = {},
    options: CallToolOptions = {},
  ): Promise<CallToolResult> {
    const started = Date.now();
    if (this.#mustRunAsTask(name)) {
      const task = await this.#startUnseen(name, args, options);
      return this.#awaitTask(name, task, options, started);
    }
    const params: JsonObject = { name, arguments: args };
    if (options.meta) params._meta = options.meta;
    const raw = await this.#callToolRequest(name, args, params, options, false);
    if (this.#modern && raw.resultType === "task") {
      const task = new TaskHandle(
        this.#taskOps(),
        { task: parseTask(raw, "The tools/call task") },
        { tool: name, transparent: true },
      );
      return this.#awaitTask(name, task, options, started);
    }
    return this.#toolResult(name, raw);
  }

  /** Whether a 2025-11-25 server listed the tool as callable only as a task. */
  #mustRunAsTask(name: string): boolean {
    return (
      this.#negotiated?.protocolVersion === "2025-11-25" &&
      this.#taskSupport.get(name) === "required"
    );
  }

  /**
   * Starts a 2025-11-25 task for callTool. The caller's signal stays off the tools/call: the
   * task exists on the server before the reply, so a call aborted on its way would leave it
   * running unseen. Aborting releases the caller at once and cancels the task once known.
   */
  async #startUnseen(
    name: string,
    args: JsonObject,
    options: CallToolOptions,
  ): Promise<TaskHandle> {
    const { signal, ...rest } = options;
    const starting = this.#startTool(name, args, rest, true);
    if (!signal) return starting;
    try {
      return await abortable(starting, signal);
    } catch (error) {
      if (signal.aborted) {
        starting
          .then((task) => task.cancel())
          .catch((failed: unknown) =>
            this.#warn({
              code: "task_cancel_failed",
              message: `Could not cancel the task of tool "${name}" after its call was given up`,
              detail: failed,
            }),
          );
      }
      throw error;
    }
  }

  /** Waits for a task callTool got instead of a result, within the call's time limits. */
  async #awaitTask(
    name: string,
    task: TaskHandle,
    options: CallToolOptions,
    started: number,
  ): Promise<CallToolResult> {
    const wait: TaskWaitOptions = {};
    if (options.timeoutMs !== undefined) wait.timeoutMs = options.timeoutMs;
    const limit = options.maxTotalTimeoutMs;
    if (limit === undefined) {
      if (options.signal) wait.signal = options.signal;
      return task.result(wait);
    }
    const deadline = new AbortController();
    const timer = setTimeout(
      () =>
        deadline.abort(
          new TransportError(
            "ERR_TIMEOUT",
            `No result from tool "${name}" within ${limit} ms (maxTotalTimeoutMs)`,
          ),
        ),
      Math.max(0, started + limit - Date.now()),
    );
    wait.signal = options.signal
      ? AbortSignal.any([options.signal, deadline.signal])
      : deadline.signal;
    try {
      return await task.result(wait);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A tool's raw result, checked: its content list, and its outputSchema when it has one. */
  #toolResult(name: string | undefined, raw: JsonObject): CallToolResult {
    let content = raw.content;
    if (!Array.isArray(content)) {
      const message = `The result of tool "${name ?? "(a task)"}" has no content list`;
      if (this.#strict.toolResultContent)
        throw new ProtocolError("ERR_TOOL_RESULT_CONTENT", message);
      this.#warn({ code: "tool_result_content", message });
      content = [];
    }
    const result = { ...raw, content } as CallToolResult;
    if (!result.isError && name !== undefined) this.#checkOutput(name, result);
    return result;
  }

  // Tasks

  /**
   * Calls a tool as a task and resolves with its handle once the server has taken it on:
   * under 2025-11-25 with `params.task` (the tool must allow tasks), under 2026-07-28 with
   * the tasks extension declared (the server decides; an optional tool that finishes at once
   * is answered with its result, and so is a server without tasks: the handle then has no id
   * and `result()` holds the result).
   */
  async startTool(
    name: string,
    args: JsonObject = {},
    options: StartToolOptions = {},
  ): Promise<TaskHandle> {
    return this.#startTool(name, args, options, false);
  }

  async #startTool(
    name: string,
    args: JsonObject,
    options: StartToolOptions,
    transparent: boolean,
  ): Promise<TaskHandle> {
    const params: JsonObject = { name, arguments: args };
    const meta: JsonObject = { ...options.meta };
    if (options.webhook) {
      meta[WEBHOOK_META] = { url: options.webhook.url, secret: options.webhook.secret };
    }
    if (Object.keys(meta).length) params._meta = meta;
    const modern = this.#modern;
    if (!modern) params.task = options.ttlMs === undefined ? {} : { ttl: options.ttlMs };
    const raw = await this.#callToolRequest(name, args, params, options, true);
    const flags = { tool: name, transparent };
    if (modern && raw.resultType === "task") {
      return new TaskHandle(
        this.#taskOps(),
        { task: parseTask(raw, "The tools/call task") },
        flags,
      );
    }
    if (!modern && raw.task !== undefined) {
      return new TaskHandle(
        this.#taskOps(),
        { task: parseTask(raw.task, "The tools/call task") },
        flags,
      );
    }
    return new TaskHandle(this.#taskOps(), { result: this.#toolResult(name, raw) }, flags);
  }

  /**
   * A handle on a task by its id, e.g. one an earlier process started: poll it, wait for its
   * result, cancel it. Sends nothing until used. The server shows a task only to the caller
   * (token subject) that started it.
   */
  task(taskId: string): TaskHandle {
    this.#live();
    return new TaskHandle(this.#taskOps(), { taskId });
  }

  /** Where a task stands (tasks/get). */
  getTask(taskId: string, options: RequestOptions = {}): Promise<TaskInfo> {
    return this.task(taskId).poll(options);
  }

  /** Cancels a task (tasks/cancel); see `TaskHandle.cancel`. */
  cancelTask(taskId: string, options: RequestOptions = {}): Promise<void> {
    return this.task(taskId).cancel(options);
  }

  /**
   * One page of the caller's tasks (tasks/list, 2025-11-25; our server offers it to
   * authenticated callers only). 2026-07-28 has no such request: ERR_TASK_UNSUPPORTED.
   */
  async listTasks(
    params: { cursor?: string } = {},
    options: RequestOptions = {},
  ): Promise<ListTasksResult> {
    this.#live();
    if (this.#modern) {
      throw new TaskError("ERR_TASK_UNSUPPORTED", "2026-07-28 has no tasks/list");
    }
    const { items, nextCursor } = await this.#list("tasks/list", "tasks", params.cursor, options);
    return {
      tasks: items.map((item) => parseTask(item, "A tasks/list entry")),
      ...(nextCursor !== undefined && { nextCursor }),
    };
  }

  /** Every task of the caller, across pages (2025-11-25). */
  tasks(options: RequestOptions = {}): AsyncGenerator<TaskInfo> {
    return this.#all(async (cursor) => {
      const page = await this.listTasks(cursor === undefined ? {} : { cursor }, options);
      return {
        items: page.tasks,
        ...(page.nextCursor !== undefined && { nextCursor: page.nextCursor }),
      };
    }, "tasks/list");
  }

  /** What a TaskHandle made now needs from this client. */
  #taskOps(): TaskOps {
    return {
      modern: this.#modern,
      request: (method, params, options) => this.#call(method, params, options, {}, true),
      answer: (key, request, signal) => this.#answerInput(key, request, signal),
      complete: (result, tool) => this.#toolResult(tool, result),
      life: () => this.#life.signal,
      warn: (warning) => this.#warn(warning),
    };
  }

  /**
   * tools/call, with the tool's Mcp-Param-* headers in 2026-07-28. A HeaderMismatch means
   * the tool's schema changed since it was listed (or it never was): list again, send again.
   */
  async #callToolRequest(
    name: string,
    args: JsonObject,
    params: JsonObject,
    options: RequestOptions,
    tasks: boolean,
  ): Promise<JsonObject> {
    const send = () => {
      const headers = paramHeaders(this.#headerParams.get(name) ?? [], args);
      return this.#call("tools/call", params, options, { headers }, tasks);
    };
    if (!this.#modern) return send();
    try {
      return await send();
    } catch (error) {
      if (!(error instanceof McpError) || error.code !== ErrorCode.HeaderMismatch) throw error;
      const before = JSON.stringify(this.#headerParams.get(name) ?? []);
      for await (const _tool of this.tools(options)) {
        // Listing records every tool's header arguments.
      }
      if (JSON.stringify(this.#headerParams.get(name) ?? []) === before) throw error;
      return send();
    }
  }

  #checkOutput(name: string, result: CallToolResult): void {
    const structured = result.structuredContent;
    const check =
      structured === undefined
        ? this.#outputs.has(name)
          ? { ok: false as const, reason: "the result has no structuredContent" }
          : undefined
        : this.#outputs.check(name, structured);
    if (check === undefined || check.ok === true) return;
    if (check.ok === "unchecked") {
      this.#warn({
        code: "output_schema_unchecked",
        message: `The outputSchema of tool "${name}" cannot be checked: ${check.reason}`,
      });
      return;
    }
    const error = new OutputSchemaError(name, check.reason, result);
    if (this.#strict.outputSchema) throw error;
    this.#warn({
      code: "output_schema",
      message: error.message,
      detail: { tool: name, reason: check.reason },
    });
  }

  async readResource(uri: string, options: RequestOptions = {}): Promise<ReadResourceResult> {
    const result = await this.request("resources/read", { uri }, options);
    return {
      ...result,
      contents: this.#requireArray(result, "contents", "resources/read"),
    } as ReadResourceResult;
  }

  /**
   * Subscribes to a resource's updates (see `onResourceUpdated`). In 2026-07-28 the URI joins
   * the subscriptions/listen stream, which is re-opened with it; this resolves once the
   * server acknowledged it, and rejects with ERR_SUBSCRIPTION when the server left it out.
   */
  async subscribe(uri: string, options: RequestOptions = {}): Promise<void> {
    if (this.#modern) {
      this.#live();
      this.#checkCapability("resources/subscribe");
      await this.#listenStream().subscribe(uri, options);
      return;
    }
    await this.request("resources/subscribe", { uri }, options);
    this.#subscriptions.add(uri);
  }

  async unsubscribe(uri: string, options: RequestOptions = {}): Promise<void> {
    if (this.#modern) {
      this.#live();
      await this.#listenStream().unsubscribe(uri, options);
      return;
    }
    await this.request("resources/unsubscribe", { uri }, options);
    this.#subscriptions.delete(uri);
  }

  #listenStream(): ListenStream {
    this.#listen ??= new ListenStream({
      open: (filter, signal, onId) =>
        this.#call(
          "subscriptions/listen",
          { notifications: filter as JsonObject },
          { signal, timeoutMs: Number.POSITIVE_INFINITY },
          { onId, recover: false },
        ),
      lists: () => ({
        tools: this.#options.onToolsChanged !== undefined,
        prompts: this.#options.onPromptsChanged !== undefined,
        resources: this.#options.onResourcesChanged !== undefined,
      }),
      warn: (warning) => this.#warn(warning),
      timeoutMs: this.#options.requestTimeoutMs ?? 60_000,
      reconnect: {
        maxAttempts: this.#reconnect?.maxAttempts ?? 5,
        delayMs: this.#reconnect?.delayMs ?? 1_000,
        maxDelayMs: this.#reconnect?.maxDelayMs ?? 30_000,
      },
    });
    return this.#listen;
  }

  /** Opens the stream for the list-changed hooks, if any; a failure is only a warning. */
  async #openListen(opening: RequestOptions): Promise<void> {
    const options = this.#options;
    if (!options.onToolsChanged && !options.onPromptsChanged && !options.onResourcesChanged) {
      return;
    }
    try {
      await this.#listenStream().refresh(opening);
    } catch (error) {
      this.#warn({
        code: "subscription_failed",
        message: "Could not open the subscriptions/listen stream for list changes",
        detail: error,
      });
    }
  }

  async getPrompt(
    name: string,
    args: Record<string, string> = {},
    options: RequestOptions = {},
  ): Promise<GetPromptResult> {
    const result = await this.request("prompts/get", { name, arguments: args }, options);
    return {
      ...result,
      messages: this.#requireArray(result, "messages", "prompts/get"),
    } as GetPromptResult;
  }

  /** Asks for completions of a prompt argument or a resource template variable. */
  async complete(
    ref: CompletionReference,
    argument: { name: string; value: string },
    options: RequestOptions & { context?: Record<string, string> } = {},
  ): Promise<CompleteResult> {
    const params: JsonObject = { ref, argument };
    if (options.context) params.context = { arguments: options.context };
    const result = await this.request("completion/complete", params, options);
    const completion = isObject(result.completion) ? result.completion : undefined;
    if (!completion || !Array.isArray(completion.values)) {
      const message = 'The completion/complete result has no "completion.values" list';
      if (this.#strict.contract) throw new ProtocolError("ERR_CONTRACT", message);
      this.#warn({ code: "contract", message });
      return { ...result, completion: { values: [] } };
    }
    return result as unknown as CompleteResult;
  }

  /**
   * Sets the level of log messages the server sends (see `onLog`). In 2026-07-28 there is no
   * such request: the level is kept here and sent in the `_meta` of every later request, and
   * without it the server sends no log messages at all.
   */
  async setLoggingLevel(level: LoggingLevel, options: RequestOptions = {}): Promise<void> {
    if (this.#modern) {
      this.#live();
      this.#checkCapability("logging/setLevel");
      if (!LOGGING_LEVELS.includes(level)) {
        throw new McpError(ErrorCode.InvalidParams, `Unknown logging level: ${String(level)}`);
      }
      this.#logLevel = level;
      return;
    }
    await this.request("logging/setLevel", { level }, options);
    this.#logLevel = level;
  }

  /**
   * Checks the server answers. 2026-07-28 has no ping: there it sends server/discover, the
   * one request every such server must answer, which does nothing else.
   */
  async ping(options: RequestOptions = {}): Promise<void> {
    await this.request(this.#modern ? "server/discover" : "ping", {}, options);
  }

  /**
   * Tells the server the roots changed (notifications/roots/list_changed). 2026-07-28 removed
   * the notification (servers ask for roots with each request that needs them): a no-op there.
   */
  async rootsChanged(): Promise<void> {
    this.#live();
    if (this.#modern) return;
    await this.notify("notifications/roots/list_changed");
  }

  // From the server

  async #serve(request: InboundRequest): Promise<JsonObject> {
    const extra: HandlerExtra = { signal: request.signal, requestId: request.id };
    const answer = await this.#handle(request.method, request.params, extra);
    if (answer) return answer;
    throw new McpError(ErrorCode.MethodNotFound, `Method not found: ${request.method}`);
  }

  /**
   * Runs the handler for what the server asks, in either era; undefined when there is none.
   * Throws McpError for a request the client cannot take.
   */
  async #handle(
    method: string,
    params: JsonObject,
    extra: HandlerExtra,
  ): Promise<JsonObject | undefined> {
    const handlers = this.#options.handlers ?? {};
    switch (method) {
      case "elicitation/create":
        if (handlers.elicitation) {
          return { ...(await handlers.elicitation(this.#elicitation(params), extra)) };
        }
        break;
      case "sampling/createMessage":
        if (handlers.sampling) {
          return { ...(await handlers.sampling(params as unknown as CreateMessageParams, extra)) };
        }
        break;
      case "roots/list":
        if (handlers.roots) return { roots: await handlers.roots(extra) };
        break;
    }
    return undefined;
  }

  #elicitation(params: JsonObject): ElicitationRequest {
    const modes = this.#options.elicitationModes ?? ["form"];
    const message = typeof params.message === "string" ? params.message : "";
    const meta = isObject(params._meta) ? { _meta: params._meta } : {};
    if (params.mode === "url") {
      if (!modes.includes("url") || typeof params.url !== "string") {
        throw new McpError(ErrorCode.InvalidParams, "This client does not do URL-mode elicitation");
      }
      const elicitationId = typeof params.elicitationId === "string" ? params.elicitationId : "";
      return { mode: "url", message, url: params.url, elicitationId, ...meta };
    }
    if (!modes.includes("form")) {
      throw new McpError(ErrorCode.InvalidParams, "This client does not do form elicitation");
    }
    const requestedSchema = isObject(params.requestedSchema) ? params.requestedSchema : {};
    return { mode: "form", message, requestedSchema, ...meta };
  }

  #notified(notification: JsonRpcNotification): void {
    const params = notification.params ?? {};
    const options = this.#options;
    // Change notifications of 2026-07-28 come tagged with the stream that carries them:
    // only those of the live stream count, and its acknowledgement is the stream's own.
    const routing = this.#listen?.route(notification) ?? "unrelated";
    if (routing === "stale") return;
    if (routing === "ack") {
      this.#hook(() => options.onNotification?.(notification));
      return;
    }
    switch (notification.method) {
      case "notifications/message": {
        const message: LogMessage = { level: params.level as LoggingLevel, data: params.data };
        if (typeof params.logger === "string") message.logger = params.logger;
        this.#hook(() => options.onLog?.(message));
        break;
      }
      case "notifications/tools/list_changed":
        // The schemas may have changed with the list: check nothing against stale ones.
        this.#outputs.clear();
        this.#hook(() => options.onToolsChanged?.());
        break;
      case "notifications/resources/list_changed":
        this.#hook(() => options.onResourcesChanged?.());
        break;
      case "notifications/prompts/list_changed":
        this.#hook(() => options.onPromptsChanged?.());
        break;
      case "notifications/resources/updated":
        if (typeof params.uri === "string") {
          const uri = params.uri;
          // In 2026-07-28 only URIs this client subscribed to, whatever a server sends.
          if (routing === "deliver" && !this.#listen?.watches(uri)) break;
          this.#hook(() => options.onResourceUpdated?.(uri));
        }
        break;
      case "notifications/progress":
        this.#hook(() =>
          options.onProgress?.(params as unknown as Progress & { progressToken: string | number }),
        );
        break;
    }
    this.#hook(() => options.onNotification?.(notification));
  }

  /** Runs a user hook; what it throws is reported, never let into the transport. */
  #hook(run: () => void): void {
    try {
      run();
    } catch (error) {
      this.#warn({ code: "hook_failed", message: "A notification hook threw", detail: error });
    }
  }

  #warn(warning: ClientWarning): void {
    try {
      this.#options.onWarning?.(warning);
    } catch {
      // A warning hook that throws has nowhere left to report to.
    }
  }
}

/** The era a stored record shows the server spoke. */
function rememberedEra(saved: ClientState | undefined): Era | undefined {
  if (!saved) return undefined;
  if (isModern(saved.protocolVersion)) return "modern";
  return LEGACY_VERSIONS.includes(saved.protocolVersion) ? "legacy" : undefined;
}
