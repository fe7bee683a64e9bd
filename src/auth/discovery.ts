import type { Context } from "hono";
import { Hono } from "hono/tiny";
import type { JWK } from "jose";
import { scopesOf } from "./audit.ts";
import { BODY_LIMITS, readOAuthBody } from "./body.tsx";
import { clientInformation, type RegistrationRules } from "./clients.ts";
import type { AuthorizationCore } from "./core.ts";
import { OAuthError } from "./errors.ts";
import { ID_JAG_PROFILE, JWT_BEARER_GRANT } from "./identity-assertion.ts";
import { authorizationServerMetadata } from "./metadata.ts";
import { TOKEN_EXCHANGE } from "./token-exchange.ts";

export interface DiscoverySources {
  /** The issuer URL's path without trailing slashes ("" at the root). */
  issuerPath: string;
  /** The scopes to advertise, read per request (resources add theirs after construction). */
  scopes: () => string[];
  jwks: () => Promise<{ keys: JWK[] }>;
}

/** RFC 8414 metadata (at every place clients look for it) and the JWKS. */
export function discoveryRoutes(server: AuthorizationCore, sources: DiscoverySources): Hono {
  const app = new Hono();
  const { options } = server;
  const extraGrantTypes = [
    ...(options.tokenExchange ? [TOKEN_EXCHANGE] : []),
    ...(options.identityAssertion ? [JWT_BEARER_GRANT] : []),
  ];
  const metadata = (c: Context) =>
    c.json(
      authorizationServerMetadata({
        issuer: server.issuer(c),
        scopes: sources.scopes(),
        registration: options.registration !== false,
        metadataDocuments: options.metadataDocuments !== false,
        dpopAlgorithms: server.dpopCheckers?.token.algorithms,
        extraGrantTypes,
        grantProfiles: options.identityAssertion ? [ID_JAG_PROFILE] : [],
      }),
      200,
      { "Cache-Control": "public, max-age=300" },
    );
  app.get("/.well-known/oauth-authorization-server", metadata);
  app.get("/.well-known/openid-configuration", metadata);
  const { issuerPath } = sources;
  if (issuerPath) {
    app.get(`/.well-known/oauth-authorization-server${issuerPath}`, metadata);
    app.get(`/.well-known/openid-configuration${issuerPath}`, metadata);
    app.get(`${issuerPath}/.well-known/openid-configuration`, metadata);
  }
  app.get("/.well-known/jwks.json", async (c) =>
    c.json(await sources.jwks(), 200, { "Cache-Control": "public, max-age=300" }),
  );
  return app;
}

/** Dynamic client registration (RFC 7591), unless the options turn it off. */
export function registrationRoutes(
  server: AuthorizationCore,
  rules: () => RegistrationRules,
): Hono {
  const app = new Hono();
  app.post("/register", async (c) => {
    if (server.options.registration === false) {
      throw new OAuthError("invalid_request", "Dynamic registration is disabled", {
        status: 404,
      });
    }
    await server.rateLimit(c, "register");
    const text = await readOAuthBody(c, BODY_LIMITS.register);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new OAuthError("invalid_client_metadata", "The body must be JSON");
    }
    const { client, secret } = await server.clients.register(body, rules());
    server.audit(c, {
      type: "client.registered",
      clientId: client.client_id,
      ...(client.client_name === undefined ? {} : { clientName: client.client_name }),
      redirectUris: client.redirect_uris,
      authMethod: client.token_endpoint_auth_method,
      scopes: scopesOf(client.scope),
    });
    return c.json(clientInformation(client, secret), 201, { "Cache-Control": "no-store" });
  });
  return app;
}
