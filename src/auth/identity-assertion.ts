import type { Context } from "hono";
import { decodeJwt, decodeProtectedHeader, type JWTPayload } from "jose";
import type { Clock } from "../util/clock.ts";
import { randomToken, sha256 } from "../util/crypto.ts";
import { canonicalResource } from "../util/resource-uri.ts";
import { scopesOf } from "./audit.ts";
import type { Client } from "./clients.ts";
import type { AuthorizationCore } from "./core.ts";
import { OAuthError } from "./errors.ts";
import type { IdentityAssertionOptions } from "./identity-assertion-options.ts";
import { IssuerKeys } from "./issuer-keys.ts";
import type { Grant, TokenResponse } from "./token-types.ts";

export const JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";
export const ID_JAG_TYPE = "oauth-id-jag+jwt";
/** What the metadata advertises (ext-auth §6). */
export const ID_JAG_PROFILE = "urn:ietf:params:oauth:grant-profile:id-jag";
const DEFAULT_ALGORITHMS = ["ES256", "RS256", "PS256", "EdDSA"];

const keyCaches = new WeakMap<IdentityAssertionOptions, IssuerKeys>();

const invalidGrant = (message: string, cause?: unknown) =>
  new OAuthError("invalid_grant", message, cause === undefined ? {} : { cause });

/** The assertion's signature and claims, checked against the IdP that `iss` names. */
async function verifiedAssertion(
  assertion: string,
  options: IdentityAssertionOptions,
  issuer: string,
  clock: Clock,
): Promise<JWTPayload & { iss: string; sub: string; jti: string; exp: number }> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  let unverified: JWTPayload;
  try {
    header = decodeProtectedHeader(assertion);
    unverified = decodeJwt(assertion);
  } catch {
    throw invalidGrant("The assertion is not a JWT");
  }
  if (header.typ !== ID_JAG_TYPE) {
    throw invalidGrant(`The assertion is not an ID-JAG (typ ${ID_JAG_TYPE})`);
  }
  const idp = options.trust.find((trusted) => trusted.issuer === unverified.iss);
  if (!idp) throw invalidGrant("The assertion's issuer is not a trusted identity provider");
  let keys = keyCaches.get(options);
  if (!keys) {
    keys = new IssuerKeys(options, clock);
    keyCaches.set(options, keys);
  }
  let payload: JWTPayload;
  try {
    payload = await keys.verify(assertion, idp, {
      issuer: idp.issuer,
      audience: [issuer, `${issuer}/`],
      typ: ID_JAG_TYPE,
      algorithms: [...(idp.algorithms ?? DEFAULT_ALGORITHMS)],
      requiredClaims: ["exp", "iat", "jti", "sub", "client_id"],
      currentDate: new Date(clock()),
    });
  } catch (error) {
    if (error instanceof OAuthError) throw error;
    throw invalidGrant("The assertion is not valid: bad signature, audience or lifetime", error);
  }
  const maxLifetime = options.maxLifetimeSeconds ?? 300;
  if (payload.exp! - payload.iat! > maxLifetime) {
    throw invalidGrant(`The assertion lives longer than ${maxLifetime} seconds`);
  }
  if (payload.iat! * 1000 > clock() + 60_000) {
    throw invalidGrant("The assertion was issued in the future");
  }
  return payload as JWTPayload & { iss: string; sub: string; jti: string; exp: number };
}

/**
 * The JWT bearer grant (RFC 7523) with an Identity Assertion JWT Authorization Grant from a
 * trusted enterprise IdP: the user the IdP asserts gets an access token for the client the
 * assertion names, for the resource it names, with the scopes it grants or fewer. Each
 * assertion is good once. No refresh token: the client asks the IdP for a new assertion.
 */
export async function identityAssertionGrant(
  c: Context,
  as: AuthorizationCore,
  form: URLSearchParams,
  caller: Client,
  jkt: string | undefined,
): Promise<TokenResponse> {
  const options = as.options.identityAssertion;
  if (!options) {
    throw new OAuthError("unsupported_grant_type", `Unsupported grant_type: ${JWT_BEARER_GRANT}`);
  }
  if (caller.token_endpoint_auth_method === "none") {
    throw new OAuthError(
      "unauthorized_client",
      "An identity assertion needs an authenticated client",
    );
  }
  const assertion = form.get("assertion");
  if (!assertion) throw new OAuthError("invalid_request", "Missing parameter: assertion");
  const issuer = as.issuer(c);
  const claims = await verifiedAssertion(assertion, options, issuer, as.clock);
  if (claims.client_id !== caller.client_id) {
    throw invalidGrant("The assertion was issued to another client");
  }
  const asserted = claims.resource;
  if (asserted !== undefined && typeof asserted !== "string") {
    throw invalidGrant("The assertion's resource must be one URI");
  }
  const requested = form.get("resource");
  if (
    asserted !== undefined &&
    requested !== null &&
    canonicalResource(requested) !== canonicalResource(asserted)
  ) {
    throw invalidGrant("The assertion was issued for another resource");
  }
  // ext-auth §7.6.2: a resource or scope this server does not serve is the grant's fault.
  let resource: string;
  try {
    resource = as.audience(asserted ?? requested ?? undefined, issuer);
  } catch (error) {
    if (asserted === undefined) throw error;
    throw invalidGrant("The assertion was issued for a resource this server does not serve");
  }
  const granted = scopesOf(typeof claims.scope === "string" ? claims.scope : "");
  try {
    as.grantScope(granted.join(" "), caller);
  } catch {
    throw invalidGrant("The assertion grants scopes this server does not offer");
  }
  // The scopes both asked for and granted (ext-auth §7.2.1); all granted ones when none are asked.
  const asked = form.get("scope");
  const scope =
    asked === null
      ? granted.join(" ")
      : scopesOf(asked)
          .filter((s) => granted.includes(s))
          .join(" ");
  if (asked !== null && !scope) {
    throw new OAuthError("invalid_scope", "The assertion grants none of the scopes asked for");
  }
  const subject = options.subject ? options.subject(claims) : claims.sub;
  if (typeof subject !== "string" || !subject) {
    throw invalidGrant("The assertion's user has no local subject");
  }
  // Spent last: a refused request must not burn the assertion for its rightful client.
  const ttlMs = Math.max(1000, claims.exp * 1000 - as.clock() + 60_000);
  const spent = `as:id-jag:${await sha256(`${claims.iss} ${claims.jti}`)}`;
  if (!(await as.store.add(spent, true, { ttlMs }))) {
    throw invalidGrant("The assertion was already used");
  }
  const grant: Grant = {
    gid: randomToken(16),
    subject,
    clientId: caller.client_id,
    scope,
    resource,
    ...(typeof claims.auth_time === "number" ? { authTime: claims.auth_time } : {}),
    ...(jkt === undefined ? {} : { jkt }),
  };
  // Listed, so the user sees (and may revoke) what the enterprise granted in their name.
  await as.grants.issued(grant, false);
  const response = await as.tokens.tokens(grant, issuer, false);
  as.audit(c, {
    type: "assertion.granted",
    subject,
    clientId: caller.client_id,
    scopes: scopesOf(scope),
    resource,
    grantId: grant.gid,
    assertionIssuer: claims.iss,
  });
  return response;
}
