/**
 * The OAuth authorizer against our own protected demo: discovery, registration, the
 * browser-less authorization code flow through dev login and consent, refresh, step-up,
 * client_credentials, and the token store.
 */
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createDemoApp, createDemoServer } from "../../../examples/demo/server.ts";
import { authorizationServer, devLogin } from "../../../src/auth/index.ts";
import {
  AuthorizationError,
  type IssuerRecord,
  McpClient,
  memoryTokenStore,
  OAuthAuthorizer,
  type TokenStore,
} from "../../../src/client/index.ts";
import { mcpApp } from "../../../src/index.ts";
import { memoryStore } from "../../../src/storage/index.ts";
import {
  devLoginRedirect,
  recordingFetch,
  type Seen,
  serveOnLocalhost,
  tokenRequests,
} from "./support.ts";

const open: McpClient[] = [];

/** A memory store that also keeps every record it was given, in order. */
function historyStore(): { store: TokenStore; saved: IssuerRecord[] } {
  const inner = memoryTokenStore();
  const saved: IssuerRecord[] = [];
  return {
    saved,
    store: {
      get: (issuer) => inner.get(issuer),
      async set(issuer, record) {
        if (record) saved.push(structuredClone(record));
        await inner.set(issuer, record);
      },
    },
  };
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function connect(
  url: string,
  authorizer: OAuthAuthorizer,
  fetch?: typeof globalThis.fetch,
): Promise<McpClient> {
  const client = new McpClient({ name: "oauth-test", version: "1.0.0" });
  open.push(client);
  await client.connect(url, { authorizer, ...(fetch && { fetch }) });
  return client;
}

describe("the full flow against our protected demo", () => {
  it("discovers, registers, signs in through the browser pages and calls a scoped tool", async () => {
    const base = await serveOnLocalhost(createDemoApp());
    const mcp = `${base}/mcp`;
    const seen: Seen[] = [];
    const tokens = memoryTokenStore();
    const { redirect, authorizations } = devLoginRedirect(base);
    const authorizer = new OAuthAuthorizer({ redirect, tokens, fetch: recordingFetch(seen) });
    const mcpSeen: Seen[] = [];
    const client = await connect(mcp, authorizer, recordingFetch(mcpSeen));

    // 401 → RFC 9728 (path form, no detour to the root) → RFC 8414 → RFC 7591 → token.
    expect(seen.map((s) => `${s.method} ${s.url.pathname} ${s.status}`)).toEqual([
      "GET /.well-known/oauth-protected-resource/mcp 200",
      "GET /.well-known/oauth-authorization-server 200",
      "POST /register 201",
      "POST /token 200",
    ]);
    const registration = seen[2]!.json as Record<string, unknown>;
    expect(registration).toMatchObject({
      redirect_uris: ["http://127.0.0.1/callback"],
      grant_types: ["authorization_code", "refresh_token"],
      token_endpoint_auth_method: "none",
      application_type: "native",
    });

    expect(authorizations).toHaveLength(1);
    const request = authorizations[0]!;
    expect(`${request.origin}${request.pathname}`).toBe(`${base}/authorize`);
    expect(request.searchParams.get("response_type")).toBe("code");
    expect(request.searchParams.get("code_challenge_method")).toBe("S256");
    expect(request.searchParams.get("code_challenge")).toMatch(/^[\w-]{43}$/);
    expect(request.searchParams.get("state")).toBeTruthy();
    // The scope the challenge named, and the resource exactly as the metadata published it.
    expect(request.searchParams.get("scope")).toBe("notes:read notes:write");
    expect(request.searchParams.get("resource")).toBe(mcp);

    const exchange = seen[3]!.form!;
    expect(exchange.get("grant_type")).toBe("authorization_code");
    expect(exchange.get("resource")).toBe(mcp);
    expect(exchange.get("code_verifier")).toMatch(/^[\w-]{43,128}$/);
    expect(exchange.get("redirect_uri")).toBe("http://127.0.0.1/callback");

    const added = await client.callTool("add_note", { text: "from portcullis" });
    expect(added.structuredContent).toEqual({ id: "1" });
    expect(authorizer.session).toEqual({
      issuer: base,
      resource: mcp,
      scope: "notes:read notes:write",
    });

    // Kept by issuer: the registration and, under the resource, the tokens.
    const record = await tokens.get(base);
    expect(record?.client).toMatchObject({ source: "registration", authMethod: "none" });
    const stored = record?.tokens?.[mcp];
    expect(stored?.refreshToken).toBeTruthy();
    // Every authorized request to the server carried exactly that token, and only the server got it.
    const bearers = mcpSeen.map((s) => s.authorization).filter(Boolean);
    expect(bearers.length).toBeGreaterThan(0);
    expect(new Set(bearers)).toEqual(new Set([`Bearer ${stored?.accessToken}`]));
    expect(seen.every((s) => !s.authorization?.startsWith("Bearer"))).toBe(true);
  });

  it("a new authorizer with the same store uses the stored tokens: no second sign-in", async () => {
    const base = await serveOnLocalhost(createDemoApp());
    const tokens = memoryTokenStore();
    const first = devLoginRedirect(base);
    const client = await connect(
      `${base}/mcp`,
      new OAuthAuthorizer({ redirect: first.redirect, tokens }),
    );
    await client.callTool("add_note", { text: "one" });
    expect(first.authorizations).toHaveLength(1);

    const second = devLoginRedirect(base);
    const seen: Seen[] = [];
    const again = await connect(
      `${base}/mcp`,
      new OAuthAuthorizer({ redirect: second.redirect, tokens, fetch: recordingFetch(seen) }),
    );
    const listed = await again.callTool("list_notes", {});
    expect(listed.content).toEqual([{ type: "text", text: "1: one" }]);
    expect(second.authorizations).toHaveLength(0);
    // No registration, no token request, and no discovery either: the process's discovery
    // cache knows the server (test/client/oauth/cheap.test.ts counts the requests).
    expect(seen).toEqual([]);
  });

  it("refreshes before the access token expires, binding the new one to the resource", async () => {
    const app = mcpApp(createDemoServer(), {
      auth: authorizationServer({
        store: memoryStore(),
        login: devLogin(),
        lifetimes: { accessToken: 30 },
      }),
    });
    const base = await serveOnLocalhost(app);
    const seen: Seen[] = [];
    const { store: tokens, saved } = historyStore();
    const { redirect, authorizations } = devLoginRedirect(base);
    // Refreshing 60 s early makes a 30 s token due at once: no waiting in the test.
    const authorizer = new OAuthAuthorizer({
      redirect,
      tokens,
      fetch: recordingFetch(seen),
      refreshSkewSeconds: 60,
    });
    const client = await connect(`${base}/mcp`, authorizer);
    const first = saved.find((record) => record.tokens)?.tokens?.[`${base}/mcp`];
    expect(tokenRequests(seen)[0]).toBe("authorization_code");

    expect((await client.callTool("add_note", { text: "a" })).structuredContent).toEqual({
      id: "1",
    });
    const refreshes = seen.filter((s) => s.form?.get("grant_type") === "refresh_token");
    expect(refreshes.length).toBeGreaterThan(0);
    expect(refreshes[0]!.form?.get("refresh_token")).toBe(first?.refreshToken);
    expect(refreshes[0]!.form?.get("resource")).toBe(`${base}/mcp`);
    const latest = (await tokens.get(base))?.tokens?.[`${base}/mcp`];
    expect(latest?.accessToken).not.toBe(first?.accessToken);
    expect(latest?.refreshToken).not.toBe(first?.refreshToken);
    expect(authorizations).toHaveLength(1);
  });

  it("refreshes when the server refuses the stored access token (401)", async () => {
    const base = await serveOnLocalhost(createDemoApp());
    const mcp = `${base}/mcp`;
    const tokens = memoryTokenStore();
    const first = devLoginRedirect(base);
    await connect(mcp, new OAuthAuthorizer({ redirect: first.redirect, tokens }));
    // The access token goes bad (revoked, keys rotated…); the refresh token still works.
    const record = (await tokens.get(base))!;
    const good = record.tokens![mcp]!;
    record.tokens![mcp] = { ...good, accessToken: "garbage" };
    await tokens.set(base, record);

    const seen: Seen[] = [];
    const mcpSeen: Seen[] = [];
    const second = devLoginRedirect(base);
    const client = await connect(
      mcp,
      new OAuthAuthorizer({ redirect: second.redirect, tokens, fetch: recordingFetch(seen) }),
      recordingFetch(mcpSeen),
    );
    expect((await client.callTool("list_notes", {})).content).toEqual([
      { type: "text", text: "(no notes yet)" },
    ]);
    expect(tokenRequests(seen)).toEqual(["refresh_token"]);
    expect(second.authorizations).toHaveLength(0);
    expect(mcpSeen.filter((s) => s.authorization === "Bearer garbage")).toHaveLength(1);
    expect(mcpSeen.find((s) => s.authorization === "Bearer garbage")?.status).toBe(401);
    const refreshed = (await tokens.get(base))?.tokens?.[mcp];
    expect(refreshed?.accessToken).not.toBe("garbage");
  });

  it("steps up on 403 insufficient_scope with the union of scopes", async () => {
    const base = await serveOnLocalhost(createDemoApp());
    let narrow: string | undefined = "notes:read";
    const { redirect, authorizations } = devLoginRedirect(base, { narrowScope: () => narrow });
    const tokens = memoryTokenStore();
    const authorizer = new OAuthAuthorizer({ redirect, tokens });
    const client = await connect(`${base}/mcp`, authorizer);
    narrow = undefined;
    expect(authorizer.session?.scope).toBe("notes:read");
    expect((await client.listTools()).tools.map((tool) => tool.name)).toEqual(["list_notes"]);

    const added = await client.callTool("add_note", { text: "needs write" });
    expect(added.structuredContent).toEqual({ id: "1" });
    expect(authorizations).toHaveLength(2);
    const scopes = authorizations[1]!.searchParams.get("scope")!.split(" ").sort();
    expect(scopes).toEqual(["notes:read", "notes:write"]);
    expect(authorizer.session?.scope?.split(" ").sort()).toEqual(["notes:read", "notes:write"]);
  });

  it("stops stepping up after maxStepUps authorizations for the same scopes", async () => {
    const base = await serveOnLocalhost(createDemoApp());
    // The person never grants write, however often the client asks.
    const { redirect, authorizations } = devLoginRedirect(base, {
      narrowScope: () => "notes:read",
    });
    const authorizer = new OAuthAuthorizer({ redirect, maxStepUps: 2 });
    const client = await connect(`${base}/mcp`, authorizer);
    const failure = await client.callTool("add_note", { text: "never" }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(AuthorizationError);
    expect((failure as AuthorizationError).code).toBe("ERR_STEP_UP_LIMIT");
    expect(authorizations).toHaveLength(2);
  });

  it("a machine client gets tokens with client_credentials, no browser", async () => {
    const mcp = createDemoServer();
    // No user stands behind a job: it may use only what says so.
    mcp.tool(
      "archive_notes",
      { scopes: ["notes:write"], userRequired: false, output: z.object({ archived: z.number() }) },
      () => ({ archived: 0 }),
    );
    const app = mcpApp(mcp, {
      auth: authorizationServer({
        store: memoryStore(),
        login: devLogin(),
        clients: [
          {
            client_id: "nightly-job",
            client_secret: "a-secret-of-sufficient-length-0123456789",
            grant_types: ["client_credentials"],
            redirect_uris: [],
            scope: "notes:write",
          },
        ],
      }),
    });
    const base = await serveOnLocalhost(app);
    const seen: Seen[] = [];
    const tokens = memoryTokenStore();
    const authorizer = new OAuthAuthorizer({
      client: { clientId: "nightly-job", clientSecret: "a-secret-of-sufficient-length-0123456789" },
      clientCredentials: true,
      tokens,
      fetch: recordingFetch(seen),
    });
    const client = await connect(`${base}/mcp`, authorizer);
    expect((await client.callTool("archive_notes", {})).structuredContent).toEqual({
      archived: 0,
    });
    const token = seen.find((s) => s.url.pathname === "/token")!;
    expect(token.form?.get("grant_type")).toBe("client_credentials");
    expect(token.form?.get("resource")).toBe(`${base}/mcp`);
    // No scopes configured on the server: the challenge names what its tools need.
    expect(token.form?.get("scope")).toBe("notes:write");
    // client_secret_basic: each part form-encoded (RFC 6749 §2.3.1), then base64.
    const basic = atob(token.authorization!.replace(/^Basic /, ""))
      .split(":")
      .map(decodeURIComponent);
    expect(basic).toEqual(["nightly-job", "a-secret-of-sufficient-length-0123456789"]);
    expect(seen.some((s) => s.url.pathname === "/register")).toBe(false);
    // A pre-registered client's secret is configuration, not something to keep.
    expect((await tokens.get(base))?.client).toBeUndefined();
    expect((await tokens.get(base))?.tokens?.[`${base}/mcp`]?.scope).toBe("notes:write");
    // What needs a user stays out of its reach.
    const refused = await client
      .callTool("add_note", { text: "by a robot" })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AuthorizationError);
  });

  it("a machine client with the wrong secret fails with the server's OAuth error", async () => {
    const app = mcpApp(createDemoServer(), {
      auth: authorizationServer({
        store: memoryStore(),
        login: devLogin(),
        clients: [
          {
            client_id: "nightly-job",
            client_secret: "a-secret-of-sufficient-length-0123456789",
            grant_types: ["client_credentials"],
            redirect_uris: [],
          },
        ],
      }),
    });
    const base = await serveOnLocalhost(app);
    const authorizer = new OAuthAuthorizer({
      client: { clientId: "nightly-job", clientSecret: "wrong" },
      clientCredentials: true,
    });
    const client = new McpClient({ name: "oauth-test", version: "1.0.0" });
    const failure = await client
      .connect(`${base}/mcp`, { authorizer })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AuthorizationError);
    expect(failure).toMatchObject({
      code: "ERR_TOKEN_REQUEST_FAILED",
      oauthError: "invalid_client",
    });
  });

  it("without a redirect handler, a server that needs a person fails with ERR_NO_REDIRECT", async () => {
    const base = await serveOnLocalhost(createDemoApp());
    const client = new McpClient({ name: "oauth-test", version: "1.0.0" });
    const failure = await client
      .connect(`${base}/mcp`, { authorizer: new OAuthAuthorizer() })
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ name: "AuthorizationError", code: "ERR_NO_REDIRECT" });
  });
});

describe("the token store, keyed by issuer", () => {
  async function signIn(base: string, tokens: TokenStore): Promise<string> {
    const { redirect } = devLoginRedirect(base);
    await connect(`${base}/mcp`, new OAuthAuthorizer({ redirect, tokens }));
    const token = (await tokens.get(base))?.tokens?.[`${base}/mcp`]?.accessToken;
    expect(token).toBeTruthy();
    return token!;
  }

  it("keeps each authorization server's registration and tokens apart", async () => {
    const a = await serveOnLocalhost(createDemoApp());
    const b = await serveOnLocalhost(createDemoApp());
    const tokens = memoryTokenStore();
    const tokenA = await signIn(a, tokens);
    const tokenB = await signIn(b, tokens);
    expect(tokenA).not.toBe(tokenB);
    const recordA = await tokens.get(a);
    const recordB = await tokens.get(b);
    expect(Object.keys(recordA?.tokens ?? {})).toEqual([`${a}/mcp`]);
    expect(Object.keys(recordB?.tokens ?? {})).toEqual([`${b}/mcp`]);
    expect(recordA?.client?.clientId).not.toBe(recordB?.client?.clientId);
  });

  it("never sends one server's token to another, even from a shared store", async () => {
    const a = await serveOnLocalhost(createDemoApp());
    const b = await serveOnLocalhost(createDemoApp());
    const tokens = memoryTokenStore();
    const tokenA = await signIn(a, tokens);

    const seenByB: Seen[] = [];
    const { redirect, authorizations } = devLoginRedirect(b);
    await connect(`${b}/mcp`, new OAuthAuthorizer({ redirect, tokens }), recordingFetch(seenByB));
    expect(authorizations).toHaveLength(1);
    expect(seenByB.some((s) => s.authorization === `Bearer ${tokenA}`)).toBe(false);
  });

  it("withholds the token from any URL other than its server when asked with one", async () => {
    const base = await serveOnLocalhost(createDemoApp());
    const { redirect } = devLoginRedirect(base);
    const authorizer = new OAuthAuthorizer({ redirect });
    await connect(`${base}/mcp`, authorizer);
    expect((await authorizer.headers(`${base}/mcp`)).authorization).toMatch(/^Bearer /);
    expect(await authorizer.headers("https://elsewhere.example/mcp")).toEqual({});
    expect(await authorizer.headers(`${base}/other`)).toEqual({});
  });

  it("refuses a challenge from a server other than the one it serves", async () => {
    const a = await serveOnLocalhost(createDemoApp());
    const b = await serveOnLocalhost(createDemoApp());
    const { redirect } = devLoginRedirect(a);
    const authorizer = new OAuthAuthorizer({ redirect, serverUrl: `${a}/mcp` });
    const client = new McpClient({ name: "oauth-test", version: "1.0.0" });
    const failure = await client
      .connect(`${b}/mcp`, { authorizer })
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: "ERR_SERVER_MISMATCH" });
  });
});
