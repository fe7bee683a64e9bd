import type { Logger } from "../util/log.ts";
import { isObject } from "./content.ts";
import { ErrorCode, type JsonRpcRequest, McpError } from "./jsonrpc.ts";
import type { Listed, Listing } from "./listing.ts";
import type { Middleware } from "./middleware.ts";
import type { AuthInfo } from "./peer.ts";
import { deniedAmong } from "./policy.ts";
import { resourceNotFound } from "./resources.ts";
import type { JsonObject } from "./types.ts";

/** Resource URIs one `subscriptions/listen` stream may watch. */
export const MAX_SUBSCRIPTIONS = 1000;

/** What the access rules read from the server's registry. */
export interface AccessRegistry {
  readonly tools: Listing<Listed>;
  readonly prompts: Listing<Listed>;
  readonly templates: Listing<Listed>;
  readonly resources: Listing<Listed>;
  /** The resource that answers a URI: a fixed one, else the first template that matches. */
  resourceAt(uri: string): Listed | undefined;
  /** Where a failing access check is reported. */
  readonly logger: Logger;
}

/**
 * A request refused for what its caller's token does not carry: scopes, or a user behind it.
 * Over HTTP the transport answers it as 403 `insufficient_scope` or 401
 * `insufficient_user_authentication` (RFC 6750, RFC 9470); elsewhere it is a JSON-RPC
 * error -32600 whose `data.error` names the reason.
 */
export class AccessDenied extends McpError {
  readonly reason: "insufficient_scope" | "insufficient_user_authentication";
  /** The scopes missing, for `insufficient_scope`. */
  readonly scopes: readonly string[];

  constructor(reason: AccessDenied["reason"], scopes: readonly string[] = []) {
    const message =
      reason === "insufficient_scope"
        ? `This request needs the scope ${scopes.join(" ")}`
        : "This request needs a signed-in user; a client acting for itself may not make it";
    const data: JsonObject = { error: reason };
    if (scopes.length) data.requiredScopes = [...scopes];
    super(ErrorCode.InvalidRequest, `Forbidden: ${message}`, data);
    this.name = "AccessDenied";
    this.reason = reason;
    this.scopes = scopes;
  }

  /** The description sent in the WWW-Authenticate challenge. */
  get description(): string {
    return this.message.slice("Forbidden: ".length);
  }
}

/**
 * A request for a tool, resource, template or prompt whose `canAccess` turned the caller
 * away. It goes on the wire exactly as the answer for one that does not exist (unknown tool or
 * prompt, resource not found), so a caller learns nothing of what it may not use; middleware
 * and error handlers can still tell it apart with `instanceof`.
 */
export class PolicyDenied extends McpError {
  constructor(notFound: McpError) {
    super(notFound.code, notFound.message, notFound.data);
    this.name = "PolicyDenied";
  }
}

/** The answer a request would get if what it names were not registered. */
function notFoundAnswer(method: string, params: JsonObject): McpError {
  const ref = method === "completion/complete" && isObject(params.ref) ? params.ref : {};
  const name = String(params.name ?? ref.name);
  if (method === "tools/call") {
    return new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
  }
  if (method === "prompts/get" || ref.type === "ref/prompt") {
    return new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${name}`);
  }
  return resourceNotFound(String(params.uri ?? ref.uri));
}

/**
 * The tool, prompt or resource a request uses, whose rules (scopes, a user behind the call)
 * apply to it. Completion counts as using what it completes.
 */
function targetOf(
  registry: AccessRegistry,
  method: string,
  params: JsonObject,
): Listed | undefined {
  switch (method) {
    case "tools/call":
      return typeof params.name === "string" ? registry.tools.get(params.name) : undefined;
    case "prompts/get":
      return typeof params.name === "string" ? registry.prompts.get(params.name) : undefined;
    case "resources/read":
    case "resources/subscribe":
      return typeof params.uri === "string" ? registry.resourceAt(params.uri) : undefined;
    case "completion/complete": {
      const ref = isObject(params.ref) ? params.ref : {};
      if (ref.type === "ref/prompt" && typeof ref.name === "string")
        return registry.prompts.get(ref.name);
      if (ref.type === "ref/resource" && typeof ref.uri === "string")
        return registry.templates.get(ref.uri) ?? registry.resources.get(ref.uri);
      return undefined;
    }
    default:
      return undefined;
  }
}

/** The resource URIs a `subscriptions/listen` request watches, each once. */
function subscribedUris(params: JsonObject): string[] {
  const wanted = isObject(params.notifications)
    ? params.notifications.resourceSubscriptions
    : undefined;
  if (!Array.isArray(wanted)) return [];
  const uris = wanted.filter((uri) => typeof uri === "string").slice(0, MAX_SUBSCRIPTIONS);
  return [...new Set<string>(uris)];
}

/**
 * Everything a request uses: one target, or for subscriptions/listen every resource it
 * watches (hearing that a resource changed needs what reading it needs).
 */
function targetsOf(
  registry: AccessRegistry,
  method: string,
  params: JsonObject,
): readonly Listed[] {
  if (method === "subscriptions/listen") {
    return subscribedUris(params).flatMap((uri) => registry.resourceAt(uri) ?? []);
  }
  const target = targetOf(registry, method, params);
  return target ? [target] : NO_TARGETS;
}

const NO_TARGETS: readonly Listed[] = [];

/**
 * What these requests use that their caller's `canAccess` checks turn away; empty, without awaiting any check, when nothing they use has one.
 */
export function hiddenTargets(
  registry: AccessRegistry,
  requests: readonly JsonRpcRequest[],
  auth: AuthInfo | undefined,
): ReadonlySet<Listed> | Promise<ReadonlySet<Listed>> {
  let guarded: Listed[] | undefined;
  for (const request of requests) {
    for (const target of targetsOf(registry, request.method, request.params ?? {})) {
      if (target.canAccess) (guarded ??= []).push(target);
    }
  }
  return guarded ? deniedAmong(guarded, auth, registry.logger) : NONE;
}

const NONE: ReadonlySet<Listed> = new Set();

/**
 * The URIs a `subscriptions/listen` request watches whose resource the caller's `canAccess`
 * turns away. The stream accepts them, as it accepts a URI nothing answers, but never tells
 * of their changes. Synchronous when no watched resource has a check.
 */
export function hiddenSubscriptions(
  registry: AccessRegistry,
  request: JsonRpcRequest,
  auth: AuthInfo | undefined,
): ReadonlySet<string> | Promise<ReadonlySet<string>> {
  const watched = subscribedUris(request.params ?? {}).flatMap((uri) => {
    const resource = registry.resourceAt(uri);
    return resource ? [{ uri, resource }] : [];
  });
  if (!watched.some(({ resource }) => resource.canAccess)) return new Set();
  return deniedAmong(
    watched.map(({ resource }) => resource),
    auth,
    registry.logger,
  ).then((denied) => new Set(watched.filter((w) => denied.has(w.resource)).map((w) => w.uri)));
}

/**
 * Why a verified caller may not make these requests (all of one batch are judged together,
 * so a batch is refused whole), or undefined when it may. A user behind the call is checked
 * first, then the scopes every request needs. Targets in `hidden` (turned away by their
 * `canAccess`) are left out: their requests are answered as not found, and a 403 naming their
 * scopes would tell the caller they exist.
 */
export function accessDenied(
  registry: AccessRegistry,
  requests: readonly JsonRpcRequest[],
  auth: AuthInfo | undefined,
  hidden: ReadonlySet<Listed> = NONE,
): AccessDenied | undefined {
  const used: Listed[] = [];
  for (const request of requests) {
    for (const target of targetsOf(registry, request.method, request.params ?? {})) {
      if (!hidden.has(target)) used.push(target);
    }
  }
  return refusalFor(used, auth);
}

/** Why a caller may not use these targets: no user where one is needed, else missing scopes. */
function refusalFor(
  targets: readonly Listed[],
  auth: AuthInfo | undefined,
): AccessDenied | undefined {
  if (auth?.kind !== "user" && targets.some((target) => target.userRequired)) {
    return new AccessDenied("insufficient_user_authentication");
  }
  const held = auth?.scopes ?? [];
  let needed: Set<string> | undefined;
  for (const target of targets) {
    for (const scope of target.scopes) if (!held.includes(scope)) (needed ??= new Set()).add(scope);
  }
  return needed ? new AccessDenied("insufficient_scope", [...needed]) : undefined;
}

/**
 * The built-in first middleware. A request for something its `canAccess` hides from the
 * caller is answered as not found, on every transport and with no caller at all. Where the
 * transport verified a caller (`ctx.auth`), each request must also hold its target's scopes
 * and have a user behind it unless the target says a client alone will do; unauthenticated
 * transports (stdio, an open endpoint) skip those.
 */
export function accessMiddleware(registry: AccessRegistry): Middleware {
  return (ctx, next) => {
    const targets = targetsOf(registry, ctx.method, ctx.params);
    if (targets.some((target) => target.canAccess)) {
      return deniedAmong(targets, ctx.auth, registry.logger).then((hidden) => {
        // A listen stream accepts a hidden resource's URI like one nothing answers (its
        // updates are filtered out where the stream opens); any other request is not found.
        const listening = ctx.method === "subscriptions/listen";
        if (hidden.size && !listening)
          throw new PolicyDenied(notFoundAnswer(ctx.method, ctx.params));
        const used = listening ? targets.filter((target) => !hidden.has(target)) : targets;
        const denied = ctx.auth && refusalFor(used, ctx.auth);
        if (denied) throw denied;
        return next();
      });
    }
    const denied = ctx.auth && refusalFor(targets, ctx.auth);
    if (denied) throw denied;
    return next();
  };
}
