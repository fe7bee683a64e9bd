/**
 * The generic OIDC preset (oidcOAuth) against a real OpenID Provider (oidc-provider) on
 * loopback: discovery, ID token with nonce, offline access, and a tool calling the provider's
 * UserInfo as the user, before and after our clock says the upstream token expired.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Provider, { type Account } from "oidc-provider";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type AuthorizationServer, authorizationServer, oidcOAuth } from "../../src/auth/index.ts";
import { McpServer, mcpApp, ToolError } from "../../src/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { manualClock } from "../helpers/clock.ts";
import { CookieJar, formField } from "../helpers/cookies.ts";
import { listen, messagesOf, post } from "../helpers/http.ts";
import { form, pkce } from "../helpers/oauth.ts";

const CLIENT = {
  clientId: "portcullis-oidc",
  clientSecret: "an-oidc-client-secret-0123456789abcdef",
};
const ACCOUNT = { sub: "oidc-bob-42", name: "Bob", email: "bob@idp.test" };
const UPSTREAM_TTL_SECONDS = 600;

let upstreamHttp: Server;
let upstream: string;
let base: string;
let auth: AuthorizationServer;
const clock = manualClock();
const providerErrors: unknown[] = [];

beforeAll(async () => {
  upstreamHttp = createServer();
  await new Promise<void>((resolve) => upstreamHttp.listen(0, "127.0.0.1", resolve));
  upstream = `http://127.0.0.1:${(upstreamHttp.address() as AddressInfo).port}`;
  auth = authorizationServer({
    store: memoryStore(),
    clock: clock.now,
    rateLimits: false,
    login: oidcOAuth({
      issuer: upstream,
      ...CLIENT,
      allowInsecureRequests: true,
      keepTokens: true,
    }),
  });
  const mcp = new McpServer({ name: "oidc-tools", version: "1.0.0" });
  mcp.tool(
    "whoami",
    { description: "The user, as the provider's UserInfo says" },
    async (_a, ctx) => {
      const response = await fetch(`${upstream}/me`, {
        headers: { authorization: `Bearer ${await ctx.upstream.token()}` },
      });
      if (!response.ok) throw new ToolError(`UserInfo answered ${response.status}`);
      return JSON.stringify(await response.json());
    },
  );
  // Another host name than the provider's, so the cookie jar keeps the two apart.
  base = (await listen(mcpApp(mcp, { path: "/mcp", auth }))).replace("127.0.0.1", "localhost");
  const provider = new Provider(upstream, {
    clients: [
      {
        client_id: CLIENT.clientId,
        client_secret: CLIENT.clientSecret,
        redirect_uris: [`${base}/login/oidc/callback`],
        grant_types: ["authorization_code", "refresh_token"],
      },
    ],
    scopes: ["openid", "offline_access"],
    claims: { openid: ["sub"], profile: ["name"], email: ["email"] },
    cookies: { keys: ["oidc-provider-test-cookie-key-0123456789"] },
    pkce: { required: () => true },
    ttl: {
      AccessToken: UPSTREAM_TTL_SECONDS,
      AuthorizationCode: 60,
      Grant: 600,
      IdToken: 600,
      Interaction: 600,
      Session: 600,
      RefreshToken: 3600,
    },
    features: { devInteractions: { enabled: true } },
    findAccount(_ctx, sub): Account | undefined {
      if (sub !== ACCOUNT.sub) return undefined;
      return { accountId: sub, claims: () => ({ ...ACCOUNT }) };
    },
  });
  provider.on("server_error", (_ctx, error) => providerErrors.push(error));
  upstreamHttp.on("request", provider.callback());
});

afterAll(async () => {
  upstreamHttp.closeAllConnections();
  await new Promise((resolve) => upstreamHttp.close(resolve));
  expect(providerErrors).toEqual([]);
});

/** Our authorize, the provider's login and consent, our consent, the code for our tokens. */
async function signIn(): Promise<string> {
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
    resource: `${base}/mcp`,
  });
  let response = await jar.fetch(`${base}/authorize?${query}`);
  let location = new URL(response.headers.get("location")!);
  expect(location.origin).toBe(upstream);
  expect(location.searchParams.get("scope")).toBe("openid profile email offline_access");
  expect(location.searchParams.get("prompt")).toBe("consent");
  expect(location.searchParams.get("nonce")).toBeTruthy();
  for (let step = 0; step < 12 && location.origin !== base; step++) {
    response = await jar.fetch(location.href);
    if (response.status === 200) {
      const html = await response.text();
      const action = /<form[^>]*action="([^"]+)"/.exec(html)![1]!;
      const prompt = formField(html, "prompt")!;
      const fields: Record<string, string> =
        prompt === "login" ? { prompt, login: ACCOUNT.sub, password: "x" } : { prompt };
      response = await jar.fetch(new URL(action, location).href, form(fields));
    }
    location = new URL(response.headers.get("location")!, location);
  }
  expect(location.pathname).toBe("/login/oidc/callback");
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
  const tokens = await fetch(
    `${base}/token`,
    form({
      grant_type: "authorization_code",
      code,
      code_verifier: verifier,
      client_id: clientId,
      redirect_uri: redirectUri,
      resource: `${base}/mcp`,
    }),
  );
  return ((await tokens.json()) as { access_token: string }).access_token;
}

async function kept(): Promise<{ access_token: string; refresh_token?: string }> {
  const sealed = await auth.store.get<string>(`upstream:${ACCOUNT.sub}`);
  return JSON.parse((await (await auth.sealer()).open(sealed!))!);
}

async function whoami(accessToken: string): Promise<string> {
  const response = await post(
    `${base}/mcp`,
    { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } },
    { authorization: `Bearer ${accessToken}`, "mcp-protocol-version": "2025-11-25" },
  );
  expect(response.status).toBe(200);
  const [message] = (await messagesOf(response)) as {
    result: { isError?: boolean; content: unknown };
  }[];
  expect(message!.result.isError, JSON.stringify(message)).toBeFalsy();
  return JSON.stringify(message!.result.content);
}

it("oidcOAuth signs in by discovery with offline access; a tool calls UserInfo as the user, refreshed at expiry", async () => {
  const accessToken = await signIn();
  const first = await kept();
  expect(first.refresh_token).toBeTruthy();
  expect(await whoami(accessToken)).toContain(ACCOUNT.sub);
  clock.advance(UPSTREAM_TTL_SECONDS * 1000);
  expect(await whoami(accessToken)).toContain(ACCOUNT.sub);
  const second = await kept();
  expect(second.access_token).not.toBe(first.access_token);
  // The refreshed token is the provider's own: its UserInfo accepts it.
  const info = await fetch(`${upstream}/me`, {
    headers: { authorization: `Bearer ${second.access_token}` },
  });
  expect(info.status).toBe(200);
});
