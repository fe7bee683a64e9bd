import { isObject } from "./content.ts";
import { ErrorCode, type JsonRpcRequest, McpError } from "./jsonrpc.ts";
import type { Listed, Listing } from "./listing.ts";
import type { Middleware } from "./middleware.ts";
import type { AuthInfo } from "./peer.ts";
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
 * The tool, prompt or resource a request uses, whose rules (scopes, a user behind the call)
 * apply to it. Completion counts as using what it completes.
 */
function targetOf(registry: AccessRegistry, request: JsonRpcRequest): Listed | undefined {
  const params = request.params ?? {};
  switch (request.method) {
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

/**
 * Everything a request uses: one target, or for subscriptions/listen every resource it
 * watches (hearing that a resource changed needs what reading it needs).
 */
function targetsOf(registry: AccessRegistry, request: JsonRpcRequest): readonly Listed[] {
  if (request.method === "subscriptions/listen") {
    const params = request.params ?? {};
    const wanted = isObject(params.notifications)
      ? params.notifications.resourceSubscriptions
      : undefined;
    if (!Array.isArray(wanted)) return [];
    const uris = new Set(
      wanted.filter((uri) => typeof uri === "string").slice(0, MAX_SUBSCRIPTIONS),
    );
    return [...uris].flatMap((uri: string) => registry.resourceAt(uri) ?? []);
  }
  const target = targetOf(registry, request);
  return target ? [target] : [];
}

/** The scopes a request needs beyond those of the endpoint: its tool's, resource's or prompt's. */
export function requiredScopes(
  registry: AccessRegistry,
  request: JsonRpcRequest,
): readonly string[] {
  const targets = targetsOf(registry, request);
  if (targets.length <= 1) return targets[0]?.scopes ?? [];
  return [...new Set(targets.flatMap((target) => target.scopes))];
}

/** Whether a request uses a tool, resource or prompt that only a signed-in user may use. */
export function requiresUser(registry: AccessRegistry, request: JsonRpcRequest): boolean {
  return targetsOf(registry, request).some((target) => target.userRequired);
}

/**
 * Why a verified caller may not make these requests (all of one batch are judged together,
 * so a batch is refused whole), or undefined when it may. A user behind the call is checked
 * first, then the scopes every request needs.
 */
export function accessDenied(
  registry: AccessRegistry,
  requests: readonly JsonRpcRequest[],
  auth: AuthInfo | undefined,
): AccessDenied | undefined {
  if (auth?.kind !== "user" && requests.some((request) => requiresUser(registry, request))) {
    return new AccessDenied("insufficient_user_authentication");
  }
  const held = auth?.scopes ?? [];
  const needed = new Set<string>();
  for (const request of requests) {
    for (const scope of requiredScopes(registry, request)) {
      if (!held.includes(scope)) needed.add(scope);
    }
  }
  return needed.size ? new AccessDenied("insufficient_scope", [...needed]) : undefined;
}

/**
 * The built-in first middleware: where the transport verified a caller (`ctx.auth`), each
 * request must hold its target's scopes and have a user behind it unless the target says a
 * client alone will do. Unauthenticated transports (stdio, an open endpoint) skip it.
 */
export function accessMiddleware(registry: AccessRegistry): Middleware {
  return (ctx, next) => {
    if (ctx.auth === undefined) return next();
    const request = { jsonrpc: "2.0", id: ctx.requestId, method: ctx.method, params: ctx.params };
    const denied = accessDenied(registry, [request as JsonRpcRequest], ctx.auth);
    if (denied) throw denied;
    return next();
  };
}
