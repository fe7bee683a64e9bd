import { Hono } from "hono";
import { ErrorCode, McpError } from "../mcp/jsonrpc.ts";
import type { AuthInfo } from "../mcp/peer.ts";
import type { JsonObject } from "../mcp/types.ts";
import { bearerAuth } from "../resource/bearer.ts";
import { type EndpointAuth, endpointVerifier } from "../resource/protect.ts";
import type { Logger } from "../util/log.ts";

/** How queue messages are authorized, beside the issuer (`EndpointAuth`, as `mcpApp` takes). */
export interface QueueAuthOptions {
  /**
   * The canonical URI of this MCP server: the audience tokens must be issued for. Usually the
   * URI of its HTTP endpoint, so one token serves both transports. Default: a third-party
   * issuer's `audience`.
   */
  audience?: string;
  /** Scopes every message needs (per-tool scopes are checked by the access rules as on HTTP). */
  requiredScopes?: readonly string[];
  logger?: Logger;
}

/** Raised when a token cannot be checked just now (the issuer is down): the message is retried. */
export class TokenCheckUnavailableError extends Error {
  readonly code = "ERR_TOKEN_CHECK_UNAVAILABLE";
}

/** Checks the Authorization attribute of a message; a refusal is the JSON-RPC error to answer. */
export type QueueAuthCheck = (authorization: string | undefined) => Promise<AuthInfo>;

/**
 * Runs the resource server's own bearer check (`bearerAuth`, with the endpoint's verifier) on
 * a request made up from the message, so a token on a queue passes or fails exactly as it
 * would in an HTTP Authorization header: signature, issuer, audience, expiry, revocation and
 * the required scopes. The HTTP answer becomes a JSON-RPC error: -32600 with `data` holding
 * the OAuth error (`invalid_token`, `insufficient_scope`) and the status HTTP would have used.
 */
export function queueAuth(auth: EndpointAuth, options: QueueAuthOptions = {}): QueueAuthCheck {
  const resource = options.audience ?? ("audience" in auth ? auth.audience : undefined);
  let audience: URL;
  try {
    audience = new URL(resource ?? "");
  } catch {
    throw new TypeError("queue auth: audience must be the absolute URI tokens are issued for");
  }
  const verified = new WeakMap<Request, AuthInfo>();
  const app = new Hono();
  app.use(
    bearerAuth({
      verify: endpointVerifier(auth),
      resource: audience.href,
      requiredScopes: options.requiredScopes ?? [],
      ...(options.logger ? { logger: options.logger } : {}),
    }),
  );
  app.all("*", (c) => {
    verified.set(c.req.raw, c.get("auth"));
    return c.body(null, 204);
  });
  return async (authorization) => {
    const request = new Request(audience, {
      method: "POST",
      headers: authorization === undefined ? {} : { authorization },
    });
    const response = await app.fetch(request);
    const info = verified.get(request);
    if (response.status === 204 && info) return info;
    if (response.status === 503) {
      await response.body?.cancel();
      throw new TokenCheckUnavailableError("the access token could not be checked just now");
    }
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    const error = typeof body.error === "string" ? body.error : "invalid_token";
    const data: JsonObject = {
      status: response.status,
      // RFC 6750 §3.1 sends no error code to a request without credentials; a queue reply
      // names one, since the caller has no challenge header to read.
      error: error === "unauthorized" ? "invalid_token" : error,
    };
    const scope = /scope="([^"]*)"/.exec(response.headers.get("www-authenticate") ?? "")?.[1];
    if (scope) data.scope = scope;
    const description =
      typeof body.error_description === "string" ? body.error_description : "Unauthorized";
    throw new McpError(ErrorCode.InvalidRequest, `Unauthorized: ${description}`, data);
  };
}
