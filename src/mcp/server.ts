import type { z } from "zod";
import { type Completer, completionResult } from "./completion.ts";
import { isObject } from "./content.ts";
import { type AppState, Context } from "./context.ts";
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
import type { Exchange, Peer } from "./peer.ts";
import { type PromptConfig, type PromptHandler, RegisteredPrompt } from "./prompts.ts";
import {
  RegisteredResource,
  type ResourceConfig,
  type ResourceHandler,
  resourceNotFound,
  type TemplateVariables,
} from "./resources.ts";
import type { SchemaInput } from "./schema.ts";
import { errorResult, RegisteredTool, type ToolConfig, type ToolHandler } from "./tools.ts";
import {
  type Icon,
  type Implementation,
  type JsonObject,
  LOGGING_LEVELS,
  type LoggingLevel,
  type ReadResourceResult,
} from "./types.ts";
import { negotiateVersion, type ProtocolVersion, SESSION_ERA_VERSIONS } from "./versions.ts";

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
}

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
  /** Shared state for handlers, reachable as `ctx.app`. */
  readonly state: AppState = new Map();
  readonly tools: Listing<RegisteredTool>;
  readonly resources: Listing<RegisteredResource>;
  readonly templates: Listing<RegisteredResource>;
  readonly prompts: Listing<RegisteredPrompt>;
  readonly #listeners = new Set<(event: ServerEvent) => void>();
  readonly #pendingLists = new Set<"tools" | "resources" | "prompts">();
  readonly #methods: Record<string, MethodHandler>;

  constructor(options: McpServerOptions) {
    const info: Implementation = { name: options.name, version: options.version };
    for (const key of ["title", "description", "icons", "websiteUrl"] as const) {
      if (options[key] !== undefined) Object.assign(info, { [key]: options[key] });
    }
    this.info = info;
    this.instructions = options.instructions;
    this.pageSize = options.pageSize ?? 100;
    this.protocolVersions = options.protocolVersions ?? SESSION_ERA_VERSIONS;
    this.listUnauthorized = options.listUnauthorized ?? false;
    this.tools = new Listing(() => this.#listChanged("tools"));
    this.resources = new Listing(() => this.#listChanged("resources"));
    this.templates = new Listing(() => this.#listChanged("resources"));
    this.prompts = new Listing(() => this.#listChanged("prompts"));
    this.#methods = this.#methodTable();
  }

  // Registration

  /** Registers a tool. */
  tool<
    I extends SchemaInput | undefined = undefined,
    O extends SchemaInput | undefined = undefined,
  >(name: string, config: ToolConfig<I, O>, handler: ToolHandler<I, O>): RegisteredTool {
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
  prompt<A extends z.ZodObject | undefined = undefined>(
    name: string,
    config: PromptConfig<A>,
    handler: PromptHandler<A>,
  ): RegisteredPrompt {
    const prompt = new RegisteredPrompt(
      name,
      config as PromptConfig<z.ZodObject | undefined>,
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
    const handler = Object.hasOwn(this.#methods, request.method)
      ? this.#methods[request.method]
      : undefined;
    if (!handler) {
      return failure(
        request.id,
        new McpError(ErrorCode.MethodNotFound, `Method not found: ${request.method}`),
      );
    }
    const params = request.params ?? {};
    const meta = isObject(params._meta) ? params._meta : undefined;
    const ctx = new Context(this, exchange, request.id, request.method, meta);
    const peer = exchange.peer;
    if (peer.sessionId !== undefined) (peer.inflight ??= new Map()).set(request.id, ctx);
    try {
      const result = await handler(params, ctx, exchange);
      return ctx.cancelled ? undefined : success(request.id, result);
    } catch (error) {
      return ctx.cancelled ? undefined : failure(request.id, asMcpError(error));
    } finally {
      peer.inflight?.delete(request.id);
    }
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
  initialize(params: JsonObject, peer: Peer): JsonObject {
    const version = negotiateVersion(params.protocolVersion, this.protocolVersions);
    peer.protocolVersion = version;
    peer.clientCapabilities = isObject(params.capabilities) ? params.capabilities : {};
    if (isObject(params.clientInfo))
      peer.clientInfo = params.clientInfo as unknown as Implementation;
    const result: JsonObject = {
      protocolVersion: version,
      capabilities: this.capabilities(),
      serverInfo: this.info,
    };
    if (this.instructions !== undefined) result.instructions = this.instructions;
    return result;
  }

  /** What this server offers, from what is registered. */
  capabilities(): JsonObject {
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
    return capabilities;
  }

  /** Reads a resource by URI, from a fixed resource or the first template that matches. */
  async readResource(uri: string, ctx: Context): Promise<ReadResourceResult> {
    const fixed = this.resources.get(uri);
    if (fixed) return fixed.read(uri, {}, ctx);
    for (const template of this.templates.values()) {
      if (!template.enabled) continue;
      const variables = template.template!.match(uri);
      if (variables) return template.read(uri, variables, ctx);
    }
    throw resourceNotFound(uri);
  }

  /**
   * The concrete resources that templates enumerate with `list`: resources/list shows them
   * after the fixed resources, in template registration order. A member without a MIME type
   * takes its template's, which is what reading it will report.
   */
  async #templateMembers(ctx: Context): Promise<JsonObject[]> {
    const members: JsonObject[] = [];
    for (const template of this.templates.values()) {
      const list = template.enabled ? template.config.list : undefined;
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
      return { ...errorResult(error instanceof Error ? error.message : String(error)) };
    }
  }

  async #complete(params: JsonObject, ctx: Context): Promise<JsonObject> {
    const ref = params.ref;
    const argument = params.argument;
    if (!isObject(ref) || !isObject(argument) || typeof argument.name !== "string") {
      throw new McpError(ErrorCode.InvalidParams, "Invalid params: ref and argument are required");
    }
    const value = typeof argument.value === "string" ? argument.value : "";
    const context =
      isObject(params.context) && isObject(params.context.arguments)
        ? (params.context.arguments as Record<string, string>)
        : {};
    let completer: Completer | undefined;
    if (ref.type === "ref/prompt") {
      const prompt = this.prompts.get(stringParam(ref, "name"));
      if (!prompt)
        throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${String(ref.name)}`);
      completer = prompt.config.complete?.[argument.name];
    } else if (ref.type === "ref/resource") {
      const uri = stringParam(ref, "uri");
      const resource = this.templates.get(uri) ?? this.resources.get(uri);
      if (!resource) throw resourceNotFound(uri);
      completer = resource.config.complete?.[argument.name];
    } else {
      throw new McpError(ErrorCode.InvalidParams, "Invalid params: unknown ref type");
    }
    return completionResult(completer ? await completer(value, { arguments: context, ctx }) : []);
  }

  /** The scopes a request needs beyond those of the endpoint: its tool's, resource's or prompt's. */
  requiredScopes(request: JsonRpcRequest): readonly string[] {
    const params = request.params ?? {};
    switch (request.method) {
      case "tools/call":
        return typeof params.name === "string" ? (this.tools.get(params.name)?.scopes ?? []) : [];
      case "prompts/get":
        return typeof params.name === "string" ? (this.prompts.get(params.name)?.scopes ?? []) : [];
      case "resources/read":
      case "resources/subscribe": {
        if (typeof params.uri !== "string") return [];
        const fixed = this.resources.get(params.uri);
        if (fixed) return fixed.scopes;
        for (const template of this.templates.values()) {
          if (template.enabled && template.template!.match(params.uri)) return template.scopes;
        }
        return [];
      }
      default:
        return [];
    }
  }

  /** Narrows lists to what an authenticated caller may use. */
  #visibleTo(ctx: Context): ((item: Listed) => boolean) | undefined {
    const auth = ctx.auth;
    if (!auth || this.listUnauthorized) return undefined;
    return (item) => item.scopes.every((scope) => auth.scopes.includes(scope));
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
      initialize: (params, _ctx, exchange) => this.initialize(params, exchange.peer),
      ping: () => ({}),
      "tools/list": page(this.tools, "tools"),
      "tools/call": (params, ctx) => this.#callTool(params, ctx),
      "resources/list": async (params, ctx) => {
        const members = await this.#templateMembers(ctx);
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
