import { isObject } from "../mcp/content.ts";
import { ErrorCode, type JsonRpcNotification, McpError, type RequestId } from "../mcp/jsonrpc.ts";
import type {
  CallToolResult,
  ClientCapabilities,
  CreateMessageParams,
  CreateMessageResult,
  ElicitResult,
  GetPromptResult,
  Icon,
  Implementation,
  JsonObject,
  LoggingLevel,
  ReadResourceResult,
  Root,
} from "../mcp/types.ts";
import type { Authorizer } from "./auth-seam.ts";
import {
  Connection,
  type InboundRequest,
  type Progress,
  type RequestOptions,
} from "./connection.ts";
import { type ClientWarning, OutputSchemaError, ProtocolError, TransportError } from "./errors.ts";
import { handshake, type Negotiated } from "./handshake.ts";
import { type ReconnectOptions, StreamableHttpClientTransport } from "./http.ts";
import { OutputSchemas } from "./output-schema.ts";
import { type ClientState, type ClientStateStore, memoryClientState } from "./state.ts";
import { type ResolvedStrictness, resolveStrict, type StrictOptions } from "./strict.ts";
import type { ClientTransport, SessionUpdate } from "./transport.ts";
import type {
  CompleteResult,
  CompletionReference,
  ElicitationRequest,
  ListPromptsResult,
  ListResourcesResult,
  ListResourceTemplatesResult,
  ListToolsResult,
  LogMessage,
  Prompt,
  Resource,
  ResourceTemplate,
  Tool,
} from "./types.ts";
import { CLIENT_VERSIONS } from "./versions.ts";

/** What a handler of a server-to-client request receives besides the request. */
export interface HandlerExtra {
  /** Aborts when the server cancels the request or the connection closes. */
  signal: AbortSignal;
  requestId: RequestId;
}

/**
 * Answers to what a server may ask. Each one given is declared as a capability at
 * initialize; a server asking for one not given gets "method not found".
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
  /** The revision to offer at initialize. Default the newest this client speaks. */
  protocolVersion?: string;
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
  /** How dropped SSE streams are resumed (URL targets only). */
  reconnect?: ReconnectOptions;
  /** Open the GET stream for server-initiated messages (URL targets only). Default true. */
  listen?: boolean;
  /** Aborts the opening handshake. */
  signal?: AbortSignal;
  /** Time limit for each request of the opening handshake. */
  timeoutMs?: number;
}

export interface CallToolOptions extends RequestOptions {
  /** `_meta` to send with the call. */
  meta?: JsonObject;
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

function sessionLost(error: unknown): boolean {
  return (
    error instanceof TransportError &&
    (error.code === "ERR_SESSION_EXPIRED" ||
      (error.code === "ERR_HTTP_STATUS" && error.status === 400))
  );
}

/**
 * An MCP client: connects to one server over Streamable HTTP (a URL) or any ClientTransport,
 * negotiates the protocol revision, and offers the server's tools, resources and prompts as
 * typed calls. Lenient with servers by default; see `strict`.
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
  readonly #subscriptions = new Set<string>();
  #connection: Connection | undefined;
  #negotiated: Negotiated | undefined;
  #store: ClientStateStore = memoryClientState();
  #record: Partial<ClientState> = {};
  #saving: Promise<void> = Promise.resolve();
  #recovering: Promise<void> | undefined;
  #logLevel: LoggingLevel | undefined;

  constructor(options: McpClientOptions) {
    this.#options = options;
    this.#strict = resolveStrict(options.strict);
  }

  // Connection

  /**
   * Connects to a server: a URL (Streamable HTTP) or a transport. With a `state` store that
   * holds a session the server still knows, the session is taken up without a new initialize.
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
    this.#logLevel = undefined;
    this.#store = options.state ?? memoryClientState();
    const opening: RequestOptions = {};
    if (options.signal) opening.signal = options.signal;
    if (options.timeoutMs !== undefined) opening.timeoutMs = options.timeoutMs;
    try {
      await transport.start(connection.handlers());
      if (!(await this.#resume(connection, opening))) await this.#open(connection, opening);
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
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
  async #resume(connection: Connection, opening: RequestOptions): Promise<boolean> {
    const saved = await this.#store.get();
    const transport = connection.transport;
    if (!saved?.sessionId || !CLIENT_VERSIONS.includes(saved.protocolVersion)) return false;
    const snapshot = {
      protocolVersion: saved.protocolVersion,
      sessionId: saved.sessionId,
      lastEventId: saved.lastEventId,
    };
    if (!transport.restore?.(snapshot)) return false;
    try {
      await connection.request("ping", {}, opening, false);
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

  async #open(connection: Connection, opening: RequestOptions): Promise<void> {
    const negotiated = await handshake(connection, {
      clientInfo: this.#clientInfo(),
      capabilities: this.#capabilities(),
      ...(this.#options.protocolVersion !== undefined && {
        protocolVersion: this.#options.protocolVersion,
      }),
      strictContract: this.#strict.contract,
      warn: (warning) => this.#warn(warning),
      request: opening,
    });
    this.#negotiated = negotiated;
    const record: ClientState = {
      ...this.#record,
      protocolVersion: negotiated.protocolVersion,
      serverInfo: negotiated.serverInfo,
      serverCapabilities: negotiated.serverCapabilities,
    };
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
      await this.#open(connection, {});
      if (this.#logLevel !== undefined) {
        await connection.request("logging/setLevel", { level: this.#logLevel }, {}, false);
      }
      for (const uri of this.#subscriptions) {
        await connection.request("resources/subscribe", { uri }, {}, false);
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
   * stored state is forgotten; `terminate: false` keeps both, to resume from another process.
   */
  async close(options: { terminate?: boolean } = {}): Promise<void> {
    const connection = this.#connection;
    if (!connection) return;
    await connection.close(options);
    await this.#saving;
    if (options.terminate !== false) await this.#store.set(undefined);
  }

  /** Whether the client is connected and the connection is open. */
  get connected(): boolean {
    return this.#connection !== undefined && !this.#connection.closed;
  }

  /** The negotiated protocol revision. */
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

  #capabilities(): JsonObject {
    const handlers = this.#options.handlers ?? {};
    const capabilities: JsonObject = { ...this.#options.capabilities };
    if (handlers.elicitation) {
      const modes = this.#options.elicitationModes ?? ["form"];
      capabilities.elicitation = Object.fromEntries(modes.map((mode) => [mode, {}]));
    }
    if (handlers.sampling) capabilities.sampling = {};
    if (handlers.roots) capabilities.roots = { listChanged: true };
    return capabilities;
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
   */
  async request(
    method: string,
    params: JsonObject = {},
    options: RequestOptions = {},
  ): Promise<JsonObject> {
    const connection = this.#live();
    this.#checkCapability(method);
    return connection.request(method, params, options);
  }

  /** Sends any notification. */
  async notify(method: string, params?: JsonObject): Promise<void> {
    await this.#live().notify(method, params);
  }

  #checkCapability(method: string): void {
    const needed = REQUIRED_CAPABILITY[method];
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

  /** One page of tools; remembers their output schemas to check results against. */
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
    this.#outputs.remember(items);
    return { ...result, tools: items as Tool[], ...(nextCursor !== undefined && { nextCursor }) };
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
   */
  async callTool(
    name: string,
    args: JsonObject = {},
    options: CallToolOptions = {},
  ): Promise<CallToolResult> {
    const params: JsonObject = { name, arguments: args };
    if (options.meta) params._meta = options.meta;
    const raw = await this.request("tools/call", params, options);
    let content = raw.content;
    if (!Array.isArray(content)) {
      const message = `The result of tool "${name}" has no content list`;
      if (this.#strict.toolResultContent)
        throw new ProtocolError("ERR_TOOL_RESULT_CONTENT", message);
      this.#warn({ code: "tool_result_content", message });
      content = [];
    }
    const result = { ...raw, content } as CallToolResult;
    if (!result.isError) this.#checkOutput(name, result);
    return result;
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

  /** Subscribes to a resource's updates (see `onResourceUpdated`). */
  async subscribe(uri: string, options: RequestOptions = {}): Promise<void> {
    await this.request("resources/subscribe", { uri }, options);
    this.#subscriptions.add(uri);
  }

  async unsubscribe(uri: string, options: RequestOptions = {}): Promise<void> {
    await this.request("resources/unsubscribe", { uri }, options);
    this.#subscriptions.delete(uri);
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

  /** Sets the level of log messages the server sends (see `onLog`). */
  async setLoggingLevel(level: LoggingLevel, options: RequestOptions = {}): Promise<void> {
    await this.request("logging/setLevel", { level }, options);
    this.#logLevel = level;
  }

  async ping(options: RequestOptions = {}): Promise<void> {
    await this.request("ping", {}, options);
  }

  /** Tells the server the roots changed (notifications/roots/list_changed). */
  async rootsChanged(): Promise<void> {
    await this.notify("notifications/roots/list_changed");
  }

  // From the server

  async #serve(request: InboundRequest): Promise<JsonObject> {
    const handlers = this.#options.handlers ?? {};
    const extra: HandlerExtra = { signal: request.signal, requestId: request.id };
    const params = request.params;
    switch (request.method) {
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
    throw new McpError(ErrorCode.MethodNotFound, `Method not found: ${request.method}`);
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
