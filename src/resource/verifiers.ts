import type { Context } from "hono";
import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import type { AuthInfo, CallerKind } from "../mcp/peer.ts";
import { tokenRejection } from "../util/token-rejection.ts";
import {
  type Introspection,
  type IntrospectionClientOptions,
  introspector,
} from "./introspection.ts";
import {
  configuredUrl,
  discoverIssuer,
  InvalidTokenError,
  IssuerUnavailableError,
} from "./issuer.ts";

/**
 * Checks a bearer token for one resource (its audience); the caller, or undefined when the
 * token is not valid here (or throw InvalidTokenError to say why, for the operator's log).
 * `c` is the request, for verifiers whose issuer follows it.
 */
export type TokenVerifier = (
  token: string,
  audience: string,
  c: Context,
) => Promise<AuthInfo | undefined>;

/** Decides from a token's claims (or introspection answer) whether a user stands behind it. */
export type CallerKindRule = (claims: Record<string, unknown>) => CallerKind;

/**
 * The default rule for third-party tokens: a "client" (no user behind it) when the token says
 * it came from the client credentials grant (`gty`: "client_credentials" or Auth0's
 * "client-credentials"), is an application token (`idtyp`: "app", Microsoft Entra ID), names
 * no subject, or names the client itself as its subject (`client_id`, `azp` or Okta's `cid`;
 * what RFC 9068 §2.2 recommends for tokens without a resource owner); otherwise a "user".
 * Issuers that mark machine tokens another way need their own rule (`callerKind` option).
 */
export function defaultCallerKind(claims: Record<string, unknown>): CallerKind {
  const { gty, idtyp, sub } = claims;
  if (gty === "client_credentials" || gty === "client-credentials" || idtyp === "app") {
    return "client";
  }
  if (typeof sub !== "string" || sub === "") return "client";
  return sub === claims.client_id || sub === claims.azp || sub === claims.cid ? "client" : "user";
}

export function authInfoFromClaims(
  claims: JWTPayload & Record<string, unknown>,
  callerKind: CallerKindRule = defaultCallerKind,
): AuthInfo {
  const scope =
    typeof claims.scope === "string"
      ? claims.scope
      : Array.isArray(claims.scp)
        ? claims.scp.join(" ")
        : "";
  const info: AuthInfo = {
    // Anything but a clear "user" counts as a client: the safe side of a rule that errs.
    kind: callerKind(claims) === "user" ? "user" : "client",
    scopes: scope.split(" ").filter(Boolean),
    claims,
  };
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
  /**
   * Also ask the issuer (RFC 7662 introspection) whether each token that passed the signature
   * checks is still active, so that a revoked token stops working within `cacheSeconds`
   * (default 30) rather than when it expires. The issuer must introspect its JWT access tokens
   * (not every one does: then every request fails with 503). Default: no revocation check.
   */
  revocation?: Omit<IntrospectionClientOptions, "issuer" | "allowInsecureRequests" | "clock">;
  /** Epoch milliseconds now, for expiry checks. Default Date.now. */
  clock?: () => number;
  /** Whether a user stands behind a token. Default: {@link defaultCallerKind}. */
  callerKind?: CallerKindRule;
}

const DEFAULT_ALGORITHMS = ["ES256", "RS256", "PS256", "EdDSA"];

/** jose errors that are the token's fault (its `kid` or `alg`), not the key set's. */
const TOKEN_FAULTS = new Set([
  "ERR_JWKS_NO_MATCHING_KEY",
  "ERR_JWKS_MULTIPLE_MATCHING_KEYS",
  "ERR_JOSE_NOT_SUPPORTED",
]);

/**
 * Verifies JWT access tokens from a third-party issuer with its published keys, cached and
 * refreshed by jose (a token with an unknown `kid` refetches them at most once per 30 s).
 * Issuer, audience and lifetime must match; the algorithm list excludes "none". A key set
 * that cannot be fetched, or a revocation check that gets no answer, throws
 * IssuerUnavailableError (503), never a silent 401.
 */
export function jwksVerifier(options: JwksVerifierOptions): TokenVerifier {
  const insecure = options.allowInsecureRequests;
  const issuer = configuredUrl(options.issuer, "issuer", insecure);
  const jwksUri = options.jwksUri ? configuredUrl(options.jwksUri, "jwksUri", insecure) : undefined;
  const algorithms = options.algorithms ?? DEFAULT_ALGORITHMS;
  if (!algorithms.length || algorithms.some((alg) => alg.toLowerCase() === "none")) {
    throw new TypeError('algorithms must name at least one algorithm, and never "none"');
  }
  const clock = options.clock ?? Date.now;
  const stillActive = options.revocation
    ? introspector({
        ...options.revocation,
        issuer: options.issuer,
        clock,
        ...(insecure ? { allowInsecureRequests: true } : {}),
      })
    : undefined;

  let keys: Promise<JWTVerifyGetKey> | undefined;
  const keySet = () => {
    keys ??= (async () => {
      const uri = jwksUri ?? (await discoverIssuer(issuer, insecure)).jwks_uri;
      if (!uri) throw new IssuerUnavailableError(`${options.issuer} publishes no jwks_uri`);
      return createRemoteJWKSet(new URL(uri));
    })().catch((error: unknown) => {
      keys = undefined;
      throw error;
    });
    return keys;
  };
  // Keys are looked up only for a well-formed token with an accepted algorithm.
  const getKey: JWTVerifyGetKey = async (header, token) => {
    const remote = await keySet();
    try {
      return await remote(header, token);
    } catch (error) {
      if (TOKEN_FAULTS.has((error as { code?: string }).code ?? "")) throw error;
      throw new IssuerUnavailableError(`The keys of ${options.issuer} could not be fetched`, {
        cause: error,
      });
    }
  };

  return async (token, audience) => {
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, getKey, {
        issuer: options.issuer,
        audience,
        algorithms,
        currentDate: new Date(clock()),
        ...(options.requireJwtAccessTokenType ? { typ: "at+jwt" } : {}),
      }));
    } catch (error) {
      if (error instanceof IssuerUnavailableError) throw error;
      throw new InvalidTokenError(tokenRejection(error), { cause: error });
    }
    if (stillActive && !(await stillActive(token)).active) {
      throw new InvalidTokenError("not active at the issuer (revoked or expired)");
    }
    return authInfoFromClaims(claims as JWTPayload & Record<string, unknown>, options.callerKind);
  };
}

export interface IntrospectionVerifierOptions extends IntrospectionClientOptions {
  /** Whether a user stands behind a token, from the introspection answer. Default: {@link defaultCallerKind}. */
  callerKind?: CallerKindRule;
}

/** The audiences an introspection answer names. */
function audiences(answer: Introspection): string[] {
  if (Array.isArray(answer.aud)) return answer.aud;
  return typeof answer.aud === "string" ? [answer.aud] : [];
}

/**
 * Verifies tokens by RFC 7662 introspection, through oauth4webapi, with a short in-memory
 * cache keyed by the token's hash: a revoked token stops working within `cacheSeconds`. The
 * answer must say active, name this resource in `aud`, and not be past `exp`. An endpoint that
 * gives no answer throws IssuerUnavailableError (503).
 */
export function introspectionVerifier(options: IntrospectionVerifierOptions): TokenVerifier {
  const introspect = introspector(options);
  const clock = options.clock ?? Date.now;
  return async (token, audience) => {
    const answer = await introspect(token);
    if (!answer.active) throw new InvalidTokenError("not active at the issuer");
    if (!audiences(answer).includes(audience)) {
      throw new InvalidTokenError("wrong audience (aud): issued for another resource");
    }
    if (typeof answer.exp === "number" && answer.exp * 1000 <= clock()) {
      throw new InvalidTokenError("expired");
    }
    return authInfoFromClaims(answer as JWTPayload & Record<string, unknown>, options.callerKind);
  };
}
