/**
 * The generic OIDC preset (oidcOAuth) against a real OpenID Provider (oidc-provider) on
 * loopback: discovery, ID token with nonce, offline access, and a tool calling the provider's
 * UserInfo as the user, before and after our clock says the upstream token expired.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type AuthorizationServer, authorizationServer, oidcOAuth } from "../../src/auth/index.ts";
import { McpServer, mcpApp, ToolError } from "../../src/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { manualClock } from "../helpers/clock.ts";
import { listen, messagesOf, post } from "../helpers/http.ts";
import {
  type OidcProviderHandle,
  signInThroughProvider,
  startOidcProvider,
} from "../helpers/oidc.ts";

const CLIENT = {
  clientId: "portcullis-oidc",
  clientSecret: "an-oidc-client-secret-0123456789abcdef",
};
const ACCOUNT = { sub: "oidc-bob-42", name: "Bob", email: "bob@idp.test" };
const UPSTREAM_TTL_SECONDS = 600;

let provider: OidcProviderHandle;
let upstream: string;
let base: string;
let auth: AuthorizationServer;
const clock = manualClock();

beforeAll(async () => {
  provider = await startOidcProvider(ACCOUNT, { accessTokenSeconds: UPSTREAM_TTL_SECONDS });
  upstream = provider.url;
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
  provider.configure({ ...CLIENT, redirectUris: [`${base}/login/oidc/callback`] });
});

afterAll(async () => {
  await provider.close();
  expect(provider.errors).toEqual([]);
});

/** Our authorize, the provider's login and consent, our consent, the code for our tokens. */
function signIn(): Promise<string> {
  return signInThroughProvider({
    base,
    provider: upstream,
    account: ACCOUNT,
    onProviderRedirect(location) {
      expect(location.searchParams.get("scope")).toBe("openid profile email offline_access");
      expect(location.searchParams.get("prompt")).toBe("consent");
      expect(location.searchParams.get("nonce")).toBeTruthy();
    },
  });
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
