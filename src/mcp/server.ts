import type * as z from "zod/v4/core";
import { errorId, type Logger, resolveLogger } from "../util/log.ts";
import { Sealer } from "../util/sealer.ts";
import { type Completer, completerFor, completionResult, contextArguments } from "./completion.ts";
import { isObject } from "./content.ts";
import { type AppState, Context } from "./context.ts";
import { unexpectedFailure, warnNoSecret } from "./failures.ts";
import {
  ErrorCode,
  failure,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  McpError,
  success,
} from "./jsonrpc.ts";
import { type Listed, Listing, paginate } from "./listing.ts";
import {
  CACHEABLE,
  INPUT_CAPABLE,
  META,
  MODERN_ONLY,
  modernError,
  SESSION_ERA_ONLY,
} from "./modern.ts";
import { InputRound, SUSPENDED } from "./mrtr.ts";
import { type AuthInfo, type Exchange, type Peer, principalOf } from "./peer.ts";
import { type PromptConfig, type PromptHandler, RegisteredPrompt } from "./prompts.ts";
import {
  RegisteredResource,
  type ResourceConfig,
  type ResourceHandler,
  resourceNotFound,
  type TemplateVariables,
} from "./resources.ts";
import type { SchemaInput } from "./schema.ts";
import type { ToolCall } from "./tasks/call.ts";
import {
  EXTENSION_TASK_METHODS,
  LEGACY_TASK_METHODS,
  type TaskOptions,
  Tasks,
} from "./tasks/manager.ts";
import {
  checkToolName,
  errorResult,
  RegisteredTool,
  type ToolConfig,
  ToolError,
  type ToolHandler,
} from "./tools.ts";
import {
  type Icon,
  type Implementation,
  type JsonObject,
  LOGGING_LEVELS,
  type LoggingLevel,
  type ReadResourceResult,
} from "./types.ts";
import {
  ALL_VERSIONS,
  isModernVersion,
  negotiateVersion,
  type ProtocolVersion,
} from "./versions.ts";

export interface McpServerOptions {
  name: string;
  version: string;
  title?: string;
  description?: string;
  icons?: Icon[];
  websiteUrl?: string;
  /** Told to the client at initialize: how to use this server. */
  instructions?: string;
  /** Items per page of tools/list, resources/list and prompts/list. Default 100. */
  pageSize?: number;
  /** Revisions offered, newest first. Default: every revision this version speaks. */
  protocolVersions?: readonly ProtocolVersion[];
  /**
   * List tools, resources and prompts even to callers whose token lacks their scopes (they
   * still cannot use them). Default false: each caller sees what it may use.
   */
  listUnauthorized?: boolean;
  /**
   * Seals the `requestState` of multi round-trip requests (2026-07-28); at least 32
   * characters. Every instance behind one load balancer needs the same secret. Default: a
   * random one per process.
   */
  secret?: string;
  /** How long a multi round-trip request may wait for the client's answers. Default 10 minutes. */
  inputTtlMs?: number;
  /** Cache hints on list, read and discover results (2026-07-28). Default ttlMs 0. */
  cache?: CacheHints;
  /** Tool calls as tasks: where they are stored, their lifetimes, completion webhooks. */
  tasks?: TaskOptions;
  /**
   * Where tool exceptions and internal errors (error), and the endpoint's requests (debug),
   * are reported. Default: lines on stderr; silent under vitest.
   */
  logger?: Logger;
}

/** How long clients may cache a result, and whether shared caches may keep it. */
export interface CacheHints {
  ttlMs?: number;
  /** Default "private" for authenticated callers, else "public". */
  scope?: "public" | "private";
}

/** Which change notifications a `subscriptions/listen` stream carries. */
export interface SubscriptionFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

/** An Exchange whose server-to-client requests go through a multi round-trip round. */
function askingThrough(exchange: Exchange, round: InputRound): Exchange {
  return {
    peer: exchange.peer,
    get signal() {
      return exchange.signal;
    },
    http: exchange.http,
    auth: exchange.auth,
    notify: (message) => exchange.notify(message),
    request: (method, params, options) => round.ask(method, params, options.inputKey),
  };
}

/** Resource URIs one `subscriptions/listen` stream may watch. */
const MAX_SUBSCRIPTIONS = 1000;

/** Something a transport must pass on to connected clients. */
export type ServerEvent =
  | { type: "list_changed"; list: "tools" | "resources" | "prompts" }
  | { type: "resource_updated"; uri: string };

type MethodHandler = (
  params: JsonObject,
  ctx: Context,
  exchange: Exchange,
) => Promise<JsonObject> | JsonObject;

const LIST_CHANGED = {
  tools: "notifications/tools/list_changed",
  resources: "notifications/resources/list_changed",
  prompts: "notifications/prompts/list_changed",
} as const;

/** The wire notification for a server event. */
export function eventNotification(event: ServerEvent): JsonRpcNotification {
  return event.type === "list_changed"
    ? { jsonrpc: "2.0", method: LIST_CHANGED[event.list] }
    : { jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri: event.uri } };
}

function withoutExecution(tool: JsonObject): JsonObject {
  if (!("execution" in tool)) return tool;
  const { execution: _execution, ...rest } = tool;
  return rest;
}

function stringParam(params: JsonObject, key: string): string {
  const value = params[key];
  if (typeof value !== "string") {
    throw new McpError(ErrorCode.InvalidParams, `Invalid params: "${key}" must be a string`);
  }
  return value;
}

/**
 * The registry of tools, resources and prompts, and the dispatcher that answers MCP requests
 * from it. Transport-free: a transport hands each message in with an Exchange.
 */
export class McpServer {
  readonly info: Implementation;
  readonly instructions: string | undefined;
  readonly pageSize: number;
  readonly protocolVersions: readonly ProtocolVersion[];
  readonly listUnauthorized: boolean;
  readonly #secret: string | undefined;
  #sealer: Sealer | undefined;
  readonly #inputTtlMs: number;
  readonly #cache: CacheHints;
  /** Shared state for handlers, reachable as `ctx.app`. */
  readonly state: AppState = new Map();
  readonly tools: Listing<RegisteredTool>;
  readonly resources: Listing<RegisteredResource>;
  readonly templates: Listing<RegisteredResource>;
  readonly prompts: Listing<RegisteredPrompt>;
  /** Tool calls running or run as tasks, and their store. */
  readonly tasks: Tasks;
  readonly #listeners = new Set<(event: ServerEvent) => void>();
  readonly #pendingLists = new Set<"tools" | "resources" | "prompts">();
  readonly #methods: Record<string, MethodHandler>;
  readonly logger: Logger;
  /** Whether a `secret` was configured: instances behind one load balancer need the same one. */
  readonly hasSecret: boolean;

  constructor(options: McpServerOptions) {
    this.logger = resolveLogger(options.logger);
    const info: Implementation = { name: options.name, version: options.version };
    for (const key of ["title", "description", "icons", "websiteUrl"] as const) {
      if (options[key] !== undefined) Object.assign(info, { [key]: options[key] });
    }
    this.info = info;
    this.instructions = options.instructions;
    this.pageSize = options.pageSize ?? 100;
    this.protocolVersions = options.protocolVersions ?? ALL_VERSIONS;
    if (options.secret !== undefined && options.secret.length < 32) {
      throw new TypeError("The server secret must be at least 32 characters");
    }
    this.#secret = options.secret;
    this.hasSecret = options.secret !== undefined;
    if (options.tasks?.store && !this.hasSecret) warnNoSecret(this.logger, "tasks");
    this.#inputTtlMs = options.inputTtlMs ?? 10 * 60_000;
    this.#cache = options.cache ?? {};
    this.listUnauthorized = options.listUnauthorized ?? false;
    this.tools = new Listing(() => this.#listChanged("tools"));
    this.resources = new Listing(() => this.#listChanged("resources"));
    this.templates = new Listing(() => this.#listChanged("resources"));
    this.prompts = new Listing(() => this.#listChanged("prompts"));
    this.tasks = new Tasks(options.tasks ?? {}, {
      taskSupport: (name) => this.tools.get(name)?.taskSupport,
      offersTasks: () => {
        for (const tool of this.tools.values()) if (tool.taskSupport !== "forbidden") return true;
        return false;
      },
      pageSize: this.pageSize,
    });
    this.#methods = this.#methodTable();
  }

  // Registration

  /** Registers a tool. */
  tool<
    I extends SchemaInput | undefined = undefined,
    O extends SchemaInput | undefined = undefined,
  >(name: string, config: ToolConfig<I, O>, handler: ToolHandler<I, O>): RegisteredTool {
    checkToolName(name);
    const tool = new RegisteredTool(
      name,
      config as ToolConfig<SchemaInput | undefined, SchemaInput | undefined>,
      handler as ToolHandler<unknown, unknown>,
      { onChange: () => this.tools.changed(), onRemove: () => this.tools.delete(name) },
    );
    this.tools.add(name, tool);
    return tool;
  }

  /** Registers a resource at a fixed URI, or a family of them under an RFC 6570 template. */
  resource<U extends string>(
    uri: U,
    config: ResourceConfig,
    handler: ResourceHandler<TemplateVariables<U>>,
  ): RegisteredResource {
    let listing: Listing<RegisteredResource> | undefined;
    const resource = new RegisteredResource(
      uri,
      config,
      handler as ResourceHandler<Record<string, string>>,
      { onChange: () => listing?.changed(), onRemove: () => listing?.delete(uri) },
    );
    listing = resource.template ? this.templates : this.resources;
    listing.add(uri, resource);
    return resource;
  }

  /** Registers a prompt. */
  prompt<A extends z.$ZodObject | undefined = undefined>(
    name: string,
    config: PromptConfig<A>,
    handler: PromptHandler<A>,
  ): RegisteredPrompt {
    const prompt = new RegisteredPrompt(
      name,
      config as PromptConfig<z.$ZodObject | undefined>,
      handler as PromptHandler<unknown>,
      { onChange: () => this.prompts.changed(), onRemove: () => this.prompts.delete(name) },
    );
    this.prompts.add(name, prompt);
    return prompt;
  }

  /** Tells subscribed clients that a resource changed. */
  resourceUpdated(uri: string): void {
    this.#emit({ type: "resource_updated", uri });
  }

  /** Listens to events a transport must pass on; returns the function that stops listening. */
  listen(listener: (event: ServerEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: ServerEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  /** Coalesces a burst of registry changes into one notification per list. */
  #listChanged(list: "tools" | "resources" | "prompts"): void {
    if (this.#listeners.size === 0 || this.#pendingLists.has(list)) return;
    this.#pendingLists.add(list);
    queueMicrotask(() => {
      this.#pendingLists.delete(list);
      this.#emit({ type: "list_changed", list });
    });
  }

  // Dispatch

  /**
   * Answers one request. Never throws: every failure becomes a JSON-RPC error response.
   * Resolves to undefined for a request the client cancelled: no response is sent for it.
   */
  async dispatch(
    request: JsonRpcRequest,
    exchange: Exchange,
  ): Promise<JsonRpcResponse | undefined> {
    const peer = exchange.peer;
    const modern = isModernVersion(peer.protocolVersion);
    const handler = this.#handler(request.method, modern);
    if (!handler) {
      return failure(
        request.id,
        new McpError(ErrorCode.MethodNotFound, `Method not found: ${request.method}`),
      );
    }
    const params = request.params ?? {};
    const meta = isObject(params._meta) ? params._meta : undefined;
    let round: InputRound | undefined;
    let via = exchange;
    if (modern && INPUT_CAPABLE.has(request.method)) {
      try {
        round = await this.#openRound(request.method, params, exchange);
      } catch (error) {
        return failure(request.id, modernError(asMcpError(error)));
      }
      via = askingThrough(exchange, round);
    }
    let call: ToolCall | undefined;
    if (request.method === "tools/call") {
      try {
        call = await this.tasks.prepare(params, exchange, via);
      } catch (error) {
        const mcpError = asMcpError(error);
        return failure(request.id, modern ? modernError(mcpError) : mcpError);
      }
      // A call that may become a task talks to the client through the task once it is one.
      if (call) via = call.exchange;
    }
    const ctx = new Context(this, via, request.id, request.method, meta, call);
    if (peer.sessionId !== undefined) (peer.inflight ??= new Map()).set(request.id, ctx);
    try {
      const run = call
        ? call.run(() => handler(params, ctx, via))
        : Promise.resolve(handler(params, ctx, via));
      // A suspended run may still settle later (a handler racing its own timer): ignore it.
      run.catch(() => {});
      const outcome = round ? await Promise.race([run, round.suspended]) : await run;
      if (ctx.cancelled) return undefined;
      if (outcome === SUSPENDED) {
        const result = await round!.result(this.#sealing(), this.#inputTtlMs);
        return success(request.id, this.#modernResult(request.method, params, result, ctx));
      }
      return success(
        request.id,
        modern ? this.#modernResult(request.method, params, outcome, ctx) : outcome,
      );
    } catch (error) {
      if (ctx.cancelled) return undefined;
      const mcpError = unexpectedFailure(this.logger, error, request.method);
      return failure(request.id, modern ? modernError(mcpError) : mcpError);
    } finally {
      peer.inflight?.delete(request.id);
    }
  }

  /** Whether this server answers a method in an era. */
  handles(method: string, modern: boolean): boolean {
    return this.#handler(method, modern) !== undefined;
  }

  /** The handler of a method in an era: each era lacks some of the other's methods. */
  #handler(method: string, modern: boolean): MethodHandler | undefined {
    if (!Object.hasOwn(this.#methods, method)) return undefined;
    if (modern ? SESSION_ERA_ONLY.has(method) : MODERN_ONLY.has(method)) return undefined;
    if (modern ? LEGACY_TASK_METHODS.has(method) : EXTENSION_TASK_METHODS.has(method)) {
      return undefined;
    }
    return this.#methods[method];
  }

  #openRound(method: string, params: JsonObject, exchange: Exchange): Promise<InputRound> {
    const { _meta: _m, inputResponses: _i, requestState: _r, ...args } = params;
    const binding = { method, params: args, principal: principalOf(exchange.auth) };
    return InputRound.open(params, binding, this.#sealing());
  }

  /**
   * Made on first use: Workers forbid random numbers at global scope, where a server is
   * usually constructed.
   */
  #sealing(): Sealer {
    this.#sealer ??= new Sealer(
      this.#secret ?? crypto.getRandomValues(new Uint8Array(32)),
      "portcullis requestState",
    );
    return this.#sealer;
  }

  /** A 2026-07-28 result: `resultType`, the server's identity, and cache hints where they apply. */
  #modernResult(method: string, params: JsonObject, result: JsonObject, ctx: Context): JsonObject {
    const decorated: JsonObject = { ...result };
    decorated.resultType ??= "complete";
    decorated._meta = {
      ...(isObject(result._meta) ? result._meta : {}),
      [META.serverInfo]: this.info,
    };
    if (CACHEABLE.has(method) && decorated.resultType === "complete") {
      const own =
        method === "resources/read" && typeof params.uri === "string"
          ? this.#resourceFor(params.uri)?.config.cache
          : undefined;
      decorated.ttlMs ??= own?.ttlMs ?? this.#cache.ttlMs ?? 0;
      decorated.cacheScope ??= own?.scope ?? this.#cache.scope ?? (ctx.auth ? "private" : "public");
    }
    return decorated;
  }

  /** Takes one notification from the client. */
  receive(notification: JsonRpcNotification, peer: Peer): void {
    const params = notification.params ?? {};
    switch (notification.method) {
      case "notifications/initialized":
        peer.initialized = true;
        return;
      case "notifications/cancelled": {
        const id = params.requestId;
        if (typeof id !== "string" && typeof id !== "number") return;
        const reason = typeof params.reason === "string" ? params.reason : "cancelled by client";
        peer.inflight?.get(id)?.abort(reason);
        return;
      }
    }
  }

  /** Builds the initialize result and records the client on its peer. */
  initialize(params: JsonObject, peer: Peer, auth?: AuthInfo): JsonObject {
    if (this.protocolVersions.every(isModernVersion)) {
      // A server that offers only stateless revisions names them: a 2025 client has no other
      // way to learn why it cannot connect.
      throw new McpError(
        ErrorCode.UnsupportedProtocolVersion,
        `This server speaks only ${this.protocolVersions.join(", ")}; initialize is not part of it`,
        { supported: [...this.protocolVersions], requested: params.protocolVersion },
      );
    }
    const version = negotiateVersion(params.protocolVersion, this.protocolVersions);
    peer.protocolVersion = version;
    peer.clientCapabilities = isObject(params.capabilities) ? params.capabilities : {};
    if (isObject(params.clientInfo))
      peer.clientInfo = params.clientInfo as unknown as Implementation;
    const result: JsonObject = {
      protocolVersion: version,
      capabilities: this.capabilities({ version, authenticated: auth?.subject !== undefined }),
      serverInfo: this.info,
    };
    if (this.instructions !== undefined) result.instructions = this.instructions;
    return result;
  }

  /**
   * What this server offers, from what is registered. Tasks are advertised the way the
   * revision in `version` knows them (default: 2025-11-25), and tasks/list only to
   * authenticated callers.
   */
  capabilities(context: { version?: string; authenticated?: boolean } = {}): JsonObject {
    const capabilities: JsonObject = { logging: {} };
    let completions = false;
    if (this.tools.size) capabilities.tools = { listChanged: true };
    if (this.resources.size || this.templates.size) {
      capabilities.resources = { subscribe: true, listChanged: true };
      for (const template of this.templates.values()) completions ||= !!template.config.complete;
    }
    if (this.prompts.size) {
      capabilities.prompts = { listChanged: true };
      for (const prompt of this.prompts.values()) completions ||= !!prompt.config.complete;
    }
    if (completions) capabilities.completions = {};
    const version = context.version ?? "2025-11-25";
    const modern = isModernVersion(version);
    const tasks =
      modern || version === "2025-11-25"
        ? this.tasks.capability(modern, context.authenticated ?? false)
        : undefined;
    if (tasks && modern) capabilities.extensions = tasks;
    else if (tasks) capabilities.tasks = tasks;
    return capabilities;
  }

  /** Reads a resource by URI, from a fixed resource or the first template that matches. */
  async readResource(uri: string, ctx: Context): Promise<ReadResourceResult> {
    const found = this.#resourceFor(uri);
    if (!found) throw resourceNotFound(uri);
    return found.resource.read(uri, found.variables, ctx);
  }

  /** The resource that answers a URI: a fixed one, else the first template that matches. */
  #resourceFor(
    uri: string,
  ):
    | { resource: RegisteredResource; variables: Record<string, string>; config: ResourceConfig }
    | undefined {
    const fixed = this.resources.get(uri);
    if (fixed) return { resource: fixed, variables: {}, config: fixed.config };
    for (const template of this.templates.values()) {
      if (!template.enabled) continue;
      const variables = template.template!.match(uri);
      if (variables) return { resource: template, variables, config: template.config };
    }
    return undefined;
  }

  /**
   * Starts a 2026-07-28 subscription: the filter the server agrees to (what it can deliver),
   * and the function that ends it. `send` receives each matching notification.
   */
  subscribe(
    requested: SubscriptionFilter,
    send: (message: JsonRpcNotification) => void,
    /** Where events come from; a transport spanning instances adds the others' events. */
    listen: (listener: (event: ServerEvent) => void) => () => void = (listener) =>
      this.listen(listener),
  ): { accepted: SubscriptionFilter; stop: () => void } {
    const accepted: SubscriptionFilter = {};
    if (requested.toolsListChanged === true) accepted.toolsListChanged = true;
    if (requested.promptsListChanged === true) accepted.promptsListChanged = true;
    if (requested.resourcesListChanged === true) accepted.resourcesListChanged = true;
    const uris = Array.isArray(requested.resourceSubscriptions)
      ? requested.resourceSubscriptions
          .filter((uri): uri is string => typeof uri === "string")
          .slice(0, MAX_SUBSCRIPTIONS)
      : undefined;
    if (uris) accepted.resourceSubscriptions = uris;
    const watched = new Set(uris);
    const wanted = {
      tools: accepted.toolsListChanged === true,
      prompts: accepted.promptsListChanged === true,
      resources: accepted.resourcesListChanged === true,
    };
    const stop = listen((event) => {
      if (event.type === "list_changed" ? wanted[event.list] : watched.has(event.uri)) {
        send(eventNotification(event));
      }
    });
    return { accepted, stop };
  }

  /**
   * The concrete resources that templates enumerate with `list`: resources/list shows them
   * after the fixed resources, in template registration order. A member without a MIME type
   * takes its template's, which is what reading it will report.
   */
  async #templateMembers(
    ctx: Context,
    visible: ((item: Listed) => boolean) | undefined,
  ): Promise<JsonObject[]> {
    const members: JsonObject[] = [];
    for (const template of this.templates.values()) {
      const shown = template.enabled && (!visible || visible(template));
      const list = shown ? template.config.list : undefined;
      if (!list) continue;
      const mimeType = template.config.mimeType;
      for (const member of await list(ctx)) {
        members.push(mimeType === undefined ? { ...member } : { mimeType, ...member });
      }
    }
    return members;
  }

  async #callTool(params: JsonObject, ctx: Context): Promise<JsonObject> {
    const name = stringParam(params, "name");
    const tool = this.tools.get(name);
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
    const args = params.arguments ?? {};
    if (!isObject(args)) {
      throw new McpError(ErrorCode.InvalidParams, "Invalid params: arguments must be an object");
    }
    const checked = tool.input.validate(args);
    if (!checked.ok) {
      return { ...errorResult(`Invalid arguments for tool "${name}": ${checked.message}`) };
    }
    try {
      return { ...tool.toResult(await tool.handler(checked.value as JsonObject, ctx)) };
    } catch (error) {
      // Protocol errors a handler raises on purpose (e.g. URL elicitation required) pass through.
      if (error instanceof McpError) throw error;
      // A ToolError's message is meant for the caller; anything else may hold internals.
      if (error instanceof ToolError) return { ...errorResult(error.message) };
      if (ctx.cancelled) throw error;
      const id = errorId();
      this.logger.error("tool threw", { tool: name, error_id: id, error });
      return { ...errorResult(`Tool "${name}" failed (error id ${id})`) };
    }
  }

  async #complete(params: JsonObject, ctx: Context): Promise<JsonObject> {
    const ref = params.ref;
    const argument = params.argument;
    if (!isObject(ref) || !isObject(argument) || typeof argument.name !== "string") {
      throw new McpError(ErrorCode.InvalidParams, "Invalid params: ref and argument are required");
    }
    const value = typeof argument.value === "string" ? argument.value : "";
    const context = contextArguments(params.context);
    let completer: Completer | undefined;
    if (ref.type === "ref/prompt") {
      const prompt = this.prompts.get(stringParam(ref, "name"));
      if (!prompt)
        throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${String(ref.name)}`);
      completer = completerFor(prompt.config.complete, argument.name);
    } else if (ref.type === "ref/resource") {
      const uri = stringParam(ref, "uri");
      const resource = this.templates.get(uri) ?? this.resources.get(uri);
      if (!resource) throw resourceNotFound(uri);
      completer = completerFor(resource.config.complete, argument.name);
    } else {
      throw new McpError(ErrorCode.InvalidParams, "Invalid params: unknown ref type");
    }
    return completionResult(completer ? await completer(value, { arguments: context, ctx }) : []);
  }

  /**
   * The tool, prompt or resource a request uses, whose rules (scopes, a user behind the call)
   * the transport enforces before dispatch. Completion counts as using what it completes.
   */
  #target(request: JsonRpcRequest): Listed | undefined {
    const params = request.params ?? {};
    switch (request.method) {
      case "tools/call":
        return typeof params.name === "string" ? this.tools.get(params.name) : undefined;
      case "prompts/get":
        return typeof params.name === "string" ? this.prompts.get(params.name) : undefined;
      case "resources/read":
      case "resources/subscribe":
        return typeof params.uri === "string" ? this.#resourceFor(params.uri)?.resource : undefined;
      case "completion/complete": {
        const ref = isObject(params.ref) ? params.ref : {};
        if (ref.type === "ref/prompt" && typeof ref.name === "string")
          return this.prompts.get(ref.name);
        if (ref.type === "ref/resource" && typeof ref.uri === "string")
          return this.templates.get(ref.uri) ?? this.resources.get(ref.uri);
        return undefined;
      }
      default:
        return undefined;
    }
  }

  /**
   * Everything a request uses: one target, or for subscriptions/listen every resource it
   * watches (hearing that a resource changed needs what reading it needs).
   */
  #targets(request: JsonRpcRequest): readonly Listed[] {
    if (request.method === "subscriptions/listen") {
      const params = request.params ?? {};
      const wanted = isObject(params.notifications)
        ? params.notifications.resourceSubscriptions
        : undefined;
      if (!Array.isArray(wanted)) return [];
      const uris = new Set(
        wanted.filter((uri) => typeof uri === "string").slice(0, MAX_SUBSCRIPTIONS),
      );
      return [...uris].flatMap((uri: string) => this.#resourceFor(uri)?.resource ?? []);
    }
    const target = this.#target(request);
    return target ? [target] : [];
  }

  /** The scopes a request needs beyond those of the endpoint: its tool's, resource's or prompt's. */
  requiredScopes(request: JsonRpcRequest): readonly string[] {
    const targets = this.#targets(request);
    if (targets.length <= 1) return targets[0]?.scopes ?? [];
    return [...new Set(targets.flatMap((target) => target.scopes))];
  }

  /** Whether a request uses a tool, resource or prompt that only a signed-in user may use. */
  requiresUser(request: JsonRpcRequest): boolean {
    return this.#targets(request).some((target) => target.userRequired);
  }

  /** Narrows lists to what an authenticated caller may use. */
  #visibleTo(ctx: Context): ((item: Listed) => boolean) | undefined {
    const auth = ctx.auth;
    if (!auth || this.listUnauthorized) return undefined;
    return (item) =>
      (auth.kind === "user" || !item.userRequired) &&
      item.scopes.every((scope) => auth.scopes.includes(scope));
  }

  #methodTable(): Record<string, MethodHandler> {
    const page =
      (listing: Listing<Listed>, key: string) =>
      (params: JsonObject, ctx: Context): JsonObject => {
        const { items, nextCursor } = listing.page(
          params.cursor,
          this.pageSize,
          this.#visibleTo(ctx),
        );
        return nextCursor ? { [key]: items, nextCursor } : { [key]: items };
      };
    return {
      initialize: (params, _ctx, exchange) => this.initialize(params, exchange.peer, exchange.auth),
      ping: () => ({}),
      "server/discover": () => {
        const result: JsonObject = {
          supportedVersions: [...this.protocolVersions],
          capabilities: this.capabilities({ version: "2026-07-28" }),
        };
        if (this.instructions !== undefined) result.instructions = this.instructions;
        return result;
      },
      "tools/list": (params, ctx, exchange) => {
        const listed = page(this.tools, "tools")(params, ctx);
        // Only 2025-11-25 knows `execution`; the extension of 2026-07-28 has no per-tool flag.
        if (exchange.peer.protocolVersion === "2025-11-25") return listed;
        return { ...listed, tools: (listed.tools as JsonObject[]).map(withoutExecution) };
      },
      "tools/call": (params, ctx) => this.#callTool(params, ctx),
      "tasks/get": (params, _ctx, exchange) => this.tasks.get(params, exchange),
      "tasks/result": (params, ctx, exchange) => this.tasks.result(params, ctx, exchange),
      "tasks/list": (params, _ctx, exchange) => this.tasks.list(params, exchange),
      "tasks/cancel": (params, _ctx, exchange) => this.tasks.cancel(params, exchange),
      "tasks/update": (params, _ctx, exchange) => this.tasks.update(params, exchange),
      "resources/list": async (params, ctx) => {
        const members = await this.#templateMembers(ctx, this.#visibleTo(ctx));
        const all = members.length
          ? [...this.resources.definitions(this.#visibleTo(ctx)), ...members]
          : this.resources.definitions(this.#visibleTo(ctx));
        const { items, nextCursor } = paginate(all, params.cursor, this.pageSize);
        return nextCursor ? { resources: items, nextCursor } : { resources: items };
      },
      "resources/templates/list": page(this.templates, "resourceTemplates"),
      "resources/read": async (params, ctx) => ({
        ...(await this.readResource(stringParam(params, "uri"), ctx)),
      }),
      "resources/subscribe": (params, _ctx, exchange) => {
        (exchange.peer.subscriptions ??= new Set()).add(stringParam(params, "uri"));
        return {};
      },
      "resources/unsubscribe": (params, _ctx, exchange) => {
        exchange.peer.subscriptions?.delete(stringParam(params, "uri"));
        return {};
      },
      "prompts/list": page(this.prompts, "prompts"),
      "prompts/get": async (params, ctx) => {
        const name = stringParam(params, "name");
        const prompt = this.prompts.get(name);
        if (!prompt) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${name}`);
        return { ...(await prompt.get(params.arguments, ctx)) };
      },
      "completion/complete": (params, ctx) => this.#complete(params, ctx),
      "logging/setLevel": (params, _ctx, exchange) => {
        const level = params.level;
        if (typeof level !== "string" || !LOGGING_LEVELS.includes(level as LoggingLevel)) {
          throw new McpError(ErrorCode.InvalidParams, "Invalid params: unknown logging level");
        }
        exchange.peer.logLevel = level as LoggingLevel;
        return {};
      },
    };
  }
}

/** Maps anything thrown to a JSON-RPC error, keeping internals out of the reply. */
export function asMcpError(error: unknown): McpError {
  if (error instanceof McpError) return error;
  return new McpError(ErrorCode.InternalError, "Internal error");
}
