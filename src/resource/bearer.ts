import type { Context, MiddlewareHandler } from "hono";
import type { AuthInfo } from "../mcp/peer.ts";
import { memoryStore } from "../storage/memory.ts";
import { type Logger, resolveLogger } from "../util/log.ts";
import { challengeResponse, dpopChallengeResponse, resourceMetadataUrl } from "./challenge.ts";
import { type DpopVerifier, dpopVerifier } from "./dpop.ts";
import { externalUrl } from "./forwarded.ts";
import { IssuerUnavailableError } from "./issuer.ts";
import { checkSender, readCredentials } from "./sender.ts";
import type { TokenVerifier } from "./verifiers.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** The verified caller, set by bearerAuth. */
    auth: AuthInfo;
  }
}

/** A value fixed at configuration, or computed from the request (e.g. its origin). */
export type PerRequest<T> = T | ((c: Context) => T);

export function resolve<T>(value: PerRequest<T>, c: Context): T {
  return typeof value === "function" ? (value as (c: Context) => T)(c) : value;
}

export interface BearerAuthOptions {
  verify: TokenVerifier;
  /** The canonical URI of this resource: the required audience. Default: the request URL without query. */
  resource?: PerRequest<string>;
  /** Scopes every request needs. */
  requiredScopes?: readonly string[];
  /** Scopes suggested in the 401 challenge, so one authorization covers the endpoint. Default: requiredScopes. */
  challengeScopes?: PerRequest<readonly string[]>;
  /** Where refused tokens (info) and an issuer that cannot be asked (error) are reported. */
  logger?: Logger;
  /** Epoch milliseconds now, for spacing out repeated outage lines. Default Date.now. */
  clock?: () => number;
  /**
   * Checks the DPoP proofs (RFC 9449) that DPoP-bound tokens (`cnf.jkt`) must come with; a
   * bound token sent as Bearer is refused whatever this says. Build it with `dpopVerifier`
   * over the Store every instance shares, so a proof's jti is single-use across them.
   * Default: a verifier over a Store of this instance alone (and its `clock`).
   */
  dpop?: DpopVerifier;
  /**
   * Behind a reverse proxy that sets X-Forwarded-Proto and X-Forwarded-Host (and strips them
   * from what clients send): check a DPoP proof's `htu` against the URL the client addressed
   * there rather than the one that reached this server. Default false: the headers are
   * ignored, since any client could send them.
   */
  trustProxy?: boolean;
}

/** While the issuer stays unreachable, its failure is logged again at most this often. */
const OUTAGE_LOG_INTERVAL_MS = 60_000;

let lastAuthority = "";
let lastOrigin = "";

/**
 * The origin of the URL a request reached. A request's URL is serialized already, so its
 * origin is what comes before the path; it is parsed once for each new one (nearly every
 * request of a deployment has the same).
 */
export function requestOrigin(c: Context): string {
  const url = c.req.url;
  const end = url.indexOf("/", url.indexOf("//") + 2);
  const authority = end === -1 ? url : url.slice(0, end);
  if (authority !== lastAuthority) {
    lastOrigin = new URL(authority).origin;
    lastAuthority = authority;
  }
  return lastOrigin;
}

/** The canonical URI of the endpoint a request reached. */
export function requestResource(c: Context): string {
  const url = new URL(c.req.url);
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

/** Whether a verifier said the issuer could not be asked. */
function issuerUnavailable(error: unknown): error is IssuerUnavailableError {
  return error instanceof IssuerUnavailableError;
}

/** Whether a verifier refused a token and said why (InvalidTokenError, by code). */
function invalidToken(error: unknown): error is Error {
  return (error as { code?: unknown } | null)?.code === "ERR_INVALID_TOKEN";
}

/** 503: the token could not be checked. Not a 401, which would send the client to authorize again. */
function unavailable(): Response {
  const body = {
    error: "temporarily_unavailable",
    error_description: "The access token could not be checked just now; try again shortly",
  };
  return new Response(JSON.stringify(body), {
    status: 503,
    headers: {
      "Content-Type": "application/json",
      "Cache-Control": "no-store",
      "Retry-After": "5",
    },
  });
}

/**
 * Accepts only requests with a valid bearer token in the Authorization header (never the
 * query string) whose audience is this resource. Sets `c.var.auth`. Answers 401 with a
 * challenge that points at the resource metadata, or 403 for missing scopes.
 */
export function bearerAuth(options: BearerAuthOptions): MiddlewareHandler {
  const required = options.requiredScopes ?? [];
  const logger = resolveLogger(options.logger);
  const clock = options.clock ?? Date.now;
  const dpop = options.dpop ?? dpopVerifier({ store: memoryStore({ clock }), clock, label: "rs" });
  const offer = { algs: dpop.algorithms };
  // An outage is logged when it starts, then at most once a minute, and when it ends.
  let downSince: number | undefined;
  let lastLogged = 0;
  let failures = 0;
  const check = async (token: string, resource: string, c: Context) => {
    try {
      const info = await options.verify(token, resource, c);
      if (downSince !== undefined) {
        logger.info("tokens can be checked again", { failures, down_ms: clock() - downSince });
      }
      downSince = undefined;
      if (!info)
        logger.info("access token refused", { reason: "refused by the verifier", resource });
      return info;
    } catch (error) {
      if (invalidToken(error)) {
        logger.info("access token refused", { reason: error.message, resource });
        return undefined;
      }
      if (!issuerUnavailable(error)) throw error;
      const now = clock();
      failures = downSince === undefined ? 1 : failures + 1;
      downSince ??= now;
      if (failures === 1 || now - lastLogged >= OUTAGE_LOG_INTERVAL_MS) {
        lastLogged = now;
        logger.error("tokens cannot be checked: every request gets 503 until the issuer answers", {
          reason: error.message,
          failures,
          cause: error.cause,
        });
      }
      return "unavailable" as const;
    }
  };
  // The challenge's parts are worked out only for a request that gets one.
  const suggested = (c: Context) =>
    options.challengeScopes === undefined ? required : resolve(options.challengeScopes, c);
  return async (c, next) => {
    if (c.req.method === "OPTIONS") return next();
    const resource =
      options.resource === undefined ? requestResource(c) : resolve(options.resource, c);
    const header = c.req.header("authorization");
    if (!header && dpop.required) {
      // RFC 9449 §7.1: a resource that takes only DPoP offers only the DPoP scheme.
      return dpopChallengeResponse({
        algs: dpop.algorithms,
        scope: suggested(c),
        resourceMetadata: resourceMetadataUrl(resource),
      });
    }
    if (!header) {
      return challengeResponse(
        401,
        {
          resourceMetadata: resourceMetadataUrl(resource),
          scope: suggested(c),
          description: "Authorization required",
        },
        offer,
      );
    }
    const credentials = readCredentials(header);
    const info = credentials ? await check(credentials.token, resource, c) : undefined;
    if (info === "unavailable") return unavailable();
    if ((!info || !credentials) && dpop.required) {
      return dpopChallengeResponse({
        algs: dpop.algorithms,
        error: "invalid_token",
        description: "The access token is invalid, expired, revoked, or not for this resource",
        resourceMetadata: resourceMetadataUrl(resource),
      });
    }
    if (!info || !credentials) {
      return challengeResponse(
        401,
        {
          resourceMetadata: resourceMetadataUrl(resource),
          scope: suggested(c),
          error: "invalid_token",
          description: "The access token is invalid, expired, revoked, or not for this resource",
        },
        offer,
      );
    }
    const url = externalUrl(c, options.trustProxy ?? false);
    let sender = checkSender(c, credentials, info, dpop, resource, url);
    if (sender instanceof Promise) sender = await sender;
    if (sender.refused) {
      logger.info("access token refused", { reason: "proof of possession failed", resource });
      return sender.refused;
    }
    const missing = required.length
      ? required.filter((scope) => !info.scopes.includes(scope))
      : required;
    if (missing.length) {
      logger.info("insufficient scope", {
        missing: missing.join(" "),
        held: info.scopes.join(" "),
        subject: info.subject,
        client_id: info.clientId,
      });
      return challengeResponse(403, {
        resourceMetadata: resourceMetadataUrl(resource),
        scope: [...new Set([...info.scopes, ...required])],
        error: "insufficient_scope",
        description: `This request needs the scope ${missing.join(" ")}`,
      });
    }
    c.set("auth", info);
    await next();
    if (sender.nextNonce) {
      // A reply from fetch has immutable headers: copy it to add the next nonce.
      try {
        c.res.headers.set("DPoP-Nonce", sender.nextNonce);
      } catch {
        c.res = new Response(c.res.body, c.res);
        c.res.headers.set("DPoP-Nonce", sender.nextNonce);
      }
    }
  };
}
