import { type Context, Hono } from "hono";
import { BODY_LIMITS, readOAuthBody } from "./body.tsx";
import { authenticateClient } from "./client-auth.ts";
import type { Client } from "./clients.ts";
import { randomToken } from "./crypto.ts";
import { OAuthError } from "./errors.ts";
import { canonicalResource } from "./resource-uri.ts";
import type { AuthorizationServer } from "./server.ts";
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

/** The token, revocation and introspection endpoints. */
export function tokenRoutes(as: AuthorizationServer): Hono {
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
    });
  };

  const mayUse = (client: Client, grantType: string) => {
    if (!client.grant_types.includes(grantType)) {
      throw new OAuthError("unauthorized_client", `This client may not use the ${grantType} grant`);
    }
  };

  routes.post("/token", async (c) => {
    await as.rateLimit(c, "token");
    const form = await readForm(c);
    const grantType = required(form, "grant_type");
    const caller = await client(c, form);
    const issuer = as.issuer(c);
    let response: TokenResponse;
    switch (grantType) {
      case "authorization_code": {
        mayUse(caller, grantType);
        const grant = await as.tokens.redeemCode(required(form, "code"), {
          clientId: caller.client_id,
          redirectUri: form.get("redirect_uri") ?? undefined,
          codeVerifier: required(form, "code_verifier"),
          validate: (grant) => checkResource(form, grant),
        });
        response = await as.tokens.tokens(
          grant,
          issuer,
          caller.grant_types.includes("refresh_token"),
        );
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
          },
        );
        const scoped = { ...grant, scope: narrowScope(form, grant.scope) };
        response = {
          ...(await as.tokens.tokens(scoped, issuer, false)),
          refresh_token: refreshToken,
        };
        break;
      }
      case "client_credentials": {
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
          scope: as.grantScope(form.get("scope"), caller),
          resource: as.audience(form.get("resource") ?? undefined, issuer),
        };
        response = await as.tokens.tokens(grant, issuer, false);
        break;
      }
      default:
        throw new OAuthError("unsupported_grant_type", `Unsupported grant_type: ${grantType}`);
    }
    return c.json(response, 200, NO_STORE);
  });

  routes.post("/revoke", async (c) => {
    const form = await readForm(c);
    const caller = await client(c, form);
    const token = required(form, "token");
    // RFC 7009: the answer is 200 whether or not the token was valid, so it reveals nothing.
    const refresh = await as.tokens.refreshTokenGrant(token);
    if (refresh?.clientId === caller.client_id) {
      await as.tokens.revokeGrant(refresh.gid);
    } else {
      const claims = await as.tokens.verifyAccessToken(token, { issuer: as.issuer(c) });
      if (claims?.client_id === caller.client_id && typeof claims.gid === "string") {
        await as.tokens.revokeGrant(claims.gid);
      }
    }
    return c.body(null, 200, NO_STORE);
  });

  routes.post("/introspect", async (c) => {
    const form = await readForm(c);
    const caller = await client(c, form);
    if (caller.token_endpoint_auth_method === "none") {
      throw new OAuthError("invalid_client", "Introspection needs an authenticated client");
    }
    const token = required(form, "token");
    const claims = await as.tokens.verifyAccessToken(token, { issuer: as.issuer(c) });
    if (claims) {
      return c.json({ active: true, token_type: "Bearer", ...claims }, 200, NO_STORE);
    }
    const refresh = await as.tokens.refreshTokenGrant(token);
    if (refresh) {
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
    return c.json({ active: false }, 200, NO_STORE);
  });

  return routes;
}
