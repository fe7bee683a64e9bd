/**
 * A real third-party authorization server for the resource-server tests: `oidc-provider` on
 * loopback, issuing client-credentials access tokens for resources (RFC 8707), as JWTs or as
 * opaque tokens, with introspection and revocation on. The HTTP server in front of it can be
 * told to fail a path (as an IdP under trouble would) and counts what it is asked, so a test
 * can prove what the resource server fetched. Keys rotate by swapping in a provider built with
 * the new key set on the same origin.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import Provider from "oidc-provider";

/** The MCP endpoint's canonical URI: the audience of JWT access tokens. */
export const RESOURCE = "https://mcp.example.test/mcp";
/** A resource whose tokens the IdP issues as opaque strings (introspection only). */
export const OPAQUE_RESOURCE = "https://mcp.example.test/opaque";
/** Other resources: their tokens must not work at ours. */
export const OTHER_RESOURCE = "https://other.example.test/mcp";
export const OTHER_OPAQUE_RESOURCE = "https://other.example.test/opaque";

export const AGENT = { id: "agent", secret: "agent-secret-0123456789-0123456789-0123456789" };
export const RESOURCE_SERVER = {
  id: "resource-server",
  secret: "resource-server-secret-0123456789-0123456789",
};

export async function signingKey(kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: "ES256", use: "sig" };
}

export class ThirdPartyIdp {
  readonly #http: Server;
  #provider: Provider | undefined;
  /** Paths answered with this status instead of by the provider. */
  readonly faults = new Map<string, number>();
  /** Requests per path. */
  readonly hits = new Map<string, number>();
  readonly errors: unknown[] = [];
  url = "";

  constructor() {
    this.#http = createServer((request, response) => {
      const path = new URL(request.url ?? "/", "http://x").pathname;
      this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
      const fault = this.faults.get(path);
      if (fault !== undefined) {
        response.writeHead(fault, { "content-type": "text/plain", "retry-after": "1" });
        response.end(`fault injected by the test: ${fault}`);
        return;
      }
      void this.#provider!.callback()(request, response);
    });
  }

  async start(keys: JWK[]): Promise<this> {
    await new Promise<void>((resolve) => this.#http.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#http.address() as AddressInfo).port}`;
    this.rotate(keys);
    return this;
  }

  /** Publishes `keys` (the first signs) from now on. */
  rotate(keys: JWK[]): void {
    const provider = new Provider(this.url, {
      clients: [
        {
          client_id: AGENT.id,
          client_secret: AGENT.secret,
          grant_types: ["client_credentials"],
          redirect_uris: [],
          response_types: [],
          scope: "notes:read notes:write",
        },
        {
          client_id: RESOURCE_SERVER.id,
          client_secret: RESOURCE_SERVER.secret,
          grant_types: [],
          redirect_uris: [],
          response_types: [],
        },
      ],
      jwks: { keys },
      clientDefaults: { id_token_signed_response_alg: "ES256" },
      cookies: { keys: ["third-party-idp-test-cookie-key-0123456789"] },
      scopes: ["notes:read", "notes:write"],
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        introspection: { enabled: true },
        revocation: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => RESOURCE,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, resource) => ({
            scope: "notes:read notes:write",
            audience: resource,
            accessTokenTTL: 600,
            accessTokenFormat: resource.endsWith("/opaque") ? "opaque" : "jwt",
            jwt: { sign: { alg: "ES256" } },
          }),
        },
      },
    });
    provider.on("server_error", (_ctx, error) => this.errors.push(error));
    this.#provider = provider;
  }

  /** A client-credentials access token for `resource`, as the agent. */
  async token(resource = RESOURCE, scope = "notes:read"): Promise<string> {
    const response = await fetch(`${this.url}/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${btoa(`${AGENT.id}:${AGENT.secret}`)}`,
      },
      body: new URLSearchParams({ grant_type: "client_credentials", resource, scope }),
    });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`token request failed: ${text}`);
    return (JSON.parse(text) as { access_token: string }).access_token;
  }

  /** Revokes a token at the IdP, as the client it was issued to. */
  async revoke(token: string): Promise<void> {
    const response = await fetch(`${this.url}/token/revocation`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${btoa(`${AGENT.id}:${AGENT.secret}`)}`,
      },
      body: new URLSearchParams({ token }),
    });
    await response.text();
    if (response.status !== 200) throw new Error(`revocation failed: ${response.status}`);
  }

  count(path: string): number {
    return this.hits.get(path) ?? 0;
  }

  async stop(): Promise<void> {
    this.#http.closeAllConnections();
    await new Promise((resolve) => this.#http.close(resolve));
  }
}

/** A loopback URL nothing listens on: connections to it are refused. */
export async function refusingUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}
