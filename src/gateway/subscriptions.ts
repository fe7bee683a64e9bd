/**
 * Resource subscriptions through the gateway: a caller's interest in a published resource
 * (resources/subscribe, or a 2026-07-28 subscriptions/listen naming it) becomes a
 * subscription on the upstream connection that serves the caller, and the upstream's updates
 * come back as updates of the published URI (see `resourceUpdated` in gateway.ts).
 */
import { isObject } from "../mcp/content.ts";
import type { Middleware } from "../mcp/middleware.ts";
import type { JsonObject } from "../mcp/types.ts";
import type { Upstream } from "./upstream.ts";

/** The resource URIs a subscribe or listen request asks about. */
function requestedUris(method: string, params: JsonObject): string[] {
  if (method === "resources/subscribe") {
    return typeof params.uri === "string" ? [params.uri] : [];
  }
  if (method !== "subscriptions/listen" || !isObject(params.notifications)) return [];
  const wanted = params.notifications.resourceSubscriptions;
  return Array.isArray(wanted) ? wanted.filter((uri) => typeof uri === "string") : [];
}

/**
 * Subscribes upstream before the caller's subscription is acknowledged, so no update between
 * the two is lost. Runs after the access rules: a caller who may not read a resource cannot
 * make the gateway subscribe to it.
 */
export function subscriptionRelay(upstreams: readonly Upstream[]): Middleware {
  return async (info, next) => {
    const uris = requestedUris(info.method, info.params);
    for (const uri of new Set(uris)) {
      for (const upstream of upstreams) {
        const original = upstream.originalUri(uri);
        if (original !== undefined) await upstream.subscribe(info.auth, original);
      }
    }
    return next();
  };
}
