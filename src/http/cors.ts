/**
 * CORS for the MCP endpoint when `allowedOrigins` is set: what a browser on another origin
 * needs to speak either era, with a bearer token. One list of request headers allowed, one
 * of response headers exposed, kept as plain arrays so that features add theirs in one place.
 */
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";

/** Request headers a cross-origin client may send (2025 sessions and 2026-07-28 metadata). */
export const CORS_ALLOW_HEADERS: string[] = [
  "Content-Type",
  "Accept",
  "Authorization",
  "Mcp-Session-Id",
  "MCP-Protocol-Version",
  "Last-Event-ID",
  "Mcp-Method",
  "Mcp-Name",
  "DPoP",
];

/**
 * Request header prefixes allowed too: `Mcp-Param-{name}` (2026-07-28 `x-mcp-header`).
 * Access-Control-Allow-Headers has no prefix wildcard (and `*` does not cover Authorization),
 * so a preflight's requested headers that match one are reflected by name.
 */
export const CORS_ALLOW_HEADER_PREFIXES: string[] = ["Mcp-Param-"];

/** Response headers a cross-origin client may read. */
export const CORS_EXPOSE_HEADERS: string[] = [
  "Mcp-Session-Id",
  "MCP-Protocol-Version",
  "WWW-Authenticate",
  "DPoP-Nonce",
];

/** RFC 9110 field-name token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A preflight may name many headers; more than this is not a client we serve. */
const MAX_REFLECTED = 64;

/** The headers of a preflight's Access-Control-Request-Headers that match an allowed prefix. */
function prefixed(requested: string | undefined): string[] {
  if (!requested) return [];
  const prefixes = CORS_ALLOW_HEADER_PREFIXES.map((prefix) => prefix.toLowerCase());
  const names: string[] = [];
  for (const raw of requested.split(",")) {
    const name = raw.trim();
    const lower = name.toLowerCase();
    if (
      !TOKEN.test(name) ||
      !prefixes.some((p) => lower.startsWith(p) && lower.length > p.length)
    ) {
      continue;
    }
    names.push(name);
    if (names.length >= MAX_REFLECTED) break;
  }
  return names;
}

/** The CORS middleware of an endpoint that admits `origins` (`*` for any). */
export function mcpCors(origins: readonly string[]): MiddlewareHandler {
  const base = {
    origin: origins.includes("*") ? "*" : [...origins],
    allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
    exposeHeaders: [...CORS_EXPOSE_HEADERS],
    maxAge: 86_400,
  };
  const fixed = cors({ ...base, allowHeaders: [...CORS_ALLOW_HEADERS] });
  return (c, next) => {
    if (c.req.method !== "OPTIONS") return fixed(c, next);
    const extra = prefixed(c.req.header("access-control-request-headers"));
    if (extra.length === 0) return fixed(c, next);
    return cors({ ...base, allowHeaders: [...CORS_ALLOW_HEADERS, ...extra] })(c, next);
  };
}
