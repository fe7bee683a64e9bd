import type { Context, MiddlewareHandler } from "hono";
import { requestId } from "hono/request-id";

/** Longest `X-Request-Id` taken from a request; a longer (or odd) one is replaced by a new id. */
const MAX_LENGTH = 128;

/**
 * Gives each request a correlation id: the `X-Request-Id` a proxy or client sent (letters,
 * digits, `_`, `-`, `=`; 128 characters at most), else a new UUID. It is echoed in the
 * response's `X-Request-Id`, and log lines and audit events carry it.
 */
export function correlationId(): MiddlewareHandler {
  return requestId({ limitLength: MAX_LENGTH });
}

/** The request's correlation id; one is made (and kept for the request) when none was set. */
export function requestIdOf(c: Context): string {
  const known = c.get("requestId");
  if (known) return known;
  const id = crypto.randomUUID();
  c.set("requestId", id);
  return id;
}
