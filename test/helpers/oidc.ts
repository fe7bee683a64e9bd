/**
 * A real OpenID Provider (oidc-provider) on loopback, and a sign-in walked through it the way
 * a browser would: our /authorize, the provider's login and consent, our callback, our
 * consent, then the code for our tokens.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Provider, { type Account } from "oidc-provider";
import { expect } from "vitest";
import { CookieJar, formField } from "./cookies.ts";
import { form, pkce, redeemCode } from "./oauth.ts";

export interface OidcAccount {
  sub: string;
  name?: string;
  email?: string;
}

export interface OidcProviderHandle {
  /** The provider's issuer (http://127.0.0.1:<port>). */
  url: string;
  /** Starts answering (or answers anew), with one client whose redirect URIs are known only now. */
  configure(client: { clientId: string; clientSecret: string; redirectUris: string[] }): void;
  /** Errors the provider reported while answering. */
  errors: unknown[];
  close(): Promise<void>;
}

/** Binds the provider's port first: our server's callback URL must be known to configure it. */
export async function startOidcProvider(
  account: OidcAccount,
  ttl: { accessTokenSeconds?: number } = {},
): Promise<OidcProviderHandle> {
  const http: Server = createServer();
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const errors: unknown[] = [];
  // configure() may run again (more redirect URIs): the newest provider answers.
  let answer: ReturnType<Provider["callback"]> | undefined;
  http.on("request", (request, response) => {
    if (answer) return answer(request, response);
    response.statusCode = 503;
    response.end();
  });
  return {
    url,
    errors,
    configure({ clientId, clientSecret, redirectUris }) {
      const provider = new Provider(url, {
        clients: [
          {
            client_id: clientId,
            client_secret: clientSecret,
            redirect_uris: redirectUris,
            grant_types: ["authorization_code", "refresh_token"],
          },
        ],
        scopes: ["openid", "offline_access"],
        claims: { openid: ["sub"], profile: ["name"], email: ["email"] },
        cookies: { keys: ["oidc-provider-test-cookie-key-0123456789"] },
        pkce: { required: () => true },
        ttl: {
          AccessToken: ttl.accessTokenSeconds ?? 600,
          AuthorizationCode: 60,
          Grant: 600,
          IdToken: 600,
          Interaction: 600,
          Session: 600,
          RefreshToken: 3600,
        },
        features: { devInteractions: { enabled: true } },
        findAccount(_ctx, sub): Account | undefined {
          if (sub !== account.sub) return undefined;
          return { accountId: sub, claims: () => ({ ...account }) };
        },
      });
      provider.on("server_error", (_ctx, error) => errors.push(error));
      answer = provider.callback();
    },
    async close() {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

export interface ProviderSignIn {
  /** Our server's base URL (its issuer): it must not share a host name with the provider. */
  base: string;
  provider: string;
  account: OidcAccount;
  /** The resource to ask for; default `${base}/mcp`. */
  resource?: string;
  /** Sees the redirect to the provider's authorization endpoint. */
  onProviderRedirect?: (location: URL) => void;
}

/** Registers a public client at `base` and signs in through the provider; the access token. */
export async function signInThroughProvider(options: ProviderSignIn): Promise<string> {
  const { base, provider, account } = options;
  const resource = options.resource ?? `${base}/mcp`;
  const jar = new CookieJar();
  const redirectUri = "http://127.0.0.1:9/callback";
  const registered = await fetch(`${base}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ redirect_uris: [redirectUri], token_endpoint_auth_method: "none" }),
  });
  const { client_id: clientId } = (await registered.json()) as { client_id: string };
  const { verifier, challenge } = await pkce();
  const query = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: "S256",
    resource,
  });
  let response = await jar.fetch(`${base}/authorize?${query}`);
  let location = new URL(response.headers.get("location")!);
  expect(location.origin).toBe(provider);
  options.onProviderRedirect?.(location);
  const origin = new URL(base).origin;
  for (let step = 0; step < 12 && location.origin !== origin; step++) {
    response = await jar.fetch(location.href);
    if (response.status === 200) {
      const html = await response.text();
      const action = /<form[^>]*action="([^"]+)"/.exec(html)![1]!;
      const prompt = formField(html, "prompt")!;
      const fields: Record<string, string> =
        prompt === "login" ? { prompt, login: account.sub, password: "x" } : { prompt };
      response = await jar.fetch(new URL(action, location).href, form(fields));
    }
    location = new URL(response.headers.get("location")!, location);
  }
  expect(location.pathname).toMatch(/^\/login\/[a-z]+\/callback$/);
  response = await jar.fetch(location.href);
  expect(response.status).toBe(303);
  response = await jar.fetch(new URL(response.headers.get("location")!, base).href);
  const consent = await response.text();
  response = await jar.fetch(
    `${base}/consent`,
    form({
      request_id: formField(consent, "request_id")!,
      csrf: formField(consent, "csrf")!,
      decision: "allow",
    }),
  );
  const code = new URL(response.headers.get("location")!).searchParams.get("code")!;
  return redeemCode(base, { clientId, code, verifier, redirectUri }, resource);
}
