import type { Context } from "hono";
import type { Store } from "../storage/store.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { OAuthError } from "./errors.ts";

export interface RateLimit {
  /** Requests allowed per window and client address. */
  limit: number;
  /** Window length in seconds. */
  windowSeconds: number;
}

export interface RateLimitOptions {
  register?: RateLimit;
  authorize?: RateLimit;
  token?: RateLimit;
  /** The consent form. */
  consent?: RateLimit;
  /** The login provider's routes (the dev login form, the upstream callback). */
  login?: RateLimit;
  revoke?: RateLimit;
  /** Resource servers introspect per new token they see; size this to their traffic. */
  introspect?: RateLimit;
  /** Identifies the caller; default: the connection's address (see `clientAddress`). */
  key?: (c: Context) => string;
}

export const DEFAULT_RATE_LIMITS = {
  register: { limit: 20, windowSeconds: 60 },
  authorize: { limit: 120, windowSeconds: 60 },
  token: { limit: 120, windowSeconds: 60 },
  consent: { limit: 60, windowSeconds: 60 },
  login: { limit: 60, windowSeconds: 60 },
  revoke: { limit: 120, windowSeconds: 60 },
  introspect: { limit: 600, windowSeconds: 60 },
} as const;

/**
 * The caller's address: from the runtime's connection where it tells us (Node), else from
 * the edge's own header (Cloudflare). Forwarded headers are only trusted when asked to be.
 */
export function clientAddress(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = c.req.header("x-forwarded-for")?.split(",")[0]?.trim();
    if (forwarded) return forwarded;
  }
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  const address = env?.incoming?.socket?.remoteAddress;
  if (address) return address;
  if (typeof navigator !== "undefined" && navigator.userAgent === "Cloudflare-Workers") {
    return c.req.header("cf-connecting-ip") ?? "unknown";
  }
  return "unknown";
}

/** Counts a request in a fixed window; throws a 429 OAuth error past the limit. */
export async function enforceRateLimit(
  store: Store,
  bucket: string,
  key: string,
  rule: RateLimit,
  clock: Clock = systemClock,
): Promise<void> {
  const now = clock() / 1000;
  const window = Math.floor(now / rule.windowSeconds);
  const count = await store.increment(`as:rl:${bucket}:${key}:${window}`, 1, {
    ttlMs: rule.windowSeconds * 1000,
  });
  if (count > rule.limit) {
    const retryAfter = (window + 1) * rule.windowSeconds - Math.floor(now);
    throw new OAuthError("temporarily_unavailable", "Too many requests; slow down", {
      status: 429,
      headers: { "Retry-After": String(Math.max(1, retryAfter)) },
    });
  }
}
