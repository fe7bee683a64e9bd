/**
 * Who may learn about a token, and who may end it (issue 10, point 7). RFC 7662 §2.1 and §4:
 * introspection answers only the client the token was issued to, or a resource server the
 * operator configured for it; anyone else learns `{ "active": false }`. RFC 7009 §2.1: a
 * client revokes only its own tokens. Both endpoints are rate limited.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_RATE_LIMITS } from "../../../src/auth/rate-limit.ts";
import {
  authorize,
  basic,
  expectOAuthError,
  KEYS,
  MACHINE,
  machineClient,
  mcpStatus,
  pkce,
  postForm,
  REDIRECT_URI,
  refresh,
  registerConfidential,
  startServer,
  type TestServer,
  tokenFlow,
  tokensOf,
} from "./support.ts";

const HOUR = 3600;
const OTHER = "https://other.example/api";

const RESOURCE_SERVER = {
  client_id: "resource-server",
  client_secret: "a-resource-server-secret-of-some-length-01",
  redirect_uris: [],
  grant_types: [],
};

const asResourceServer = { authorization: basic("resource-server", RESOURCE_SERVER.client_secret) };

/** A confidential client's own authorization code flow: its id, secret and tokens. */
async function confidentialFlow(server: TestServer, resource?: string) {
  const { clientId, secret } = await registerConfidential(server.base);
  const { verifier, challenge } = await pkce();
  const params = { clientId, challenge, scope: "notes:read", ...(resource ? { resource } : {}) };
  const { code } = await authorize(server, params);
  const tokens = await tokensOf(
    await postForm(
      `${server.base}/token`,
      {
        grant_type: "authorization_code",
        code,
        code_verifier: verifier,
        redirect_uri: REDIRECT_URI,
        ...(resource ? { resource } : {}),
      },
      { authorization: basic(clientId, secret) },
    ),
  );
  return { clientId, secret, tokens, own: { authorization: basic(clientId, secret) } };
}

async function introspect(
  server: TestServer,
  token: string,
  headers: Record<string, string>,
  extra: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  const response = await postForm(`${server.base}/introspect`, { token, ...extra }, headers);
  expect(response.status).toBe(200);
  expect(response.headers.get("cache-control")).toBe("no-store");
  return (await response.json()) as Record<string, unknown>;
}

/** The store's writes after `from`, apart from rate-limit counters. */
const writesSince = (server: TestServer, from: number) =>
  server.store.writes.slice(from).filter((key) => !key.startsWith("as:rl:"));

describe("introspection answers only callers entitled to the token (RFC 7662 §4)", () => {
  it("answers the token's own client about its access and refresh tokens", async () => {
    const server = await startServer();
    const flow = await confidentialFlow(server);
    expect(await introspect(server, flow.tokens.access_token, flow.own)).toMatchObject({
      active: true,
      client_id: flow.clientId,
      sub: "alice",
      scope: "notes:read",
    });
    expect(await introspect(server, flow.tokens.refresh_token, flow.own)).toMatchObject({
      active: true,
      token_type: "refresh_token",
      client_id: flow.clientId,
    });
  });

  it("tells another authenticated client only that the token is inactive, and changes nothing", async () => {
    const server = await startServer();
    const victim = await tokenFlow(server);
    const confidential = await confidentialFlow(server);
    const stranger = await registerConfidential(server.base);
    const post = await registerConfidential(server.base, {
      token_endpoint_auth_method: "client_secret_post",
    });
    const before = server.store.writes.length;
    const callers: [Record<string, string>, Record<string, string>][] = [
      [{ authorization: basic(stranger.clientId, stranger.secret) }, {}],
      [{}, { client_id: post.clientId, client_secret: post.secret }],
      // A client that has tokens of its own, asking about someone else's.
      [confidential.own, {}],
    ];
    for (const [headers, extra] of callers) {
      for (const token of [victim.tokens.access_token, victim.tokens.refresh_token]) {
        for (const hint of [
          {},
          { token_type_hint: "access_token" },
          { token_type_hint: "refresh_token" },
        ]) {
          expect(await introspect(server, token, headers, { ...extra, ...hint })).toEqual({
            active: false,
          });
        }
      }
    }
    expect(writesSince(server, before)).toEqual([]);
    // The tokens are untouched.
    expect(await mcpStatus(server, victim.tokens.access_token)).toBe(200);
  });

  it("answers a configured resource server about access tokens of any audience, never refresh tokens", async () => {
    const server = await startServer({
      clients: [{ ...RESOURCE_SERVER, introspection: true }],
      resources: [OTHER],
    });
    const flow = await confidentialFlow(server, OTHER);
    const user = await tokenFlow(server, { resource: server.mcp });
    expect(await introspect(server, flow.tokens.access_token, asResourceServer)).toMatchObject({
      active: true,
      aud: OTHER,
    });
    expect(await introspect(server, user.tokens.access_token, asResourceServer)).toMatchObject({
      active: true,
      sub: "alice",
    });
    // Refresh tokens never travel to a resource server: it has no business asking.
    expect(await introspect(server, user.tokens.refresh_token, asResourceServer)).toEqual({
      active: false,
    });
  });

  it("answers a resource server configured for some audiences about those only", async () => {
    const server = await startServer({
      clients: [{ ...RESOURCE_SERVER, introspection: [OTHER] }],
      resources: [OTHER],
    });
    const mine = await confidentialFlow(server, OTHER);
    const notMine = await tokenFlow(server, { resource: server.mcp });
    expect(await introspect(server, mine.tokens.access_token, asResourceServer)).toMatchObject({
      active: true,
      aud: OTHER,
    });
    expect(await introspect(server, notMine.tokens.access_token, asResourceServer)).toEqual({
      active: false,
    });
  });

  it("answers a configured machine client about its own tokens only", async () => {
    const server = await startServer({ clients: [machineClient()] });
    const machine = { authorization: basic(MACHINE.clientId, MACHINE.secret) };
    const own = await tokensOf(
      await postForm(`${server.base}/token`, { grant_type: "client_credentials" }, machine),
    );
    expect(await introspect(server, own.access_token, machine)).toMatchObject({
      active: true,
      sub: MACHINE.clientId,
      gty: "client_credentials",
    });
    const user = await tokenFlow(server);
    expect(await introspect(server, user.tokens.access_token, machine)).toEqual({ active: false });
  });

  it("refuses unauthenticated callers and wrong secrets with 401, even a resource server", async () => {
    const server = await startServer({ clients: [{ ...RESOURCE_SERVER, introspection: true }] });
    const user = await tokenFlow(server);
    for (const headers of [
      {},
      { authorization: basic("resource-server", "wrong") },
      { authorization: basic("no-such-client", "x") },
    ]) {
      const response = await postForm(
        `${server.base}/introspect`,
        { token: user.tokens.access_token },
        headers,
      );
      const body = await expectOAuthError(response, 401, "invalid_client");
      expect(body).not.toHaveProperty("active");
    }
    // The token's own public client cannot authenticate, so it cannot introspect either.
    await expectOAuthError(
      await postForm(`${server.base}/introspect`, {
        token: user.tokens.access_token,
        client_id: user.clientId,
      }),
      401,
      "invalid_client",
    );
  });

  it("refuses introspection rights for a client that cannot authenticate, at construction", async () => {
    const { client_secret: _secret, ...open } = RESOURCE_SERVER;
    await expect(startServer({ clients: [{ ...open, introspection: true }] })).rejects.toThrow(
      TypeError,
    );
    await expect(
      startServer({ clients: [{ ...RESOURCE_SERVER, introspection: ["not a uri"] }] }),
    ).rejects.toThrow(TypeError);
  });
});

describe("revocation of one's own tokens only (RFC 7009 §2.1)", () => {
  it("refuses another client's tokens with invalid_grant, revoking nothing", async () => {
    const server = await startServer({ clients: [{ ...RESOURCE_SERVER, introspection: true }] });
    const victim = await confidentialFlow(server);
    const stranger = await registerConfidential(server.base);
    const before = server.store.writes.length;
    for (const headers of [
      { authorization: basic(stranger.clientId, stranger.secret) },
      // Entitled to introspect is not entitled to revoke.
      asResourceServer,
    ]) {
      for (const token of [victim.tokens.access_token, victim.tokens.refresh_token]) {
        const response = await postForm(`${server.base}/revoke`, { token }, headers);
        const body = await expectOAuthError(response, 400, "invalid_grant");
        expect(body.error_description).toMatch(/another client/);
      }
    }
    expect(writesSince(server, before)).toEqual([]);
    expect(await mcpStatus(server, victim.tokens.access_token)).toBe(200);
    expect(await introspect(server, victim.tokens.refresh_token, victim.own)).toMatchObject({
      active: true,
    });
  });

  it("revokes the caller's own grant, and answers 200 for a token that is not valid", async () => {
    const server = await startServer();
    const flow = await confidentialFlow(server);
    const before = server.store.writes.length;
    for (const token of ["not-a-token", `${flow.tokens.access_token}x`]) {
      const response = await postForm(`${server.base}/revoke`, { token }, flow.own);
      expect(response.status).toBe(200);
    }
    expect(writesSince(server, before)).toEqual([]);
    const response = await postForm(
      `${server.base}/revoke`,
      { token: flow.tokens.access_token },
      flow.own,
    );
    expect(response.status).toBe(200);
    expect(server.store.written(KEYS.revoked)).toBe(1);
    expect(await mcpStatus(server, flow.tokens.access_token)).toBe(401);
    const refused = await postForm(
      `${server.base}/token`,
      { grant_type: "refresh_token", refresh_token: flow.tokens.refresh_token },
      flow.own,
    );
    await expectOAuthError(refused, 400, "invalid_grant");
  });

  it("refuses an unauthenticated revocation with 401", async () => {
    const server = await startServer();
    const flow = await confidentialFlow(server);
    await expectOAuthError(
      await postForm(`${server.base}/revoke`, { token: flow.tokens.refresh_token }),
      401,
      "invalid_client",
    );
    await expectOAuthError(
      await postForm(
        `${server.base}/revoke`,
        { token: flow.tokens.refresh_token },
        { authorization: basic(flow.clientId, "wrong") },
      ),
      401,
      "invalid_client",
    );
    expect(server.store.written(KEYS.revoked)).toBe(0);
  });
});

describe("rate limits on introspection and revocation", () => {
  it("has defaults for both", () => {
    expect(DEFAULT_RATE_LIMITS.introspect).toEqual({ limit: 600, windowSeconds: 60 });
    expect(DEFAULT_RATE_LIMITS.revoke).toEqual({ limit: 120, windowSeconds: 60 });
  });

  it("limits /introspect; a limited caller learns nothing", async () => {
    const server = await startServer({
      clients: [{ ...RESOURCE_SERVER, introspection: true }],
      rateLimits: { introspect: { limit: 2, windowSeconds: HOUR } },
    });
    const user = await tokenFlow(server);
    for (let i = 0; i < 2; i++) {
      expect(await introspect(server, user.tokens.access_token, asResourceServer)).toMatchObject({
        active: true,
      });
    }
    const limited = await postForm(
      `${server.base}/introspect`,
      { token: user.tokens.access_token },
      asResourceServer,
    );
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const body = await expectOAuthError(limited, 429, "temporarily_unavailable");
    expect(body).not.toHaveProperty("active");
    // Other endpoints have their own budgets.
    expect((await refresh(server, user.clientId, user.tokens.refresh_token)).status).toBe(200);
  });

  it("limits /revoke; a limited revocation revokes nothing", async () => {
    const server = await startServer({
      rateLimits: { revoke: { limit: 2, windowSeconds: HOUR } },
    });
    const flow = await confidentialFlow(server);
    for (let i = 0; i < 2; i++) {
      const response = await postForm(`${server.base}/revoke`, { token: "junk" }, flow.own);
      expect(response.status).toBe(200);
    }
    const limited = await postForm(
      `${server.base}/revoke`,
      { token: flow.tokens.refresh_token },
      flow.own,
    );
    await expectOAuthError(limited, 429, "temporarily_unavailable");
    expect(server.store.written(KEYS.revoked)).toBe(0);
    expect(await mcpStatus(server, flow.tokens.access_token)).toBe(200);
  });
});
