import type { Context, Hono } from "hono";
import type { AuthInfo } from "../mcp/peer.ts";
import type { McpServer } from "../mcp/server.ts";
import type { Bus } from "../storage/bus.ts";
import { memoryStore } from "../storage/memory.ts";
import type { Store } from "../storage/store.ts";
import type { Clock } from "../util/clock.ts";
import { type Logger, logOnce } from "../util/log.ts";
import { bearerAuth, type PerRequest, requestOrigin, requestResource, resolve } from "./bearer.ts";
import { challengeResponse, resourceMetadataUrl } from "./challenge.ts";
import { type DpopOptions, type DpopVerifier, dpopVerifier } from "./dpop.ts";
import type { Guard } from "./guard.ts";
import { InvalidTokenError } from "./issuer.ts";
import { protectedResourceMetadata } from "./metadata.ts";
import { jwksVerifier, type TokenVerifier } from "./verifiers.ts";

/** Protection by an authorization server someone else runs. */
export interface RemoteAuthOptions {
  /** The issuer identifier of the authorization server. */
  issuer: string;
  /** The canonical URI of this endpoint (the token audience). Default: origin + path of the request. */
  audience?: string;
  /** How tokens are checked. Default: JWTs against the issuer's published keys. */
  verify?: TokenVerifier;
  /** Scopes published in the resource metadata. Default: the scopes the server's tools name. */
  scopes?: readonly string[];
  /**
   * How the DPoP proofs of DPoP-bound tokens (`cnf.jkt`) are checked: accepted algorithms,
   * the `iat` window, server nonces, and the Store where each proof's `jti` is spent (give the
   * one every instance shares). Bound tokens are always checked; a bound token sent as Bearer
   * is refused. Default: a Store of this instance alone, no nonces, the system clock.
   */
  dpop?: DpopOptions & { store?: Store; clock?: Clock };
  /**
   * Behind a reverse proxy that sets X-Forwarded-Proto and X-Forwarded-Host: check DPoP
   * proofs (`htu`) against the URL clients address there. Default false (headers ignored).
   */
  trustProxy?: boolean;
}

/**
 * The built-in authorization server as the resource server sees it (`authorizationServer()`
 * from portcullis/auth). Typed structurally so the main entry does not pull the whole server in.
 */
export interface BuiltInAuthorizationServer {
  readonly app: Hono;
  /** Its Store and Bus, which mcpApp's readiness probe checks. */
  readonly store?: Store;
  readonly options?: { readonly bus?: Bus; readonly trustProxy?: boolean | undefined };
  readonly scopes: Set<string>;
  /** Checks the proofs of the DPoP-bound tokens it issues, at this resource. */
  readonly dpop?: DpopVerifier | undefined;
  addResource(resource: string): void;
  issuer(c: Context): string;
  verify(
    token: string,
    issuer: string,
    audience: string,
    onReject?: (reason: string) => void,
  ): Promise<AuthInfo | undefined>;
}

export type EndpointAuth = BuiltInAuthorizationServer | RemoteAuthOptions;

function isBuiltIn(auth: EndpointAuth): auth is BuiltInAuthorizationServer {
  return (
    "app" in auth && "verify" in auth && typeof auth.verify === "function" && "addResource" in auth
  );
}

/** Every scope the server's tools, resources and prompts name, in registration order. */
export function registeredScopes(server: McpServer): string[] {
  const scopes = new Set<string>();
  for (const listing of [server.tools, server.resources, server.templates, server.prompts]) {
    for (const item of listing.values()) for (const scope of item.scopes) scopes.add(scope);
  }
  return [...scopes];
}

/**
 * Warns once when tools, resources or prompts need scopes the authorization server does not
 * offer: no token could ever carry them, so they can never be used.
 */
function warnUnofferedScopes(server: McpServer, offered: readonly string[], logger: Logger): void {
  const missing = registeredScopes(server).filter((scope) => !offered.includes(scope));
  if (!missing.length) return;
  logOnce(
    logger,
    "warn",
    `unoffered-scopes ${missing.join(" ")}`,
    "tools need scopes the authorization server does not offer: no token will carry them; add them to the server's scopes",
    { missing: missing.join(" "), offered: offered.join(" ") },
  );
}

/**
 * How an endpoint protected by `auth` checks a bearer token: the built-in server's own check
 * (signature, audience, revocation), or the third party's (`verify`, default its JWKS). Shared
 * by every transport that carries tokens, so a queue message is checked as an HTTP request is.
 */
export function endpointVerifier(auth: EndpointAuth): TokenVerifier {
  if (isBuiltIn(auth)) {
    // Not an async function: a cached token then costs one promise, not two.
    return (token, audience, c) => {
      let reason = "not a valid token";
      const refused = (why: string) => {
        reason = why;
      };
      return auth.verify(token, auth.issuer(c), audience, refused).then((info) => {
        if (!info) throw new InvalidTokenError(reason);
        return info;
      });
    };
  }
  return auth.verify ?? jwksVerifier({ issuer: auth.issuer });
}

/**
 * Protects an MCP endpoint on `app`: mounts the built-in authorization server when given one,
 * serves RFC 9728 metadata at the path form and the root, and requires a valid bearer token
 * on the endpoint. Returns the guard the transport uses for per-tool scopes.
 */
export function protectEndpoint(
  app: Hono,
  server: McpServer,
  path: string,
  auth: EndpointAuth,
  logger: Logger = server.logger,
): Guard {
  const builtIn = isBuiltIn(auth) ? auth : undefined;
  const remote = isBuiltIn(auth) ? undefined : auth;
  if (builtIn) {
    builtIn.addResource(path);
    for (const scope of registeredScopes(server))
      if (builtIn.scopes.size) builtIn.scopes.add(scope);
    app.route("/", builtIn.app);
  }
  const endpointPath = path.replace(/\/+$/, "");
  const resource: PerRequest<string> =
    remote?.audience ?? ((c) => `${requestOrigin(c)}${endpointPath}`);
  const issuer: PerRequest<string> = builtIn ? (c) => builtIn.issuer(c) : remote!.issuer;
  const verify = endpointVerifier(auth);
  if (remote?.scopes) warnUnofferedScopes(server, remote.scopes, logger);
  const scopes = (): readonly string[] =>
    builtIn?.scopes.size ? [...builtIn.scopes] : (remote?.scopes ?? registeredScopes(server));

  const { store: dpopStore, ...dpopOptions } = remote?.dpop ?? {};
  const dpop =
    builtIn?.dpop ??
    dpopVerifier({ ...dpopOptions, store: dpopStore ?? memoryStore(), label: "rs" });
  const metadata = protectedResourceMetadata({
    resource,
    authorizationServers: (c) => [resolve(issuer, c)],
    scopes,
    resourceName: server.info.title ?? server.info.name,
    dpop: { algorithms: dpop.algorithms, required: dpop.required },
  });
  app.get(`/.well-known/oauth-protected-resource${endpointPath}`, metadata);
  if (endpointPath) app.get("/.well-known/oauth-protected-resource", metadata);
  const trustProxy = (builtIn ? builtIn.options?.trustProxy : remote?.trustProxy) ?? false;
  app.use(
    endpointPath || "/",
    bearerAuth({ verify, resource, challengeScopes: scopes, logger, dpop, trustProxy }),
  );

  return {
    authenticate: (c) => c.get("auth"),
    insufficientScope(c, needed, description) {
      const caller = c.get("auth");
      const held = caller?.scopes ?? [];
      logger.info("insufficient scope", {
        missing: needed.filter((scope) => !held.includes(scope)).join(" "),
        held: held.join(" "),
        subject: caller?.subject,
        client_id: caller?.clientId,
      });
      return challengeResponse(403, {
        resourceMetadata: resourceMetadataUrl(resolve(resource, c) || requestResource(c)),
        scope: [...new Set([...held, ...needed])],
        error: "insufficient_scope",
        description,
      });
    },
    userRequired(c) {
      logger.info("a client acting for itself asked for what needs a signed-in user", {
        client_id: c.get("auth")?.clientId,
      });
      // RFC 9470: no user authenticated for this token at all, so none that meets the need.
      return challengeResponse(401, {
        resourceMetadata: resourceMetadataUrl(resolve(resource, c) || requestResource(c)),
        error: "insufficient_user_authentication",
        description:
          "This request needs a signed-in user; a client acting for itself may not make it",
      });
    },
    reauthorize(c, description) {
      logger.info("the caller must authorize again", {
        reason: description,
        subject: c.get("auth")?.subject,
        client_id: c.get("auth")?.clientId,
      });
      return challengeResponse(401, {
        resourceMetadata: resourceMetadataUrl(resolve(resource, c) || requestResource(c)),
        scope: scopes(),
        error: "invalid_token",
        description,
      });
    },
  };
}
