import { describe, expect, it } from "vitest";
import { createDemoServer } from "../../examples/demo/server.ts";
import { authorizationServer, devLogin, type OperatorApiOptions } from "../../src/auth/index.ts";
import { mcpApp } from "../../src/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { manualClock } from "../helpers/clock.ts";
import { listen, post } from "../helpers/http.ts";
import { authorizeWithDevLogin, form } from "../helpers/oauth.ts";
import { grantScenarios } from "./grants-scenarios.ts";
import {
  authorize,
  authorizeUrl,
  Browser,
  KEYS,
  pkce,
  registerConfidential,
  startServer,
} from "./security/support.ts";

const operatorToken = "operator-secret-for-the-memory-store-tests";

grantScenarios("memoryStore", async () => {
  const app = mcpApp(createDemoServer(), {
    path: "/mcp",
    auth: authorizationServer({
      store: memoryStore(),
      login: devLogin(),
      scopes: ["notes:read", "notes:write"],
      operatorApi: { token: operatorToken },
      rateLimits: false,
    }),
  });
  const base = (await listen(app)).replace("127.0.0.1", "localhost");
  return { base, send: (input, init) => fetch(input, init), operatorToken };
});

describe("the grant ledger over time (memory store, manual clock)", () => {
  const ops = { token: operatorToken };
  const start = async (lifetimes = { accessToken: 600, refreshToken: 3600 }) => {
    const clock = manualClock(Date.UTC(2026, 0, 1));
    const app = mcpApp(createDemoServer(), {
      path: "/mcp",
      auth: authorizationServer({
        store: memoryStore({ clock: clock.now }),
        clock: clock.now,
        login: devLogin(),
        scopes: ["notes:read", "notes:write"],
        lifetimes,
        operatorApi: ops,
        rateLimits: false,
      }),
    });
    const base = (await listen(app)).replace("127.0.0.1", "localhost");
    const grants = async (subject: string) =>
      (
        (await (
          await fetch(`${base}/admin/subjects/${subject}/grants`, {
            headers: { authorization: `Bearer ${operatorToken}` },
          })
        ).json()) as {
          grants: {
            grant_id: string;
            client_id: string;
            created_at: number;
            last_used_at: number;
          }[];
        }
      ).grants;
    const connect = async (user: string) => {
      const authorized = await authorizeWithDevLogin(base, { user, scope: "notes:read" });
      const response = await fetch(
        `${base}/token`,
        form({
          grant_type: "authorization_code",
          code: authorized.code,
          code_verifier: authorized.verifier,
          client_id: authorized.clientId,
          redirect_uri: authorized.redirectUri,
        }),
      );
      const tokens = (await response.json()) as { access_token: string; refresh_token: string };
      return { clientId: authorized.clientId, ...tokens };
    };
    return { clock, base, grants, connect };
  };

  it("moves last use at each token issuance, not at MCP calls", async () => {
    const { clock, base, grants, connect } = await start();
    const t0 = Math.floor(clock.now() / 1000);
    const app = await connect("gina");
    expect(await grants("gina")).toEqual([
      expect.objectContaining({ created_at: t0, last_used_at: t0 }),
    ]);
    clock.advance(60_000);
    const call = await post(
      `${base}/mcp`,
      { jsonrpc: "2.0", id: 1, method: "ping" },
      {
        authorization: `Bearer ${app.access_token}`,
        "mcp-protocol-version": "2025-11-25",
      },
    );
    expect(call.status).toBe(200);
    expect((await grants("gina"))[0]!.last_used_at).toBe(t0);
    clock.advance(60_000);
    const refreshed = await fetch(
      `${base}/token`,
      form({
        grant_type: "refresh_token",
        refresh_token: app.refresh_token,
        client_id: app.clientId,
      }),
    );
    expect(refreshed.status).toBe(200);
    expect(await grants("gina")).toEqual([
      expect.objectContaining({ created_at: t0, last_used_at: t0 + 120 }),
    ]);
  });

  it("drops a grant from the listing when its refresh token expires, renewed by each refresh", async () => {
    const { clock, base, grants, connect } = await start();
    const app = await connect("hana");
    clock.advance(3000_000);
    const refreshed = await fetch(
      `${base}/token`,
      form({
        grant_type: "refresh_token",
        refresh_token: app.refresh_token,
        client_id: app.clientId,
      }),
    );
    expect(refreshed.status).toBe(200);
    // Past the first refresh token's lifetime, but not the second's.
    clock.advance(1000_000);
    expect(await grants("hana")).toHaveLength(1);
    clock.advance(2600_000);
    expect(await grants("hana")).toEqual([]);
  });

  it("leaves out a grant revoked by its client (RFC 7009) or by refresh-token reuse", async () => {
    const { clock, base, grants, connect } = await start();
    const revokedByClient = await connect("ivan");
    const reused = await connect("ivan");
    const kept = await connect("ivan");
    const revocation = await fetch(
      `${base}/revoke`,
      form({ token: revokedByClient.refresh_token, client_id: revokedByClient.clientId }),
    );
    expect(revocation.status).toBe(200);
    const refresh = (token: string) =>
      fetch(
        `${base}/token`,
        form({ grant_type: "refresh_token", refresh_token: token, client_id: reused.clientId }),
      );
    expect((await refresh(reused.refresh_token)).status).toBe(200);
    // The rotated token again, past the grace: reuse, and the family is revoked.
    clock.advance(10_001);
    expect((await refresh(reused.refresh_token)).status).toBe(400);
    const left = await grants("ivan");
    expect(left).toHaveLength(1);
    expect(left[0]).toMatchObject({ client_id: kept.clientId });
  });
});

describe("operator API options", () => {
  const build = (operatorApi: unknown) => () =>
    authorizationServer({
      store: memoryStore(),
      login: devLogin(),
      operatorApi: operatorApi as OperatorApiOptions,
    });

  it("are validated at construction", () => {
    expect(build({ token: "short" })).toThrow(/at least 32 characters/);
    expect(build({})).toThrow(/exactly one of token/);
    expect(build({ token: operatorToken, verify: () => true })).toThrow(/exactly one of token/);
    expect(build({ verify: "yes" })).toThrow(/must be a function/);
    expect(build({ token: operatorToken, path: "admin" })).toThrow(/operatorApi.path/);
    expect(build({ token: operatorToken, path: "/" })).toThrow(/operatorApi.path/);
    expect(() =>
      authorizationServer({
        store: memoryStore(),
        login: devLogin(),
        connectedApps: { path: "no-slash" },
      }),
    ).toThrow(/connectedApps.path/);
    expect(build({ token: operatorToken, path: "/ops/v1" })).not.toThrow();
  });

  it("are off unless configured, and take a verifier that may answer 403", async () => {
    const off = await listen(
      authorizationServer({ store: memoryStore(), login: devLogin(), connectedApps: false }).app,
    );
    const unmounted = await fetch(`${off}/admin/clients`, {
      headers: { authorization: `Bearer ${operatorToken}` },
    });
    expect(unmounted.status).toBe(404);
    expect((await fetch(`${off}/connected-apps`)).status).toBe(404);

    const seen: string[] = [];
    const server = authorizationServer({
      store: memoryStore(),
      login: devLogin(),
      operatorApi: {
        path: "/ops",
        verify: (credential) => {
          seen.push(credential);
          return credential === "root" ? true : credential === "viewer" ? "forbidden" : false;
        },
      },
    });
    const base = await listen(server.app);
    const as = (credential: string) =>
      fetch(`${base}/ops/clients`, { headers: { authorization: `Bearer ${credential}` } });
    expect((await as("root")).status).toBe(200);
    const forbidden = await as("viewer");
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    expect((await as("nobody")).status).toBe(401);
    expect(seen).toEqual(["root", "viewer", "nobody"]);
  });
});

describe("revoking forgets remembered consent", () => {
  it("asks the user again after they revoke a client whose consent was remembered", async () => {
    const server = await startServer();
    const { clientId } = await registerConfidential(server.base);
    const browser = new Browser();
    const ask = async () =>
      browser.fetch(authorizeUrl(server, { clientId, challenge: (await pkce()).challenge }));
    await authorize(server, { clientId, challenge: (await pkce()).challenge }, { browser });
    // Remembered: the next request gets a code without a consent page.
    expect((await ask()).status).toBe(303);
    const consentKey = `${KEYS.consent}alice:${clientId}:${server.mcp}`;
    expect(await server.store.get(consentKey)).toBeDefined();

    // No token was ever exchanged: the page lists it by its remembered consent.
    const page = await browser.fetch(`${server.base}/connected-apps`);
    const html = await page.text();
    expect(html).toContain(`data-client-id="${clientId}"`);
    expect(html).toContain("Last used: no active tokens");
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    const revoked = await browser.fetch(`${server.base}/connected-apps/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: clientId, csrf }).toString(),
    });
    expect(revoked.status).toBe(303);
    expect(await server.store.get(consentKey)).toBeUndefined();
    const again = await ask();
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('name="decision"');
  });
});

describe("operator API paths", () => {
  it("takes a client id that is a URL, percent-encoded in the path", async () => {
    const server = authorizationServer({
      store: memoryStore(),
      login: devLogin(),
      operatorApi: { token: operatorToken },
    });
    const base = await listen(server.app);
    const document = "https://app.example/oauth/client.json";
    const response = await fetch(`${base}/admin/clients/${encodeURIComponent(document)}/disable`, {
      method: "POST",
      headers: { authorization: `Bearer ${operatorToken}` },
    });
    expect(await response.json()).toEqual({ client_id: document, disabled: true });
    expect(await server.grants.isDisabled(document)).toBe(true);
  });
});
