import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { decodeJwt } from "jose";
import Provider, { type Account } from "oidc-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDemoServer } from "../../examples/demo/server.ts";
import {
  type AuthorizationServer,
  authorizationServer,
  upstreamOAuth,
} from "../../src/auth/index.ts";
import { mcpApp } from "../../src/index.ts";
import { memoryStore, type Store } from "../../src/storage/index.ts";
import { CookieJar, formField } from "../helpers/cookies.ts";
import { listen, MCP_HEADERS, post } from "../helpers/http.ts";
import { form, pkce } from "../helpers/oauth.ts";

// Upstream federation against a real OpenID Provider (the `oidc-provider` package) on loopback.
// The browser is played by plain HTTP with a cookie jar per host; nothing of ours is mocked.

const UPSTREAM_CLIENT_ID = "portcullis";
const UPSTREAM_CLIENT_SECRET = "a-long-client-secret-shared-with-the-upstream-provider";
const ACCOUNT = { sub: "upstream-alice-7f3a", name: "Upstream Alice", email: "alice@idp.test" };

/** The real memory store, with every change it makes recorded (reads pass straight through). */
function recordingStore(inner: Store): { store: Store; changes: string[] } {
  const changes: string[] = [];
  const store: Store = {
    get: <T>(key: string) => inner.get<T>(key),
    async set(key, value, options) {
      changes.push(`set ${key}`);
      await inner.set(key, value, options);
    },
    async add(key, value, options) {
      const added = await inner.add(key, value, options);
      if (added) changes.push(`add ${key}`);
      return added;
    },
    async delete(key) {
      const deleted = await inner.delete(key);
      if (deleted) changes.push(`delete ${key}`);
      return deleted;
    },
    async take<T>(key: string) {
      const value = await inner.take<T>(key);
      if (value !== undefined) changes.push(`take ${key}`);
      return value;
    },
    async compareAndSet(key, expected, next, options) {
      const swapped = await inner.compareAndSet(key, expected, next, options);
      if (swapped) changes.push(`compareAndSet ${key}`);
      return swapped;
    },
    async increment(key, by, options) {
      changes.push(`increment ${key}`);
      return inner.increment(key, by, options);
    },
    async addMember(key, member, options) {
      changes.push(`addMember ${key}`);
      await inner.addMember(key, member, options);
    },
    async removeMember(key, member) {
      const removed = await inner.removeMember(key, member);
      if (removed) changes.push(`removeMember ${key}`);
      return removed;
    },
    members: (key) => inner.members(key),
  };
  return { store, changes };
}

let upstreamHttp: Server;
let upstream: string;
let provider: Provider;
const providerErrors: unknown[] = [];
let base: string;
let auth: AuthorizationServer;
let inner: Store;
let changes: string[];

beforeAll(async () => {
  // The provider needs our callback URL and we need its issuer: open its port first.
  upstreamHttp = createServer();
  await new Promise<void>((resolve) => upstreamHttp.listen(0, "127.0.0.1", resolve));
  upstream = `http://127.0.0.1:${(upstreamHttp.address() as AddressInfo).port}`;

  inner = memoryStore();
  const recorded = recordingStore(inner);
  changes = recorded.changes;
  auth = authorizationServer({
    store: recorded.store,
    login: upstreamOAuth({
      issuer: upstream,
      clientId: UPSTREAM_CLIENT_ID,
      clientSecret: UPSTREAM_CLIENT_SECRET,
      allowInsecureRequests: true,
      keepTokens: true,
    }),
    scopes: ["notes:read", "notes:write"],
  });
  base = (await listen(mcpApp(createDemoServer(), { path: "/mcp", sessions: true, auth }))).replace(
    "127.0.0.1",
    "localhost",
  );

  provider = new Provider(upstream, {
    clients: [
      {
        // Registered as a typical confidential web client: every setting left at its default.
        client_id: UPSTREAM_CLIENT_ID,
        client_secret: UPSTREAM_CLIENT_SECRET,
        redirect_uris: [`${base}/login/upstream/callback`],
      },
    ],
    claims: { openid: ["sub"], profile: ["name"], email: ["email"] },
    cookies: { keys: ["oidc-provider-test-cookie-key-0123456789"] },
    pkce: { required: () => true },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      Grant: 600,
      IdToken: 600,
      Interaction: 600,
      Session: 600,
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

/** Registers a public MCP client at our authorization server. */
async function registerClient(): Promise<{ clientId: string; redirectUri: string }> {
  const redirectUri = "http://127.0.0.1:9/callback";
  const response = await fetch(`${base}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: "none",
      client_name: "Federation Client",
    }),
  });
  expect(response.status).toBe(201);
  const { client_id: clientId } = (await response.json()) as { client_id: string };
  return { clientId, redirectUri };
}

/**
 * Starts an authorization request at our server and signs in at the upstream provider (its
 * dev login and consent forms). Returns the upstream's redirect to our callback, unvisited.
 */
async function signInUpstream(
  jar: CookieJar,
  client: { clientId: string; redirectUri: string },
  challenge: string,
): Promise<{ callback: URL; prompts: string[] }> {
  const query = new URLSearchParams({
    response_type: "code",
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state: "client-state",
    scope: "notes:read notes:write",
    resource: `${base}/mcp`,
  });
  let response = await jar.fetch(`${base}/authorize?${query}`);
  expect(response.status).toBe(303);
  let location = new URL(response.headers.get("location")!);
  expect(location.origin).toBe(upstream);
  expect(location.searchParams.get("client_id")).toBe(UPSTREAM_CLIENT_ID);
  expect(location.searchParams.get("redirect_uri")).toBe(`${base}/login/upstream/callback`);
  expect(location.searchParams.get("code_challenge_method")).toBe("S256");
  expect(location.searchParams.get("scope")).toBe("openid profile email");
  expect(location.searchParams.get("state")).toBeTruthy();
  expect(location.searchParams.get("nonce")).toBeTruthy();

  const prompts: string[] = [];
  for (let step = 0; step < 12; step++) {
    if (location.origin === base) {
      expect(location.pathname).toBe("/login/upstream/callback");
      return { callback: location, prompts };
    }
    response = await jar.fetch(location.href);
    if (response.status === 200) {
      const html = await response.text();
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      const prompt = formField(html, "prompt");
      expect(action, html).toBeTruthy();
      expect(prompt === "login" || prompt === "consent", html).toBe(true);
      prompts.push(prompt!);
      const fields: Record<string, string> =
        prompt === "login"
          ? { prompt, login: ACCOUNT.sub, password: "anything" }
          : { prompt: prompt! };
      response = await jar.fetch(new URL(action!, location).href, form(fields));
    }
    expect([302, 303], `${location.href}: ${response.status}`).toContain(response.status);
    location = new URL(response.headers.get("location")!, location);
  }
  throw new Error("The upstream provider never sent the browser back to our callback");
}

describe("upstream federation against a real OpenID provider (oidc-provider)", () => {
  it("signs the user in upstream; the MCP client gets only our token, for the upstream subject", async () => {
    const client = await registerClient();
    const { verifier, challenge } = await pkce();
    const jar = new CookieJar();
    const { callback, prompts } = await signInUpstream(jar, client, challenge);
    expect(prompts).toEqual(["login", "consent"]);
    expect(callback.searchParams.get("iss")).toBe(upstream);

    let response = await jar.fetch(callback.href);
    expect(response.status).toBe(303);
    const resume = new URL(response.headers.get("location")!, base);
    expect(resume.pathname).toBe("/authorize");
    expect(jar.names("localhost")).toContain("__Host-portcullis-login");

    // Our own consent page, for the user the upstream provider vouched for.
    response = await jar.fetch(resume.href);
    expect(response.status).toBe(200);
    const consent = await response.text();
    expect(consent).toContain("Federation Client");
    expect(consent).toContain(ACCOUNT.name);
    response = await jar.fetch(
      `${base}/consent`,
      form({
        request_id: formField(consent, "request_id")!,
        csrf: formField(consent, "csrf")!,
        decision: "allow",
      }),
    );
    expect(response.status).toBe(303);
    const back = new URL(response.headers.get("location")!);
    expect(`${back.origin}${back.pathname}`).toBe(client.redirectUri);
    expect(back.searchParams.get("iss")).toBe(base);
    expect(back.searchParams.get("state")).toBe("client-state");
    const code = back.searchParams.get("code")!;
    expect(code).toBeTruthy();

    // The MCP client's side: the code for our tokens.
    const tokenResponse = await fetch(
      `${base}/token`,
      form({
        grant_type: "authorization_code",
        code,
        code_verifier: verifier,
        client_id: client.clientId,
        redirect_uri: client.redirectUri,
        resource: `${base}/mcp`,
      }),
    );
    expect(tokenResponse.status).toBe(200);
    const tokenText = await tokenResponse.text();
    const tokens = JSON.parse(tokenText) as Record<string, unknown>;
    for (const key of Object.keys(tokens)) {
      expect(["access_token", "token_type", "expires_in", "refresh_token", "scope"]).toContain(key);
    }
    const accessToken = tokens.access_token as string;
    const claims = decodeJwt(accessToken);
    expect(claims.sub).toBe(ACCOUNT.sub);
    expect(claims.iss).toBe(base);
    expect(claims.aud).toBe(`${base}/mcp`);
    expect(claims.scope).toBe("notes:read notes:write");

    // The upstream tokens are kept sealed under upstream:{subject}.
    const sealed = await inner.get<string>(`upstream:${ACCOUNT.sub}`);
    expect(typeof sealed).toBe("string");
    const opened = await (await auth.sealer()).open(sealed!);
    expect(opened).toBeDefined();
    const upstreamTokens = JSON.parse(opened!) as { access_token: string; id_token: string };
    expect(upstreamTokens.access_token.length).toBeGreaterThan(20);
    expect(upstreamTokens.id_token.split(".")).toHaveLength(3);
    for (const secret of [upstreamTokens.access_token, upstreamTokens.id_token]) {
      expect(sealed).not.toContain(secret);
      expect(tokenText).not.toContain(secret);
      expect(back.href).not.toContain(secret);
    }
    expect(sealed).not.toContain(ACCOUNT.email);
    // They are the provider's real tokens: its userinfo endpoint accepts the access token...
    const userinfo = await fetch(`${upstream}/me`, {
      headers: { authorization: `Bearer ${upstreamTokens.access_token}` },
    });
    expect(userinfo.status).toBe(200);
    expect(await userinfo.json()).toMatchObject({ sub: ACCOUNT.sub });
    // ...and our MCP endpoint does not (no token passthrough).
    const passthrough = await post(
      `${base}/mcp`,
      { jsonrpc: "2.0", id: 1, method: "ping" },
      { authorization: `Bearer ${upstreamTokens.access_token}`, ...MCP_HEADERS },
    );
    expect(passthrough.status).toBe(401);

    // The MCP client calls a tool that needs notes:write with our token.
    const mcp = new Client({ name: "federation-test", version: "1.0.0" });
    await mcp.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${accessToken}` } },
      }),
    );
    try {
      const result = await mcp.callTool({ name: "add_note", arguments: { text: "federated" } });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toEqual({ id: "1" });
    } finally {
      await mcp.close();
    }
  });

  it("refuses a forged, replayed or unbound upstream state on our callback and issues nothing", async () => {
    const client = await registerClient();
    const { challenge } = await pkce();
    const jar = new CookieJar();
    const { callback } = await signInUpstream(jar, client, challenge);

    const refused = async (who: CookieJar, url: URL) => {
      changes.length = 0;
      const response = await who.fetch(url.href);
      expect(response.status).toBe(400);
      expect(response.headers.get("location")).toBeNull();
      expect(response.headers.getSetCookie()).toEqual([]);
      expect(await response.text()).not.toMatch(/code=/);
      // Only the login routes' rate-limit counter moved (issue 10 point 7).
      expect(changes.filter((change) => !change.startsWith("increment as:rl:login:"))).toEqual([]);
    };

    // A state we never issued, with the genuine upstream code.
    const forged = new URL(callback);
    forged.searchParams.set("state", "forged-state-value-forged-state-value-0000");
    await refused(jar, forged);
    // The genuine response, delivered to another browser (login CSRF): not bound to it.
    const elsewhere = new CookieJar();
    await refused(elsewhere, callback);
    expect(elsewhere.names("localhost")).toEqual([]);

    // The genuine response in the browser that started the sign-in works once...
    changes.length = 0;
    const accepted = await jar.fetch(callback.href);
    expect(accepted.status).toBe(303);
    expect(changes.some((change) => change.startsWith("take as:upstream-state:"))).toBe(true);
    // ...and never again.
    await refused(jar, callback);
  });
});
