import { runInDurableObject, SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import { createDemoApp } from "../../examples/demo/server.ts";
import type { DemoEnv } from "../../examples/workers/index.ts";
import type { PortcullisStore } from "../../src/cloudflare/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { authorizeWithDevLogin, form } from "../helpers/oauth.ts";

// The Worker under test: examples/workers/index.ts, in this same workerd instance.
const base = "http://localhost";
const mcp = `${base}/mcp`;
const send = (input: string, init?: RequestInit) => SELF.fetch(input, init);
const bindings = env as unknown as DemoEnv;

const MCP_HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  "mcp-protocol-version": "2025-11-25",
};

interface TokenResponse {
  access_token: string;
  refresh_token: string;
  scope: string;
  token_type: string;
}

async function rpc(body: unknown, token?: string): Promise<Response> {
  return SELF.fetch(mcp, {
    method: "POST",
    headers: { ...MCP_HEADERS, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

/** The JSON-RPC message of a reply that came as JSON or as one SSE event. */
async function message(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  if (!response.headers.get("content-type")?.includes("text/event-stream")) return JSON.parse(text);
  const data = text
    .split("\n")
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(5).trim())
    .find((line) => line.startsWith("{") && line.includes('"id"'));
  return JSON.parse(data!);
}

async function exchange(values: Record<string, string>): Promise<Response> {
  return SELF.fetch(`${base}/token`, form(values));
}

async function codeGrant(scope = "notes:read notes:write") {
  const authorized = await authorizeWithDevLogin(base, { fetch: send, scope, resource: mcp });
  const values = {
    grant_type: "authorization_code",
    code: authorized.code,
    code_verifier: authorized.verifier,
    client_id: authorized.clientId,
    redirect_uri: authorized.redirectUri,
    resource: mcp,
  };
  return { ...authorized, values };
}

describe("the demo Worker in workerd", () => {
  it("runs inside workerd", async () => {
    expect(navigator.userAgent).toBe("Cloudflare-Workers");
  });

  it("publishes resource and authorization server metadata, signing with SIGNING_KEY", async () => {
    const challenge = await rpc({ jsonrpc: "2.0", id: 1, method: "ping" });
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get("www-authenticate")).toContain(
      `resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`,
    );
    const prm = (await (
      await SELF.fetch(`${base}/.well-known/oauth-protected-resource/mcp`)
    ).json()) as { resource: string; authorization_servers: string[] };
    expect(prm.resource).toBe(mcp);
    expect(prm.authorization_servers).toEqual([base]);
    const metadata = (await (
      await SELF.fetch(`${base}/.well-known/oauth-authorization-server`)
    ).json()) as Record<string, unknown>;
    expect(metadata.issuer).toBe(base);
    expect(metadata.token_endpoint).toBe(`${base}/token`);
    const jwks = (await (await SELF.fetch(`${base}/.well-known/jwks.json`)).json()) as {
      keys: { kid: string; d?: string }[];
    };
    expect(jwks.keys.map((key) => key.kid)).toEqual(["workers-test-key"]);
    expect(jwks.keys[0]!.d).toBeUndefined();
  });

  it("registers, logs in, consents, exchanges, calls a tool, refreshes and revokes", async () => {
    const { clientId, values } = await codeGrant();
    const tokenResponse = await exchange(values);
    expect(tokenResponse.status).toBe(200);
    const tokens = (await tokenResponse.json()) as TokenResponse;
    expect(tokens.scope).toBe("notes:read notes:write");
    expect(decodeProtectedHeader(tokens.access_token).kid).toBe("workers-test-key");
    expect(decodeJwt(tokens.access_token)).toMatchObject({ iss: base, aud: mcp, sub: "alice" });

    // The authorization server's records live in the Durable Object's SQLite database.
    const stub = bindings.PORTCULLIS_STORE.get(bindings.PORTCULLIS_STORE.idFromName("portcullis"));
    const keys = await runInDurableObject(stub, (_instance: PortcullisStore, state) =>
      state.storage.sql
        .exec<{ key: string }>("SELECT key FROM entries")
        .toArray()
        .map((row) => row.key),
    );
    expect(keys.some((key) => key.includes(clientId))).toBe(true);
    // AUTH_SECRET and SIGNING_KEY came from the Worker's bindings: nothing was generated.
    expect(keys).not.toContain("as:secret");
    expect(keys).not.toContain("as:signing-keys");

    const init = await rpc(
      {
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: {
          protocolVersion: "2025-11-25",
          capabilities: {},
          clientInfo: { name: "workers-test", version: "1.0.0" },
        },
      },
      tokens.access_token,
    );
    expect(init.status).toBe(200);
    // Stateless on Workers: no session to carry between isolates.
    expect(init.headers.get("mcp-session-id")).toBeNull();
    expect(await message(init)).toMatchObject({ result: { serverInfo: { name: "notes" } } });

    const added = await message(
      await rpc(
        {
          jsonrpc: "2.0",
          id: 1,
          method: "tools/call",
          params: { name: "add_note", arguments: { text: "written in workerd" } },
        },
        tokens.access_token,
      ),
    );
    expect(added).toMatchObject({ result: { structuredContent: { id: expect.any(String) } } });
    expect((added.result as { isError?: boolean }).isError).not.toBe(true);

    const refreshed = await exchange({
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token,
      client_id: clientId,
    });
    expect(refreshed.status).toBe(200);
    const next = (await refreshed.json()) as TokenResponse;
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    const listed = await message(
      await rpc({ jsonrpc: "2.0", id: 2, method: "tools/list" }, next.access_token),
    );
    expect(JSON.stringify(listed)).toContain("add_note");

    const revoked = await SELF.fetch(
      `${base}/revoke`,
      form({ token: next.refresh_token, client_id: clientId }),
    );
    expect(revoked.status).toBe(200);
    const afterRevoke = await rpc({ jsonrpc: "2.0", id: 3, method: "ping" }, next.access_token);
    expect(afterRevoke.status).toBe(401);
  });

  it("refuses client_credentials at registration, and keeps a client for good once it completes a grant", async () => {
    const refused = await SELF.fetch(`${base}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_types: ["client_credentials"], redirect_uris: [] }),
    });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: "invalid_client_metadata" });

    const { clientId, values } = await codeGrant("notes:read");
    const stub = bindings.PORTCULLIS_STORE.get(bindings.PORTCULLIS_STORE.idFromName("portcullis"));
    const expiry = () =>
      runInDurableObject(stub, (_instance: PortcullisStore, state) =>
        state.storage.sql
          .exec<{ key: string; expires: number | null }>("SELECT key, expires FROM entries")
          .toArray()
          .filter((row) => row.key.endsWith(`client:${clientId}`)),
      );
    // Until a grant completes, the registration lapses with the entry's expiry.
    const [before] = await expiry();
    expect(before?.expires).toBeGreaterThan(Date.now());
    expect((await exchange(values)).status).toBe(200);
    const [after] = await expiry();
    expect(after).toBeDefined();
    expect(after!.expires).toBeNull();
  });

  it("redeems one authorization code exactly once when two requests race", async () => {
    const { values } = await codeGrant("notes:read");
    const responses = await Promise.all([exchange(values), exchange(values)]);
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([200, 400]);
    const loser = responses.find((response) => response.status === 400)!;
    expect(await loser.json()).toMatchObject({ error: "invalid_grant" });
  });

  // REFRESH_GRACE_MS is 0 here. With a grace, a duplicate within it is a retry after a lost
  // response and gets the same successor (test/workers/refresh-grace.test.ts).
  it("rotates one refresh token exactly once when two requests race", async () => {
    const { clientId, values } = await codeGrant("notes:read");
    const tokens = (await (await exchange(values)).json()) as TokenResponse;
    const refresh = {
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token,
      client_id: clientId,
    };
    const responses = await Promise.all([exchange(refresh), exchange(refresh)]);
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([200, 400]);
    const loser = responses.find((response) => response.status === 400)!;
    expect(await loser.json()).toMatchObject({ error: "invalid_grant" });
  });
});

// A Worker cannot tell who can reach it: devLogin() runs only on a configured loopback issuer
// (the Worker above has ISSUER http://localhost), never on the Host a request names.
describe("devLogin in workerd", () => {
  const authorizeQuery = new URLSearchParams({
    response_type: "code",
    client_id: "any-client",
    redirect_uri: "http://127.0.0.1:9/callback",
    code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    code_challenge_method: "S256",
  });

  /** A memoryStore that records every write. */
  const recording = () => {
    const inner = memoryStore();
    const writes: string[] = [];
    const store = new Proxy(inner, {
      get(target, name: keyof typeof inner) {
        const value = target[name];
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (name !== "get") writes.push(`${name} ${String(args[0])}`);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    return { store, writes };
  };

  it("refuses without a configured issuer, whatever the Host: nothing stored, no cookie", async () => {
    const { store, writes } = recording();
    const app = createDemoApp({ store, sessions: false });
    for (const origin of ["http://localhost", "http://127.0.0.1:8787"]) {
      const page = await app.fetch(new Request(`${origin}/authorize?${authorizeQuery}`), bindings);
      expect(page.status).toBe(500);
      const body = (await page.json()) as { error_id: string };
      expect(body).toEqual({
        error: "server_error",
        error_description: `The server could not complete the request (error id ${body.error_id})`,
        error_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      });
      expect(page.headers.getSetCookie()).toEqual([]);
      const login = await app.fetch(
        new Request(`${origin}/login/dev`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: "request_id=x&csrf=y&username=admin",
        }),
        bindings,
      );
      expect(login.status).toBe(500);
      expect(login.headers.getSetCookie()).toEqual([]);
      await login.text();
    }
    const register = await app.fetch(
      new Request("http://localhost/register", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ redirect_uris: ["http://127.0.0.1:9/callback"] }),
      }),
      bindings,
    );
    expect(register.status).toBe(500);
    await register.text();
    expect(writes).toEqual([]);
  });

  it("runs with a configured loopback issuer", async () => {
    const app = createDemoApp({
      store: memoryStore(),
      sessions: false,
      issuer: "http://localhost",
    });
    const register = await app.fetch(
      new Request("http://localhost/register", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          redirect_uris: ["http://127.0.0.1:9/callback"],
          token_endpoint_auth_method: "none",
        }),
      }),
      bindings,
    );
    expect(register.status).toBe(201);
    const { client_id } = (await register.json()) as { client_id: string };
    authorizeQuery.set("client_id", client_id);
    const page = await app.fetch(
      new Request(`http://localhost/authorize?${authorizeQuery}`),
      bindings,
    );
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('name="username"');
  });
});
