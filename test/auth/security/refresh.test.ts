/**
 * Refresh tokens (RFC 9700 §4.14, OAuth 2.1 §4.3): rotated on every use, reuse revokes the
 * whole family, a short grace only for a lost response, bound to the client, never wider
 * than the grant. A refused refresh changes nothing.
 */
import { describe, expect, it } from "vitest";
import {
  callMcp,
  expectInvalidToken,
  expectOAuthError,
  KEYS,
  manualClock,
  mcpStatus,
  refresh,
  registerPublic,
  startServer,
  type TestServer,
  tokenFlow,
  tokensOf,
} from "./support.ts";

/** A refresh token that was refused must still work, once; no grace hides a rotation. */
async function stillUsable(server: TestServer, clientId: string, token: string): Promise<void> {
  const next = await tokensOf(await refresh(server, clientId, token));
  expect(await mcpStatus(server, next.access_token)).toBe(200);
}

describe("refresh token rotation and reuse detection", () => {
  it("rotates on every use and revokes the family when an old token is reused after the grace", async () => {
    const clock = manualClock();
    const server = await startServer({ lifetimes: { refreshGraceMs: 100 }, clock: clock.now });
    const flow = await tokenFlow(server, { scope: "notes:read" });
    const first = flow.tokens;
    const second = await tokensOf(await refresh(server, flow.clientId, first.refresh_token));
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(await mcpStatus(server, second.access_token)).toBe(200);

    clock.advance(101);
    const reuse = await expectOAuthError(
      await refresh(server, flow.clientId, first.refresh_token),
      400,
      "invalid_grant",
    );
    expect(reuse.error_description).toMatch(/revoked/);

    // The whole family is gone: the current refresh token and every access token.
    await expectOAuthError(
      await refresh(server, flow.clientId, second.refresh_token),
      400,
      "invalid_grant",
    );
    expectInvalidToken(await callMcp(server.mcp, second.access_token), server);
    expectInvalidToken(await callMcp(server.mcp, first.access_token), server);
  });

  it("within the grace, an old token whose successor was never used gets that same successor", async () => {
    const server = await startServer({ lifetimes: { refreshGraceMs: 60_000 } });
    const flow = await tokenFlow(server);
    const first = flow.tokens.refresh_token;
    // The client never saw this response (lost on the way back).
    const lost = await tokensOf(await refresh(server, flow.clientId, first));
    const issued = server.store.written(KEYS.refresh);

    const retried = await tokensOf(await refresh(server, flow.clientId, first));
    expect(retried.refresh_token).toBe(lost.refresh_token);
    expect(server.store.written(KEYS.refresh)).toBe(issued);
    expect(await mcpStatus(server, retried.access_token)).toBe(200);

    // Once the successor is used, presenting the old token again is reuse: the family is revoked.
    const third = await tokensOf(await refresh(server, flow.clientId, retried.refresh_token));
    await expectOAuthError(await refresh(server, flow.clientId, first), 400, "invalid_grant");
    await expectOAuthError(
      await refresh(server, flow.clientId, third.refresh_token),
      400,
      "invalid_grant",
    );
    expectInvalidToken(await callMcp(server.mcp, third.access_token), server);
  });

  it("within the grace, an old token whose successor was already used is reuse", async () => {
    const server = await startServer({ lifetimes: { refreshGraceMs: 60_000 } });
    const flow = await tokenFlow(server);
    const stolen = flow.tokens.refresh_token;
    const second = await tokensOf(await refresh(server, flow.clientId, stolen));
    const third = await tokensOf(await refresh(server, flow.clientId, second.refresh_token));

    await expectOAuthError(await refresh(server, flow.clientId, stolen), 400, "invalid_grant");
    await expectOAuthError(
      await refresh(server, flow.clientId, third.refresh_token),
      400,
      "invalid_grant",
    );
    expectInvalidToken(await callMcp(server.mcp, third.access_token), server);
  });
});

describe("refused refresh requests change nothing", () => {
  // No grace: if a refused request had rotated the token, presenting it again would be reuse.
  const options = { lifetimes: { refreshGraceMs: 0 } };

  it("refuses a refresh token presented by another client", async () => {
    const server = await startServer(options);
    const flow = await tokenFlow(server);
    const intruder = await registerPublic(server.base);
    const writes = server.store.written(KEYS.refresh);
    await expectOAuthError(
      await refresh(server, intruder, flow.tokens.refresh_token),
      400,
      "invalid_grant",
    );
    expect(server.store.written(KEYS.refresh)).toBe(writes);
    expect(server.store.written(KEYS.revoked)).toBe(0);
    await stillUsable(server, flow.clientId, flow.tokens.refresh_token);
  });

  it("refuses to widen the scope on refresh", async () => {
    const server = await startServer(options);
    const flow = await tokenFlow(server, { scope: "notes:read" });
    const writes = server.store.written(KEYS.refresh);
    for (const scope of ["notes:read notes:write", "notes:write", "admin"]) {
      await expectOAuthError(
        await refresh(server, flow.clientId, flow.tokens.refresh_token, { scope }),
        400,
        "invalid_scope",
      );
    }
    expect(server.store.written(KEYS.refresh)).toBe(writes);
    await stillUsable(server, flow.clientId, flow.tokens.refresh_token);
  });

  it("refuses a refresh for another resource", async () => {
    const server = await startServer({ ...options, resources: ["https://other.example/mcp"] });
    const flow = await tokenFlow(server);
    const writes = server.store.written(KEYS.refresh);
    await expectOAuthError(
      await refresh(server, flow.clientId, flow.tokens.refresh_token, {
        resource: "https://other.example/mcp",
      }),
      400,
      "invalid_target",
    );
    expect(server.store.written(KEYS.refresh)).toBe(writes);
    await stillUsable(server, flow.clientId, flow.tokens.refresh_token);
  });

  it("refuses unknown refresh tokens, including an access token presented as one", async () => {
    const server = await startServer(options);
    const flow = await tokenFlow(server);
    for (const token of ["not-a-refresh-token", flow.tokens.access_token]) {
      await expectOAuthError(await refresh(server, flow.clientId, token), 400, "invalid_grant");
    }
    await stillUsable(server, flow.clientId, flow.tokens.refresh_token);
  });

  it("narrowing the scope is allowed and does not narrow the grant", async () => {
    const server = await startServer(options);
    const flow = await tokenFlow(server, { scope: "notes:read notes:write" });
    const narrow = await tokensOf(
      await refresh(server, flow.clientId, flow.tokens.refresh_token, { scope: "notes:read" }),
    );
    expect(narrow.scope).toBe("notes:read");
    const full = await tokensOf(await refresh(server, flow.clientId, narrow.refresh_token));
    expect(full.scope).toBe("notes:read notes:write");
  });
});
