/**
 * PKCE (RFC 7636, S256 only per OAuth 2.1 and RFC 9700 §2.1.1) and authorization codes:
 * single use with revocation on replay (RFC 9700 §4.5), bound to client and redirect_uri,
 * short-lived. A refused redemption spends nothing: the rightful client still redeems the
 * code, exactly once.
 */
import { describe, expect, it } from "vitest";
import {
  authorize,
  authorizeUrl,
  callMcp,
  codeFlow,
  expectErrorPage,
  expectErrorRedirect,
  expectInvalidToken,
  expectOAuthError,
  type Flow,
  KEYS,
  manualClock,
  mcpStatus,
  pkce,
  REDIRECT_URI,
  redeem,
  refresh,
  registerPublic,
  startServer,
  type TestServer,
  tokensOf,
} from "./support.ts";

/** The legitimate redemption works once, and a second one is refused. */
async function redeemsExactlyOnce(server: TestServer, flow: Flow): Promise<void> {
  const tokens = await tokensOf(await redeem(server, flow));
  expect(await mcpStatus(server, tokens.access_token)).toBe(200);
  await expectOAuthError(await redeem(server, flow), 400, "invalid_grant");
}

describe("PKCE at /authorize", () => {
  const setup = async () => {
    const server = await startServer();
    const clientId = await registerPublic(server.base);
    const { challenge } = await pkce();
    return { server, clientId, challenge };
  };

  const refused = async (
    server: TestServer,
    url: string,
    error = "invalid_request",
  ): Promise<void> => {
    const response = await fetch(url, { redirect: "manual" });
    expectErrorRedirect(response, server, { error, state: "s1" });
    expect(server.store.written(KEYS.pending)).toBe(0);
    expect(server.store.written(KEYS.code)).toBe(0);
  };

  it("refuses a request without code_challenge", async () => {
    const { server, clientId, challenge } = await setup();
    const url = new URL(authorizeUrl(server, { clientId, challenge, state: "s1" }));
    url.searchParams.delete("code_challenge");
    await refused(server, url.href);
  });

  it("refuses the plain method (downgrade)", async () => {
    const { server, clientId, challenge } = await setup();
    await refused(
      server,
      authorizeUrl(server, {
        clientId,
        challenge,
        state: "s1",
        extra: { code_challenge_method: "plain" },
      }),
    );
  });

  it("refuses a challenge without code_challenge_method (which would mean plain)", async () => {
    const { server, clientId, challenge } = await setup();
    const url = new URL(authorizeUrl(server, { clientId, challenge, state: "s1" }));
    url.searchParams.delete("code_challenge_method");
    await refused(server, url.href);
  });

  it("refuses an unknown method", async () => {
    const { server, clientId, challenge } = await setup();
    await refused(
      server,
      authorizeUrl(server, {
        clientId,
        challenge,
        state: "s1",
        extra: { code_challenge_method: "s256" },
      }),
    );
  });

  it.each([
    ["too short", "a".repeat(42)],
    ["too long", "a".repeat(44)],
    ["padded", `${"a".repeat(42)}=`],
    ["base64 rather than base64url", `${"a".repeat(41)}+/`],
    ["with a space", `${"a".repeat(21)} ${"a".repeat(21)}`],
  ])("refuses a malformed challenge (%s)", async (_name, malformed) => {
    const { server, clientId } = await setup();
    await refused(server, authorizeUrl(server, { clientId, challenge: malformed, state: "s1" }));
  });

  it("shows the error page for a repeated code_challenge", async () => {
    const { server, clientId, challenge } = await setup();
    const url = new URL(authorizeUrl(server, { clientId, challenge }));
    url.searchParams.append("code_challenge", (await pkce()).challenge);
    await expectErrorPage(await fetch(url, { redirect: "manual" }));
    expect(server.store.written(KEYS.pending)).toBe(0);
  });
});

describe("PKCE at /token", () => {
  it("refuses a wrong verifier; the rightful client still redeems once", async () => {
    const server = await startServer();
    const flow = await codeFlow(server);
    const { verifier: other } = await pkce();
    await expectOAuthError(
      await redeem(server, flow, { code_verifier: other }),
      400,
      "invalid_grant",
    );
    expect(server.store.written(KEYS.refresh)).toBe(0);
    await redeemsExactlyOnce(server, flow);
  });

  it("refuses a missing verifier; the rightful client still redeems once", async () => {
    const server = await startServer();
    const flow = await codeFlow(server);
    await expectOAuthError(
      await redeem(server, flow, { code_verifier: undefined }),
      400,
      "invalid_request",
    );
    expect(server.store.written(KEYS.refresh)).toBe(0);
    await redeemsExactlyOnce(server, flow);
  });

  it("refuses the challenge itself presented as the verifier (plain downgrade)", async () => {
    const server = await startServer();
    const clientId = await registerPublic(server.base);
    const { verifier, challenge } = await pkce();
    const { code } = await authorize(server, { clientId, challenge });
    const flow: Flow = { clientId, code, verifier, redirectUri: REDIRECT_URI };
    await expectOAuthError(
      await redeem(server, flow, { code_verifier: challenge }),
      400,
      "invalid_grant",
    );
    await redeemsExactlyOnce(server, flow);
  });

  it.each([
    ["too short", "abc"],
    ["too long", "a".repeat(129)],
    ["with characters outside the unreserved set", `${"a".repeat(43)}!`],
  ])("refuses a malformed verifier (%s)", async (_name, malformed) => {
    const server = await startServer();
    const flow = await codeFlow(server);
    await expectOAuthError(
      await redeem(server, flow, { code_verifier: malformed }),
      400,
      "invalid_grant",
    );
    await redeemsExactlyOnce(server, flow);
  });
});

describe("authorization codes", () => {
  it("refuses a replayed code and revokes the access and refresh tokens it bought", async () => {
    const server = await startServer();
    const flow = await codeFlow(server, { scope: "notes:read" });
    const first = await tokensOf(await redeem(server, flow));
    expect(await mcpStatus(server, first.access_token)).toBe(200);

    await expectOAuthError(await redeem(server, flow), 400, "invalid_grant");

    expectInvalidToken(await callMcp(server.mcp, first.access_token), server);
    await expectOAuthError(
      await refresh(server, flow.clientId, first.refresh_token),
      400,
      "invalid_grant",
    );
    // And the replay keeps failing.
    await expectOAuthError(await redeem(server, flow), 400, "invalid_grant");
  });

  it("refuses a code presented by another client; the rightful client redeems once", async () => {
    const server = await startServer();
    const flow = await codeFlow(server);
    const intruder = await registerPublic(server.base);
    await expectOAuthError(
      await redeem(server, flow, { client_id: intruder }),
      400,
      "invalid_grant",
    );
    expect(server.store.written(KEYS.refresh)).toBe(0);
    await redeemsExactlyOnce(server, flow);
  });

  it("refuses a code with another or a missing redirect_uri; then redeems once", async () => {
    const server = await startServer();
    const flow = await codeFlow(server);
    for (const redirectUri of ["http://127.0.0.1:9/other", "http://127.0.0.1:10/callback"]) {
      await expectOAuthError(
        await redeem(server, flow, { redirect_uri: redirectUri }),
        400,
        "invalid_grant",
      );
    }
    await expectOAuthError(
      await redeem(server, flow, { redirect_uri: undefined }),
      400,
      "invalid_grant",
    );
    expect(server.store.written(KEYS.refresh)).toBe(0);
    await redeemsExactlyOnce(server, flow);
  });

  it("refuses an expired code and issues nothing", async () => {
    const clock = manualClock();
    const server = await startServer({ lifetimes: { code: 1 }, clock: clock.now });
    const flow = await codeFlow(server);
    clock.advance(1001);
    await expectOAuthError(await redeem(server, flow), 400, "invalid_grant");
    expect(server.store.written(KEYS.refresh)).toBe(0);
  });

  it("refuses an unknown code and a missing code", async () => {
    const server = await startServer();
    const flow = await codeFlow(server);
    await expectOAuthError(
      await redeem(server, flow, { code: "not-a-code-we-issued" }),
      400,
      "invalid_grant",
    );
    await expectOAuthError(await redeem(server, flow, { code: undefined }), 400, "invalid_request");
    await redeemsExactlyOnce(server, flow);
  });
});
