/**
 * Resource subscriptions through the gateway: a caller's interest in a published resource
 * (resources/subscribe, or a 2026-07-28 subscriptions/listen naming it) becomes a
 * subscription on the upstream connection that serves the caller, and the upstream's updates
 * come back as updates of the published URI (see `resourceUpdated` in gateway.ts). The
 * caller's resources/unsubscribe, or the end of its listen stream, lets go of it again: the
 * upstream subscription ends when no caller of that connection holds it any more.
 */
import { isObject } from "../mcp/content.ts";
import type { Middleware, MiddlewareContext } from "../mcp/middleware.ts";
import type { JsonObject } from "../mcp/types.ts";
import type { Upstream } from "./upstream.ts";

/** The resource URIs a subscribe, unsubscribe or listen request names. */
function requestedUris(method: string, params: JsonObject): string[] {
  if (method === "resources/subscribe" || method === "resources/unsubscribe") {
    return typeof params.uri === "string" ? [params.uri] : [];
  }
  if (method !== "subscriptions/listen" || !isObject(params.notifications)) return [];
  const wanted = params.notifications.resourceSubscriptions;
  return Array.isArray(wanted) ? wanted.filter((uri) => typeof uri === "string") : [];
}

/** The holder that stands for a 2025 session: released when the session ends. */
export const sessionHolder = (sessionId: string): string => `session:${sessionId}`;

/** Who holds a subscription: the 2025 session, or one listen stream. */
function holderOf(info: MiddlewareContext): string {
  return info.method === "subscriptions/listen"
    ? `listen:${crypto.randomUUID()}`
    : sessionHolder(info.sessionId ?? "");
}

/**
 * Subscribes upstream before the caller's subscription is acknowledged, so no update between
 * the two is lost. Runs after the access rules: a caller who may not read a resource cannot
 * make the gateway subscribe to it.
 */
export function subscriptionRelay(upstreams: readonly Upstream[]): Middleware {
  return async (info, next) => {
    const uris = requestedUris(info.method, info.params);
    if (uris.length === 0) return next();
    const holder = holderOf(info);
    const held: { upstream: Upstream; uri: string }[] = [];
    for (const uri of new Set(uris)) {
      for (const upstream of upstreams) {
        const original = upstream.originalUri(uri);
        if (original !== undefined) held.push({ upstream, uri: original });
      }
    }
    const release = () =>
      Promise.all(held.map(({ upstream, uri }) => upstream.release(info.auth, uri, holder)));
    if (info.method === "resources/unsubscribe") {
      const result = await next();
      await release();
      return result;
    }
    for (const { upstream, uri } of held) await upstream.subscribe(info.auth, uri, holder);
    let result: JsonObject;
    try {
      result = await next();
    } catch (error) {
      await release();
      throw error;
    }
    if (info.method === "subscriptions/listen") {
      // The stream lasts as long as the request; its end lets go of what it held.
      const signal = info.signal;
      if (signal?.aborted) await release();
      else signal?.addEventListener("abort", () => void release(), { once: true });
    }
    return result;
  };
}
