import type { Context } from "hono";
import { Hono } from "hono/tiny";
import { randomToken } from "../util/crypto.ts";
import { canonicalResource } from "../util/resource-uri.ts";
import { scopesOf } from "./audit.ts";
import { BODY_LIMITS, readOAuthBody } from "./body.tsx";
import { authenticateClient } from "./client-auth.ts";
import type { Client } from "./clients.ts";
import type { AuthorizationCore } from "./core.ts";
import { tokenRequestProof } from "./dpop.ts";
import { OAuthError } from "./errors.ts";
import { identityAssertionGrant, JWT_BEARER_GRANT } from "./identity-assertion.ts";
import { TOKEN_EXCHANGE, tokenExchangeGrant } from "./token-exchange.ts";
import type { Grant, TokenResponse } from "./tokens.ts";

const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache" };

/** Parses a form body; parameters may not repeat (RFC 6749 §3.2). */
async function readForm(c: Context): Promise<URLSearchParams> {
  if (!c.req.header("content-type")?.includes("application/x-www-form-urlencoded")) {
    throw new OAuthError(
      "invalid_request",
      "Send the request as application/x-www-form-urlencoded",
    );
  }
  const text = await readOAuthBody(c, BODY_LIMITS.token);
  const form = new URLSearchParams(text);
  const seen = new Set<string>();
  for (const key of form.keys()) {
    if (seen.has(key))
      throw new OAuthError("invalid_request", `The parameter ${key} appears more than once`);
    seen.add(key);
  }
  return form;
}

function required(form: URLSearchParams, name: string): string {
  const value = form.get(name);
  if (!value) throw new OAuthError("invalid_request", `Missing parameter: ${name}`);
  return value;
}

/** A token request may name the resource again; it must be the one the grant is for. */
function checkResource(form: URLSearchParams, grant: Grant): void {
  const resource = form.get("resource");
  if (resource !== null && canonicalResource(resource) !== grant.resource) {
    throw new OAuthError("invalid_target", "The resource does not match the authorization");
  }
}

function narrowScope(form: URLSearchParams, granted: string): string {
  const requested = form.get("scope");
  if (requested === null) return granted;
  const allowed = new Set(granted.split(" "));
  const asked = requested.split(" ").filter(Boolean);
  if (asked.some((scope) => !allowed.has(scope))) {
    throw new OAuthError("invalid_scope", "A refresh may not widen the granted scope");
  }
  return asked.join(" ");
}

/**
 * client_credentials: the scopes configured for the client, or the part of them it asks for.
 * Asking for none gets all of them; asking for any other is invalid_scope.
 */
function clientScope(form: URLSearchParams, client: Client): string {
  const allowed = (client.scope ?? "").split(" ").filter(Boolean);
  const asked = (form.get("scope") ?? "").split(" ").filter(Boolean);
  const refused = asked.filter((scope) => !allowed.includes(scope));
  if (refused.length) {
    throw new OAuthError(
      "invalid_scope",
      `This client may not have the scope ${refused.join(" ")}`,
    );
  }
  return (asked.length ? asked : allowed).join(" ");
}

/**
 * Whether a caller may learn about an access token (RFC 7662 §4): the client it was issued
 * to, or a configured resource server entitled to its audience.
 */
function mayIntrospect(caller: Client, claims: { client_id?: unknown; aud?: unknown }): boolean {
  if (claims.client_id === caller.client_id) return true;
  const entitled = caller.source === "configured" ? caller.introspection : undefined;
  if (entitled === true) return true;
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  return !!entitled && audiences.some((aud) => typeof aud === "string" && entitled.includes(aud));
}

/** The grant with its tokens bound to a DPoP key, or to none. */
function bound(grant: Grant, jkt: string | undefined): Grant {
  const { jkt: _previous, ...rest } = grant;
  return jkt === undefined ? rest : { ...rest, jkt };
}

/** A client without credentials, whose refresh tokens DPoP binds (RFC 9449 §5). */
const isPublic = (client: Client) => client.token_endpoint_auth_method === "none";

/** What every audit event about a grant says. */
const about = (grant: Grant) => ({
  subject: grant.subject,
  clientId: grant.clientId,
  scopes: scopesOf(grant.scope),
  resource: grant.resource,
  grantId: grant.gid,
});

/** The token, revocation and introspection endpoints. */
export function tokenRoutes(as: AuthorizationCore): Hono {
  const routes = new Hono();

  const client = async (c: Context, form: URLSearchParams): Promise<Client> => {
    const issuer = as.issuer(c);
    return authenticateClient(c.req.raw.headers, form, {
      registry: as.clients,
      resolve: (id) => as.client(id),
      store: as.store,
      issuer,
      tokenEndpoint: `${issuer}/token`,
      fetchOptions: as.options.metadataDocuments || {},
      clock: as.clock,
      workloads: as.options.workloadIdentity,
    });
  };

  // A registered client that completes a grant is kept for good. Best effort: the tokens are
  // issued already, and a record that stays provisional is confirmed by the next grant.
  const keep = (client: Client) => as.clients.confirm(client).catch(() => {});

  const mayUse = (client: Client, grantType: string) => {
    if (!client.grant_types.includes(grantType)) {
      throw new OAuthError("unauthorized_client", `This client may not use the ${grantType} grant`);
    }
  };

  routes.post("/token", async (c) => {
    await as.rateLimit(c, "token");
    const form = await readForm(c);
    const grantType = required(form, "grant_type");
    // Before anything is spent: a client told to use a nonce retries with the same code.
    const proof = await tokenRequestProof(c, as.dpopCheckers?.token, `${as.issuer(c)}/token`);
    const jkt = proof.jkt;
    const caller = await client(c, form);
    // Every grant type, refresh included; revoking its own tokens stays open to it.
    if (await as.grants.isDisabled(caller.client_id)) {
      throw new OAuthError("unauthorized_client", "This client is disabled by the operator");
    }
    const issuer = as.issuer(c);
    let response: TokenResponse;
    switch (grantType) {
      case "authorization_code": {
        mayUse(caller, grantType);
        const grant = await as.tokens.redeemCode(required(form, "code"), {
          clientId: caller.client_id,
          redirectUri: form.get("redirect_uri") ?? undefined,
          codeVerifier: required(form, "code_verifier"),
          validate: (grant) => {
            checkResource(form, grant);
            // Checked before the code is spent: the rightful client can still redeem it.
            if (grant.dpopJkt !== undefined && grant.dpopJkt !== jkt) {
              throw new OAuthError(
                "invalid_grant",
                "The authorization code is bound to another DPoP key (dpop_jkt)",
              );
            }
          },
        });
        const withRefresh = caller.grant_types.includes("refresh_token");
        // Listed before any token exists: no token outlives a grant its user cannot see.
        await as.grants.issued(grant, withRefresh);
        response = await as.tokens.tokens(bound(grant, jkt), issuer, withRefresh, isPublic(caller));
        await keep(caller);
        as.audit(c, {
          type: "token.issued",
          grantType: "authorization_code",
          refreshToken: response.refresh_token !== undefined,
          ...about(grant),
        });
        break;
      }
      case "refresh_token": {
        mayUse(caller, grantType);
        // Checked before rotation: a refused refresh must leave the client's token usable.
        const { grant, refreshToken } = await as.tokens.refresh(
          required(form, "refresh_token"),
          caller.client_id,
          (current) => {
            checkResource(form, current);
            narrowScope(form, current.scope);
            // RFC 9449 §5: a bound refresh token is good only with a proof by its key.
            if (current.jkt !== undefined && current.jkt !== jkt) {
              throw new OAuthError(
                "invalid_grant",
                jkt === undefined
                  ? "The refresh token is DPoP-bound: send a DPoP proof by its key"
                  : "The refresh token is bound to another DPoP key",
              );
            }
          },
          (reused) =>
            as.audit(c, { type: "refresh.reuse_detected", familyRevoked: true, ...about(reused) }),
        );
        // Best effort, like `keep`: the token rotated already, and only "last used" would lag.
        await as.grants.refreshed(grant).catch(() => {});
        const scoped = { ...grant, scope: narrowScope(form, grant.scope) };
        response = {
          ...(await as.tokens.tokens(bound(scoped, jkt), issuer, false)),
          refresh_token: refreshToken,
        };
        await keep(caller);
        as.audit(c, { type: "refresh.rotated", ...about(scoped) });
        break;
      }
      case "client_credentials": {
        // Whatever a stored record says: registered and metadata-document clients never get
        // tokens without a user, only clients the operator configured for it.
        if (caller.source !== "configured") {
          throw new OAuthError(
            "unauthorized_client",
            "client_credentials is only for clients the server's operator configures",
          );
        }
        mayUse(caller, grantType);
        if (caller.token_endpoint_auth_method === "none") {
          throw new OAuthError(
            "unauthorized_client",
            "client_credentials needs an authenticated client",
          );
        }
        const grant: Grant = {
          gid: randomToken(16),
          subject: caller.client_id,
          clientId: caller.client_id,
          scope: as.grantScope(clientScope(form, caller), caller),
          resource: as.audience(form.get("resource") ?? undefined, issuer),
          kind: "client",
        };
        response = await as.tokens.tokens(bound(grant, jkt), issuer, false);
        as.audit(c, { type: "client_credentials.granted", ...about(grant) });
        break;
      }
      case JWT_BEARER_GRANT:
        response = await identityAssertionGrant(c, as, form, caller, jkt);
        break;
      case TOKEN_EXCHANGE:
        response = await tokenExchangeGrant(c, as, form, caller, jkt);
        break;
      default:
        throw new OAuthError("unsupported_grant_type", `Unsupported grant_type: ${grantType}`);
    }
    const nonce = proof.nextNonce ? { "DPoP-Nonce": proof.nextNonce } : {};
    return c.json(response, 200, { ...NO_STORE, ...nonce });
  });

  routes.post("/revoke", async (c) => {
    await as.rateLimit(c, "revoke");
    const form = await readForm(c);
    const caller = await client(c, form);
    const token = required(form, "token");
    const refresh = await as.tokens.refreshTokenGrant(token);
    const access = refresh
      ? undefined
      : await as.tokens.verifyAccessToken(token, { issuer: as.issuer(c) });
    const found = refresh
      ? { ...refresh, tokenType: "refresh_token" as const }
      : typeof access?.gid === "string"
        ? {
            gid: access.gid,
            clientId: String(access.client_id),
            subject: String(access.sub),
            scope: typeof access.scope === "string" ? access.scope : "",
            resource: String(access.aud),
            tokenType: "access_token" as const,
          }
        : undefined;
    // RFC 7009 §2.2: a token that is not (or no longer) valid is answered 200 all the same.
    if (!found) return c.body(null, 200, NO_STORE);
    // §2.1: a client revokes only its own tokens, and is told so when it tries another's.
    if (found.clientId !== caller.client_id) {
      throw new OAuthError("invalid_grant", "The token was issued to another client");
    }
    await as.tokens.revokeGrant(found.gid, found.subject);
    as.audit(c, { type: "token.revoked", tokenType: found.tokenType, ...about(found) });
    return c.body(null, 200, NO_STORE);
  });

  routes.post("/introspect", async (c) => {
    await as.rateLimit(c, "introspect");
    const form = await readForm(c);
    const caller = await client(c, form);
    if (caller.token_endpoint_auth_method === "none") {
      throw new OAuthError("invalid_client", "Introspection needs an authenticated client");
    }
    const token = required(form, "token");
    // RFC 7662 §4: a caller not entitled to a token learns no more than that it is inactive.
    const inactive = () => c.json({ active: false }, 200, NO_STORE);
    const claims = await as.tokens.verifyAccessToken(token, { issuer: as.issuer(c) });
    if (claims) {
      if (!mayIntrospect(caller, claims)) return inactive();
      const tokenType = claims.cnf === undefined ? "Bearer" : "DPoP";
      return c.json({ active: true, token_type: tokenType, ...claims }, 200, NO_STORE);
    }
    const refresh = await as.tokens.refreshTokenGrant(token);
    // Refresh tokens never go to resource servers: only their own client may ask about them.
    if (refresh?.clientId === caller.client_id) {
      return c.json(
        {
          active: true,
          token_type: "refresh_token",
          client_id: refresh.clientId,
          sub: refresh.subject,
          scope: refresh.scope,
          aud: refresh.resource,
          iss: as.issuer(c),
        },
        200,
        NO_STORE,
      );
    }
    return inactive();
  });

  return routes;
}
