import type { Context } from "hono";
import type { JWTPayload } from "jose";
import { canonicalResource } from "../util/resource-uri.ts";
import { scopesOf } from "./audit.ts";
import type { Client } from "./clients.ts";
import type { AuthorizationCore } from "./core.ts";
import { OAuthError } from "./errors.ts";
import type { TokenExchangeOptions, TokenExchangeRequest } from "./token-exchange-options.ts";
import { type ActorClaim, type Grant, MACHINE_CLAIM, type TokenResponse } from "./token-types.ts";

export const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
export const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

/** The actors of an `act` claim, nearest first; undefined when it is not a well-formed chain. */
function actorsOf(act: unknown): string[] | undefined {
  const actors: string[] = [];
  let current = act;
  while (current !== undefined) {
    if (typeof current !== "object" || current === null) return undefined;
    const { sub, act: inner } = current as { sub?: unknown; act?: unknown };
    if (typeof sub !== "string") return undefined;
    actors.push(sub);
    current = inner;
  }
  return actors;
}

/** The target the request names (RFC 8693 §2.1: `resource` or `audience`), canonical. */
function requestedTarget(form: URLSearchParams): string {
  const resource = form.get("resource");
  const audience = form.get("audience");
  const named = resource ?? audience;
  if (named === null) {
    throw new OAuthError("invalid_target", "Name the resource the new token is for (resource)");
  }
  const canonical = canonicalResource(named);
  if (!canonical) throw new OAuthError("invalid_target", "The resource is not an absolute URI");
  if (resource !== null && audience !== null && canonicalResource(audience) !== canonical) {
    throw new OAuthError("invalid_target", "resource and audience name different targets");
  }
  return canonical;
}

/** The requested scopes: the subject token's or fewer, never more. */
function narrowed(form: URLSearchParams, held: string): string {
  const asked = form.get("scope");
  if (asked === null) return held;
  const allowed = new Set(scopesOf(held));
  const wanted = scopesOf(asked);
  const extra = wanted.filter((scope) => !allowed.has(scope));
  if (extra.length) {
    throw new OAuthError(
      "invalid_scope",
      `The subject token does not carry the scope ${extra.join(" ")}; an exchange may only narrow`,
    );
  }
  return [...new Set(wanted)].join(" ");
}

async function allowed(
  options: TokenExchangeOptions,
  request: TokenExchangeRequest,
): Promise<void> {
  const { allow } = options;
  if (typeof allow === "function") {
    if (!(await allow(request))) {
      throw new OAuthError(
        "unauthorized_client",
        "The token exchange policy refuses this client for this audience",
      );
    }
    return;
  }
  const audiences = Object.hasOwn(allow, request.clientId) ? allow[request.clientId] : undefined;
  if (!audiences) {
    throw new OAuthError("unauthorized_client", "This client may not exchange tokens");
  }
  if (!audiences.some((audience) => canonicalResource(audience) === request.audience)) {
    throw new OAuthError("invalid_target", "This client may not exchange tokens for that audience");
  }
}

/** The subject token, verified: ours, unexpired, its grant not revoked. */
async function subjectClaims(
  as: AuthorizationCore,
  form: URLSearchParams,
  issuer: string,
): Promise<JWTPayload & { sub: string; gid: string }> {
  const token = form.get("subject_token");
  const type = form.get("subject_token_type");
  if (!token || !type) {
    throw new OAuthError("invalid_request", "Send subject_token and subject_token_type");
  }
  if (type !== ACCESS_TOKEN_TYPE) {
    throw new OAuthError("invalid_request", `Unsupported subject_token_type: ${type}`);
  }
  const claims = await as.tokens.verifyAccessToken(token, { issuer });
  if (!claims || typeof claims.sub !== "string" || typeof claims.gid !== "string") {
    throw new OAuthError(
      "invalid_grant",
      "The subject token is not valid here: expired, revoked, or not issued by this server",
    );
  }
  return claims as JWTPayload & { sub: string; gid: string };
}

/**
 * The token exchange grant (RFC 8693): the authenticated client trades an access token this
 * server issued for one to another resource, with the same scopes or fewer. The new token
 * shares the subject token's grant (revoking it ends both), never outlives it, and records
 * the client as the newest actor in `act`.
 */
export async function tokenExchangeGrant(
  c: Context,
  as: AuthorizationCore,
  form: URLSearchParams,
  caller: Client,
  jkt: string | undefined,
): Promise<TokenResponse & { issued_token_type: string }> {
  const options = as.options.tokenExchange;
  if (!options) {
    throw new OAuthError("unsupported_grant_type", `Unsupported grant_type: ${TOKEN_EXCHANGE}`);
  }
  if (caller.token_endpoint_auth_method === "none") {
    throw new OAuthError("unauthorized_client", "Token exchange needs an authenticated client");
  }
  if (form.has("actor_token") || form.has("actor_token_type")) {
    throw new OAuthError(
      "invalid_request",
      "actor_token is not supported: the authenticated client is the actor",
    );
  }
  const wanted = form.get("requested_token_type");
  if (wanted !== null && wanted !== ACCESS_TOKEN_TYPE) {
    throw new OAuthError("invalid_request", `Unsupported requested_token_type: ${wanted}`);
  }
  const issuer = as.issuer(c);
  const claims = await subjectClaims(as, form, issuer);
  // RFC 9449: a token bound to a key is only good with a proof by that key.
  const cnf = claims.cnf as { jkt?: unknown } | undefined;
  if (cnf?.jkt !== undefined && cnf.jkt !== jkt) {
    throw new OAuthError(
      "invalid_grant",
      "The subject token is DPoP-bound: send a DPoP proof by its key",
    );
  }
  const actors = actorsOf(claims.act);
  if (!actors) throw new OAuthError("invalid_grant", "The subject token's act claim is malformed");
  if (actors.length + 1 > (options.maxActors ?? 3)) {
    throw new OAuthError("invalid_grant", "The delegation chain is already as long as allowed");
  }
  const audience = as.audience(requestedTarget(form), issuer);
  const scope = narrowed(form, typeof claims.scope === "string" ? claims.scope : "");
  const subjectAudience = Array.isArray(claims.aud) ? String(claims.aud[0]) : String(claims.aud);
  const subjectClientId = String(claims.client_id);
  await allowed(options, {
    clientId: caller.client_id,
    subject: claims.sub,
    subjectClientId,
    subjectAudience,
    audience,
    scopes: scopesOf(scope),
    actors,
  });
  const act: ActorClaim = { sub: caller.client_id };
  if (claims.act !== undefined) act.act = claims.act as ActorClaim;
  const grant: Grant = {
    gid: claims.gid,
    subject: claims.sub,
    clientId: caller.client_id,
    scope,
    resource: audience,
    act,
    ...(typeof claims.exp === "number" ? { notAfter: claims.exp } : {}),
    ...(typeof claims.auth_time === "number" ? { authTime: claims.auth_time } : {}),
    ...(claims[MACHINE_CLAIM] === "client_credentials" ? { kind: "client" as const } : {}),
    ...(jkt === undefined ? {} : { jkt }),
  };
  const response = await as.tokens.tokens(grant, issuer, false);
  as.audit(c, {
    type: "token.exchanged",
    subject: grant.subject,
    clientId: caller.client_id,
    scopes: scopesOf(scope),
    resource: audience,
    grantId: grant.gid,
    subjectClientId,
    subjectAudience,
    actors: [caller.client_id, ...actors],
  });
  return { ...response, issued_token_type: ACCESS_TOKEN_TYPE };
}
