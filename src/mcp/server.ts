import type * as z from "zod/v4/core";
import { systemClock } from "../util/clock.ts";
import { type Logger, resolveLogger } from "../util/log.ts";
import { type AccessRegistry, accessMiddleware, hiddenSubscriptions } from "./access.ts";
import { isObject } from "./content.ts";
import { type AppState, Context } from "./context.ts";
import { type Dressing, type Era, eraOf } from "./era/index.ts";
import {
  type EventSource,
  type ServerEvent,
  ServerEvents,
  type SubscriptionFilter,
  subscribe,
} from "./events.ts";
import { type ExtensionConfig, Extensions } from "./extension.ts";
import { unexpectedFailure, warnNoSecret } from "./failures.ts";
import {
  discoverResult,
  implementationOf,
  initializeResult,
  offeredCapabilities,
} from "./handshake.ts";
import { InputRounds } from "./input-rounds.ts";
import {
  ErrorCode,
  failure,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  McpError,
  success,
} from "./jsonrpc.ts";
import { listenThrough, type Subscription } from "./listen.ts";
import { Listing } from "./listing.ts";
import { type EraMethods, type MethodHandler, methodsByEra, methodTable } from "./methods.ts";
import {
  type ErrorHandler,
  type Middleware,
  MiddlewareChain,
  type MiddlewareCondition,
  MiddlewareContext,
  type MiddlewarePosition,
  mapError,
  runPipeline,
} from "./middleware.ts";
import { dressing, INPUT_CAPABLE } from "./modern.ts";
import { askingThrough, type InputRound, SUSPENDED } from "./mrtr.ts";
import type { CacheHints, McpServerOptions } from "./options.ts";
import { type AuthInfo, type Exchange, type Peer, receiveNotification, userOf } from "./peer.ts";
import { type PromptConfig, type PromptHandler, RegisteredPrompt } from "./prompts.ts";
import {
  findResource,
  RegisteredResource,
  type ResourceConfig,
  type ResourceHandler,
  type ResourceMatch,
  resourceNotFound,
  type TemplateVariables,
} from "./resources.ts";
import type { SchemaInput } from "./schema.ts";
import { tasksExtension, toolTasks } from "./tasks/extension.ts";
import type { Tasks } from "./tasks/manager.ts";
import { TASKS_EXTENSION } from "./tasks/record.ts";
import { checkToolName, RegisteredTool, type ToolConfig, type ToolHandler } from "./tools.ts";
import type { Implementation, JsonObject, ReadResourceResult } from "./types.ts";
import { ALL_VERSIONS, type ProtocolVersion } from "./versions.ts";

export { eventNotification, type ServerEvent, type SubscriptionFilter } from "./events.ts";
export { asMcpError } from "./jsonrpc.ts";
export type { CacheHints, McpServerOptions } from "./options.ts";

/**
 * The registry of tools, resources and prompts, and the dispatcher that answers MCP requests
 * from it. Transport-free: a transport hands each message in with an Exchange.
 */
export class McpServer implements AccessRegistry {
  readonly info: Implementation;
  readonly instructions: string | undefined;
  readonly pageSize: number;
  readonly protocolVersions: readonly ProtocolVersion[];
  readonly listUnauthorized: boolean;
  /** Input rounds (2026-07-28 multi-round-trip requests) and the sealer of their state. */
  readonly #rounds: InputRounds;
  readonly #cache: CacheHints;
  /** Shared state for handlers, reachable as `ctx.app`. */
  readonly state: AppState = new Map();
  readonly tools: Listing<RegisteredTool>;
  readonly resources: Listing<RegisteredResource>;
  readonly templates: Listing<RegisteredResource>;
  readonly prompts: Listing<RegisteredPrompt>;
  /** Tool calls running or run as tasks, and their store. */
  readonly tasks: Tasks;
  /** The extensions (tasks is one): capabilities, methods, notifications, hooks. */
  readonly extensions: Extensions;
  readonly #events = new ServerEvents();
  readonly #core: EraMethods;
  readonly logger: Logger;
  /** Whether a `secret` was configured: instances behind one load balancer need the same one. */
  readonly hasSecret: boolean;
  /** The access rules first, then what `use` added. */
  readonly #chain: MiddlewareChain;
  /** What the 2026-07-28 era adds to results: the server's identity and cache hints. */
  readonly #dressing: Dressing;

  constructor(options: McpServerOptions) {
    this.logger = resolveLogger(options.logger);
    const info = implementationOf(options);
    this.info = info;
    this.instructions = options.instructions;
    this.pageSize = options.pageSize ?? 100;
    this.protocolVersions = options.protocolVersions ?? ALL_VERSIONS;
    if (options.secret !== undefined && options.secret.length < 32) {
      throw new TypeError("The server secret must be at least 32 characters");
    }
    this.hasSecret = options.secret !== undefined;
    if (options.tasks?.store && !this.hasSecret) warnNoSecret(this.logger, "tasks");
    const clock = options.clock ?? systemClock;
    this.#rounds = new InputRounds(options.secret, options.inputTtlMs ?? 10 * 60_000, clock);
    this.#cache = options.cache ?? {};
    this.listUnauthorized = options.listUnauthorized ?? false;
    this.tools = new Listing(() => this.#events.listChanged("tools"));
    this.resources = new Listing(() => this.#events.listChanged("resources"));
    this.templates = new Listing(() => this.#events.listChanged("resources"));
    this.prompts = new Listing(() => this.#events.listChanged("prompts"));
    const emit = (event: ServerEvent) => this.#events.emit(event);
    this.tasks = toolTasks({ clock, ...options.tasks }, this.tools, this.pageSize, emit);
    const methods = methodTable(this);
    this.#core = methodsByEra(methods);
    this.#chain = new MiddlewareChain([accessMiddleware(this)]);
    this.extensions = new Extensions((method) => Object.hasOwn(methods, method));
    this.extension(TASKS_EXTENSION, tasksExtension(this.tasks));
    this.#dressing = dressing(info, this.#cache, (uri) => this.#resourceFor(uri)?.config.cache);
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
    if (tool.delivery === "webhook" && !this.tasks.sendsWebhooks) {
      throw new TypeError(`Tool "${name}" delivers by webhook, but tasks.webhooks is false`);
    }
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

  /** Tells subscribed clients that a resource changed; with `user` (`userOf`), only that user's. */
  resourceUpdated(uri: string, options: { user?: string } = {}): void {
    this.#events.emit({ type: "resource_updated", uri, ...options });
  }

  /** Tells one user's sessions and listeners (a `userOf` key) that a list changed. */
  listChangedFor(user: string, list: "tools" | "resources" | "prompts"): void {
    this.#events.emit({ type: "list_changed", list, user });
  }

  /** Listens to events a transport must pass on; returns the function that stops listening. */
  listen(listener: (event: ServerEvent) => void): () => void {
    return this.#events.listen(listener);
  }

  /**
   * Adds an extension (SEP-2133): settings under `capabilities.extensions[id]`, methods and
   * notifications through the same middleware as every request, hooks on tools and listen
   * streams. Throws on a malformed id, a second registration, or a method already answered.
   */
  extension(id: string, config: ExtensionConfig = {}): this {
    this.extensions.add(id, config);
    if (config.middleware) this.#chain.add(config.middleware, "inner");
    return this;
  }

  // Middleware

  /**
   * Adds a middleware around every request, in both eras and on every transport. The first
   * added is the outermost: it runs first before `next()` and last after it. `position`
   * moves it before the access rules ("outermost") or next to the handler ("innermost").
   * `when` decides per request whether it runs at all; a request it says no to passes by
   * without a step of the pipeline (a layer that is off costs nothing).
   */
  use(
    middleware: Middleware,
    options: { position?: MiddlewarePosition; when?: MiddlewareCondition } = {},
  ): this {
    this.#chain.add(middleware, options.position ?? "inner", options.when);
    return this;
  }

  /** Sets what sees (and may map) an error thrown past the handlers and middleware. */
  onError(handler: ErrorHandler): this {
    this.#chain.onError = handler;
    return this;
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
    const era = eraOf(exchange.peer.protocolVersion);
    const info = new MiddlewareContext(request, exchange);
    const running: { ctx?: Context } = {};
    try {
      const result = await runPipeline(this.#chain.middleware, info, () =>
        this.#invoke(request, exchange, era, running),
      );
      if (running.ctx?.cancelled) return undefined;
      return success(
        request.id,
        era.result(
          request.method,
          info.params,
          result,
          this.#dressing,
          exchange.auth !== undefined,
        ),
      );
    } catch (error) {
      if (running.ctx?.cancelled) return undefined;
      const fallback = (thrown: unknown) => unexpectedFailure(this.logger, thrown, request.method);
      const mapped = await mapError(this.#chain.onError, error, info, fallback);
      return failure(request.id, era.error(mapped));
    }
  }

  /**
   * Opens a `subscriptions/listen` stream through the middleware, which see its method and
   * params and may refuse it. Resolves to the open subscription, or to the response to send
   * instead of a stream: a refusal, or a middleware's own answer.
   */
  async openListen(
    request: JsonRpcRequest,
    exchange: Exchange,
    send: (message: JsonRpcMessage) => void,
    listen?: EventSource,
  ): Promise<Subscription | JsonRpcResponse> {
    const hidden = await hiddenSubscriptions(this, request, exchange.auth);
    // The whole chain, outermost and innermost included: a stream is a request like any other.
    return listenThrough(this, this.#chain, this.#dressing, {
      request,
      exchange,
      send,
      listen,
      hidden,
    });
  }

  /** The handler's run: the core of the pipeline, inside every middleware. */
  async #invoke(
    request: JsonRpcRequest,
    exchange: Exchange,
    era: Era,
    running: { ctx?: Context },
  ): Promise<JsonObject> {
    const method = request.method;
    const handler = this.handlerOf(method, era);
    if (!handler) throw new McpError(ErrorCode.MethodNotFound, `Method not found: ${method}`);
    const params = request.params ?? {};
    let round: InputRound | undefined;
    let via = exchange;
    if (era.multiRoundTrip && INPUT_CAPABLE.has(method)) {
      const opening = this.#rounds.open(method, params, exchange);
      // Only a retry's sealed state needs awaiting: a first request costs no turn here.
      round = opening instanceof Promise ? await opening : opening;
      via = askingThrough(exchange, round);
    }
    const preparing =
      method === "tools/call" ? this.extensions.toolCall(params, exchange, via) : undefined;
    const call = preparing && (await preparing);
    // A call that may become a task talks to the client through the task once it is one.
    if (call) via = call.exchange;
    const meta = isObject(params._meta) ? params._meta : undefined;
    const ctx = new Context(this, via, request.id, method, meta, call, round);
    running.ctx = ctx;
    const peer = exchange.peer;
    if (peer.sessionId !== undefined) (peer.inflight ??= new Map()).set(request.id, ctx);
    try {
      const run = call
        ? call.run(() => handler(params, ctx, via))
        : Promise.resolve(handler(params, ctx, via));
      // A suspended run may still settle later (a handler racing its own timer): ignore it.
      run.catch(() => {});
      const outcome = round ? await round.race(run) : await run;
      if (outcome !== SUSPENDED) return outcome;
      return await this.#rounds.suspended(round!, call, ctx);
    } finally {
      peer.inflight?.delete(request.id);
    }
  }

  /** What answers a method in an era: a core method the era has, else an extension's. */
  handlerOf(method: string, era: Era): MethodHandler | undefined {
    return this.#core[era.name].get(method) ?? this.extensions.method(method, era);
  }

  /** Takes one notification from the client. */
  receive(notification: JsonRpcNotification, peer: Peer): void {
    if (!this.extensions.notify(notification, peer)) receiveNotification(notification, peer);
  }

  /** Builds the initialize result and records the client on its peer. */
  initialize(params: JsonObject, peer: Peer, auth?: AuthInfo): JsonObject {
    return initializeResult(this, params, peer, auth);
  }

  /** The server/discover result (2026-07-28). */
  discover(): JsonObject {
    return discoverResult(this);
  }

  /** What this server offers a caller of `version` (default 2025-11-25); see offeredCapabilities. */
  capabilities(context: { version?: string; authenticated?: boolean } = {}): JsonObject {
    return offeredCapabilities(this, context);
  }

  /** Reads a resource by URI, from a fixed resource or the first template that matches. */
  async readResource(uri: string, ctx: Context): Promise<ReadResourceResult> {
    const found = this.#resourceFor(uri);
    if (!found) throw resourceNotFound(uri);
    return found.resource.read(uri, found.variables, ctx);
  }

  /** The resource that answers a URI: a fixed one, else the first template that matches. */
  resourceAt(uri: string): RegisteredResource | undefined {
    return this.#resourceFor(uri)?.resource;
  }

  #resourceFor(uri: string): ResourceMatch | undefined {
    return findResource(this.resources, this.templates, uri);
  }

  /**
   * Starts a 2026-07-28 subscription: the filter the server agrees to (what it can deliver),
   * and the function that ends it. `send` receives each matching notification; `listen` is
   * where events come from (a transport spanning instances adds the others' events). With the
   * caller's `exchange`, extensions take part (task status for the caller's own tasks).
   */
  subscribe(
    requested: SubscriptionFilter,
    send: (message: JsonRpcNotification) => void,
    listen: EventSource = (listener) => this.listen(listener),
    exchange?: Exchange,
  ): { accepted: SubscriptionFilter; stop: () => void } {
    const extras = exchange && this.extensions.listen(requested as JsonObject, exchange);
    return subscribe(requested, send, listen, extras, exchange && userOf(exchange.auth));
  }
}
