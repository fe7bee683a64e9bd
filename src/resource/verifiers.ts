import type { Context } from "hono";
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from "jose";
import * as oauth from "oauth4webapi";
import type { AuthInfo } from "../mcp/peer.ts";

/**
 * Checks a bearer token for one resource (its audience); the caller, or undefined when the
 * token is not valid here. `c` is the request, for verifiers whose issuer follows it.
 */
export type TokenVerifier = (
  token: string,
  audience: string,
  c: Context,
) => Promise<AuthInfo | undefined>;

export function authInfoFromClaims(claims: JWTPayload & Record<string, unknown>): AuthInfo {
  const scope =
    typeof claims.scope === "string"
      ? claims.scope
      : Array.isArray(claims.scp)
        ? claims.scp.join(" ")
        : "";
  const info: AuthInfo = { scopes: scope.split(" ").filter(Boolean), claims };
  if (claims.sub !== undefined) info.subject = claims.sub;
  const clientId = claims.client_id ?? claims.azp;
  if (typeof clientId === "string") info.clientId = clientId;
  if (claims.exp !== undefined) info.expiresAt = claims.exp;
  return info;
}

export interface JwksVerifierOptions {
  /** The issuer whose tokens are accepted; its metadata gives the JWKS URI unless `jwksUri` is set. */
  issuer: string;
  jwksUri?: string;
  /** Accepted algorithms. Default ES256, RS256, PS256, EdDSA; never "none". */
  algorithms?: string[];
  /** Require `typ: at+jwt` (RFC 9068). Default false: many providers omit it. */
  requireJwtAccessTokenType?: boolean;
  /** Permit an http:// issuer on loopback (tests and local development). */
  allowInsecureRequests?: boolean;
}

/**
 * Verifies JWT access tokens from a third-party issuer with its published keys, cached and
 * refreshed by jose. Issuer and audience must match; the algorithm list excludes "none".
 */
export function jwksVerifier(options: JwksVerifierOptions): TokenVerifier {
  let keys: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  const keySet = () => {
    keys ??= (async () => {
      if (options.jwksUri) return createRemoteJWKSet(new URL(options.jwksUri));
      const issuer = new URL(options.issuer);
      const request = options.allowInsecureRequests ? { [oauth.allowInsecureRequests]: true } : {};
      const response = await oauth.discoveryRequest(issuer, { ...request, algorithm: "oauth2" });
      const metadata = await oauth.processDiscoveryResponse(issuer, response);
      if (!metadata.jwks_uri) throw new Error(`${options.issuer} publishes no jwks_uri`);
      return createRemoteJWKSet(new URL(metadata.jwks_uri));
    })().catch((error) => {
      keys = undefined;
      throw error;
    });
    return keys;
  };
  return async (token, audience) => {
    try {
      const { payload } = await jwtVerify(token, await keySet(), {
        issuer: options.issuer,
        audience,
        algorithms: options.algorithms ?? ["ES256", "RS256", "PS256", "EdDSA"],
        ...(options.requireJwtAccessTokenType ? { typ: "at+jwt" } : {}),
      });
      return authInfoFromClaims(payload as JWTPayload & Record<string, unknown>);
    } catch {
      return undefined;
    }
  };
}

export interface IntrospectionVerifierOptions {
  /** The issuer, whose metadata names the introspection endpoint. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Seconds to cache an answer; never past the token's expiry. Default 60. */
  cacheSeconds?: number;
  allowInsecureRequests?: boolean;
}

/**
 * Verifies opaque tokens by RFC 7662 introspection, through oauth4webapi, with a small
 * in-memory cache keyed by the token's hash.
 */
export function introspectionVerifier(options: IntrospectionVerifierOptions): TokenVerifier {
  const issuer = new URL(options.issuer);
  const client: oauth.Client = { client_id: options.clientId };
  const auth = oauth.ClientSecretBasic(options.clientSecret);
  const insecure = options.allowInsecureRequests ? { [oauth.allowInsecureRequests]: true } : {};
  const cache = new Map<string, { info: AuthInfo | undefined; until: number }>();
  let metadata: Promise<oauth.AuthorizationServer> | undefined;
  return async (token, audience) => {
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)),
    );
    const key = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    const hit = cache.get(key);
    if (hit && hit.until > Date.now()) return hit.info;
    try {
      metadata ??= oauth
        .discoveryRequest(issuer, { ...insecure, algorithm: "oauth2" })
        .then((response) => oauth.processDiscoveryResponse(issuer, response));
      const as = await metadata;
      const response = await oauth.introspectionRequest(as, client, auth, token, insecure);
      const result = await oauth.processIntrospectionResponse(as, client, response);
      const audiences = Array.isArray(result.aud)
        ? result.aud
        : result.aud === undefined
          ? []
          : [result.aud];
      const info =
        result.active && audiences.includes(audience)
          ? authInfoFromClaims(result as JWTPayload & Record<string, unknown>)
          : undefined;
      const ttl = Math.min(
        (options.cacheSeconds ?? 60) * 1000,
        result.exp ? result.exp * 1000 - Date.now() : Number.POSITIVE_INFINITY,
      );
      if (cache.size > 10_000) cache.clear();
      cache.set(key, { info, until: Date.now() + Math.max(0, ttl) });
      return info;
    } catch {
      metadata = undefined;
      return undefined;
    }
  };
}
