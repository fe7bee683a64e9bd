import { errorId, type Logger } from "../util/log.ts";
import { type Completer, completerFor, completionResult, contextArguments } from "./completion.ts";
import { isObject } from "./content.ts";
import type { Context } from "./context.ts";
import { type Era, sessionEra, statelessEra } from "./era/index.ts";
import { type Extensions, type MethodHandler, offerFor } from "./extension.ts";
import { ErrorCode, McpError } from "./jsonrpc.ts";
import { type Listed, type Listing, paginate } from "./listing.ts";
import type { EraName } from "./middleware.ts";
import type { AuthInfo, Peer } from "./peer.ts";
import { deniedAmong } from "./policy.ts";
import type { RegisteredPrompt } from "./prompts.ts";
import { type RegisteredResource, resourceNotFound } from "./resources.ts";
import { errorResult, type RegisteredTool, ToolError } from "./tools.ts";
import {
  type JsonObject,
  LOGGING_LEVELS,
  type LoggingLevel,
  type ReadResourceResult,
} from "./types.ts";

export type { MethodHandler } from "./extension.ts";

/** What the method handlers read from the server. */
export interface MethodHost {
  readonly logger: Logger;
  readonly pageSize: number;
  readonly listUnauthorized: boolean;
  readonly tools: Listing<RegisteredTool>;
  readonly resources: Listing<RegisteredResource>;
  readonly templates: Listing<RegisteredResource>;
  readonly prompts: Listing<RegisteredPrompt>;
  readonly extensions: Extensions;
  initialize(params: JsonObject, peer: Peer, auth?: AuthInfo): JsonObject;
  discover(): JsonObject;
  readResource(uri: string, ctx: Context): Promise<ReadResourceResult>;
}

export function stringParam(params: JsonObject, key: string): string {
  const value = params[key];
  if (typeof value !== "string") {
    throw new McpError(ErrorCode.InvalidParams, `Invalid params: "${key}" must be a string`);
  }
  return value;
}

type Visible = ((item: Listed) => boolean) | undefined;

/**
 * Narrows lists to what the caller may use: what `canAccess` turns away is always left out;
 * for an authenticated caller, so is what needs scopes it lacks or a user it is not (unless
 * the server lists those anyway). Undefined when nothing is left out; synchronous unless an
 * access check must run.
 */
function visibleTo(
  host: MethodHost,
  ctx: Context,
  ...listings: Listing<Listed>[]
): Visible | Promise<Visible> {
  const auth = ctx.auth;
  const scoped: Visible =
    auth !== undefined && !host.listUnauthorized
      ? (item) =>
          (auth.kind === "user" || !item.userRequired) &&
          item.scopes.every((scope) => auth.scopes.includes(scope))
      : undefined;
  const policed = listings.flatMap((listing) => listing.policed());
  if (policed.length === 0) return scoped;
  return deniedAmong(policed, auth, host.logger).then((denied): Visible => {
    if (denied.size === 0) return scoped;
    return scoped ? (item) => !denied.has(item) && scoped(item) : (item) => !denied.has(item);
  });
}

/** Applies `then` to a value that may or may not be a promise, staying synchronous when it is not. */
function after<T, R>(value: T | Promise<T>, then: (value: T) => R): R | Promise<R> {
  return value instanceof Promise ? value.then(then) : then(value);
}

/**
 * The concrete resources that templates enumerate with `list`: resources/list shows them
 * after the fixed resources, in template registration order. A member without a MIME type
 * takes its template's, which is what reading it will report.
 */
async function templateMembers(
  host: MethodHost,
  ctx: Context,
  visible: ((item: Listed) => boolean) | undefined,
): Promise<JsonObject[]> {
  const members: JsonObject[] = [];
  for (const template of host.templates.values()) {
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

async function callTool(host: MethodHost, params: JsonObject, ctx: Context): Promise<JsonObject> {
  const name = stringParam(params, "name");
  const tool = host.tools.get(name);
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
    host.logger.error("tool threw", { tool: name, error_id: id, error });
    return { ...errorResult(`Tool "${name}" failed (error id ${id})`) };
  }
}

async function complete(host: MethodHost, params: JsonObject, ctx: Context): Promise<JsonObject> {
  const ref = params.ref;
  const argument = params.argument;
  if (!isObject(ref) || !isObject(argument) || typeof argument.name !== "string") {
    throw new McpError(ErrorCode.InvalidParams, "Invalid params: ref and argument are required");
  }
  const value = typeof argument.value === "string" ? argument.value : "";
  const context = contextArguments(params.context);
  let completer: Completer | undefined;
  if (ref.type === "ref/prompt") {
    const prompt = host.prompts.get(stringParam(ref, "name"));
    if (!prompt) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${String(ref.name)}`);
    completer = completerFor(prompt.config.complete, argument.name);
  } else if (ref.type === "ref/resource") {
    const uri = stringParam(ref, "uri");
    const resource = host.templates.get(uri) ?? host.resources.get(uri);
    if (!resource) throw resourceNotFound(uri);
    completer = completerFor(resource.config.complete, argument.name);
  } else {
    throw new McpError(ErrorCode.InvalidParams, "Invalid params: unknown ref type");
  }
  return completionResult(completer ? await completer(value, { arguments: context, ctx }) : []);
}

/** Every method the server answers in either era; an era object says which it has. */
export function methodTable(host: MethodHost): Record<string, MethodHandler> {
  const page =
    (listing: Listing<Listed>, key: string) =>
    (params: JsonObject, ctx: Context): JsonObject | Promise<JsonObject> =>
      after(visibleTo(host, ctx, listing), (visible) => {
        const { items, nextCursor } = listing.page(params.cursor, host.pageSize, visible);
        return nextCursor ? { [key]: items, nextCursor } : { [key]: items };
      });
  return {
    initialize: (params, _ctx, exchange) => host.initialize(params, exchange.peer, exchange.auth),
    ping: () => ({}),
    "server/discover": () => host.discover(),
    "tools/list": (params, ctx, exchange) =>
      after(page(host.tools, "tools")(params, ctx), (listed) => {
        const extensions = host.extensions;
        if (!extensions.rewritesTools) return listed;
        const offer = offerFor(exchange.peer.protocolVersion, exchange.auth !== undefined);
        const tools = (listed.tools as JsonObject[]).map((definition) => {
          const tool = typeof definition.name === "string" && host.tools.get(definition.name);
          return tool ? extensions.tool(definition, tool, offer) : definition;
        });
        return { ...listed, tools };
      }),
    "tools/call": (params, ctx) => callTool(host, params, ctx),
    "resources/list": async (params, ctx) => {
      const visible = await visibleTo(host, ctx, host.resources, host.templates);
      const members = await templateMembers(host, ctx, visible);
      const all = members.length
        ? [...host.resources.definitions(visible), ...members]
        : host.resources.definitions(visible);
      const { items, nextCursor } = paginate(all, params.cursor, host.pageSize);
      return nextCursor ? { resources: items, nextCursor } : { resources: items };
    },
    "resources/templates/list": page(host.templates, "resourceTemplates"),
    "resources/read": async (params, ctx) => ({
      ...(await host.readResource(stringParam(params, "uri"), ctx)),
    }),
    "resources/subscribe": (params, _ctx, exchange) => {
      (exchange.peer.subscriptions ??= new Set()).add(stringParam(params, "uri"));
      return {};
    },
    "resources/unsubscribe": (params, _ctx, exchange) => {
      exchange.peer.subscriptions?.delete(stringParam(params, "uri"));
      return {};
    },
    "prompts/list": page(host.prompts, "prompts"),
    "prompts/get": async (params, ctx) => {
      const name = stringParam(params, "name");
      const prompt = host.prompts.get(name);
      if (!prompt) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${name}`);
      return { ...(await prompt.get(params.arguments, ctx)) };
    },
    "completion/complete": (params, ctx) => complete(host, params, ctx),
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

/** Each era's core methods: one lookup finds a request's handler. */
export type EraMethods = Readonly<Record<EraName, ReadonlyMap<string, MethodHandler>>>;

/** The table's methods, split by the eras that have them. */
export function methodsByEra(table: Record<string, MethodHandler>): EraMethods {
  const of = (era: Era) => new Map(Object.entries(table).filter(([method]) => era.has(method)));
  return { session: of(sessionEra), stateless: of(statelessEra) };
}
