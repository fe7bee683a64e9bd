/**
 * The authorization server's form fields and JSON bodies with names Object.prototype also has
 * (`__proto__`, `constructor`, `toString`, `hasOwnProperty`, `valueOf`), as parameter values
 * and as JSON keys: the usual OAuth error for an unknown value, nothing inherited, nothing
 * issued or stored.
 */
import { describe, expect, it } from "vitest";
import {
  authorizeUrl,
  Browser,
  expectErrorPage,
  expectErrorRedirect,
  expectOAuthError,
  openAuthorize,
  pkce,
  postForm,
  REDIRECT_URI,
  register,
  registerPublic,
  startServer,
  type TestServer,
} from "./support.ts";

const HOSTILE = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"];

/** Keys written since `before`, less the rate-limit counters every request bumps. */
function writesSince(server: TestServer, before: number): string[] {
  return server.store.writes.slice(before).filter((key) => !key.startsWith("as:rl:"));
}

describe("hostile names at /token", () => {
  it.each(HOSTILE)(
    "%s as grant_type, code or client_id: the usual error, nothing issued",
    async (name) => {
      const server = await startServer();
      const clientId = await registerPublic(server.base);
      const before = server.store.writes.length;
      await expectOAuthError(
        await postForm(`${server.base}/token`, { grant_type: name, client_id: clientId }),
        400,
        "unsupported_grant_type",
      );
      const { verifier } = await pkce();
      await expectOAuthError(
        await postForm(`${server.base}/token`, {
          grant_type: "authorization_code",
          code: name,
          code_verifier: verifier,
          client_id: clientId,
          redirect_uri: REDIRECT_URI,
        }),
        400,
        "invalid_grant",
      );
      await expectOAuthError(
        await postForm(`${server.base}/token`, {
          grant_type: "refresh_token",
          refresh_token: name,
          client_id: clientId,
        }),
        400,
        "invalid_grant",
      );
      await expectOAuthError(
        await postForm(`${server.base}/token`, {
          grant_type: "authorization_code",
          code: "x",
          code_verifier: verifier,
          client_id: name,
          redirect_uri: REDIRECT_URI,
        }),
        401,
        "invalid_client",
      );
      expect(writesSince(server, before)).toEqual([]);
    },
  );
});

describe("hostile names at /authorize", () => {
  it.each(HOSTILE)(
    "%s as client_id, response_type, scope or PKCE method: refused, nothing pending",
    async (name) => {
      const server = await startServer();
      const clientId = await registerPublic(server.base);
      const { challenge } = await pkce();
      const before = server.store.writes.length;
      const browser = new Browser();
      // An unknown client: our own error page, never a redirect.
      await expectErrorPage(
        await browser.fetch(authorizeUrl(server, { clientId: name, challenge })),
      );
      for (const [field, error] of [
        ["response_type", "unsupported_response_type"],
        ["code_challenge_method", "invalid_request"],
      ] as const) {
        const response = await browser.fetch(
          authorizeUrl(server, { clientId, challenge, extra: { [field]: name } }),
        );
        expectErrorRedirect(response, server, { error });
      }
      const scoped = await openAuthorize(browser, server, { clientId, challenge, scope: name });
      expectErrorRedirect(scoped.response, server, { error: "invalid_scope" });
      expect(writesSince(server, before).filter((key) => !key.startsWith("as:login"))).toEqual([]);
    },
  );
});

describe("hostile keys in a registration", () => {
  it("takes nothing from __proto__ or constructor keys of the JSON body", async () => {
    const server = await startServer();
    const body = `{"redirect_uris":["${REDIRECT_URI}"],"token_endpoint_auth_method":"none","client_name":"Proto","__proto__":{"scope":"notes:write","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic"},"constructor":{"prototype":{"polluted":true}}}`;
    const response = await fetch(`${server.base}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    expect(response.status).toBe(201);
    const client = (await response.json()) as Record<string, unknown>;
    expect(client.scope).toBeUndefined();
    expect(client.grant_types).toEqual(["authorization_code", "refresh_token"]);
    expect(client.token_endpoint_auth_method).toBe("none");
    expect(client.client_secret).toBeUndefined();
    expect(Object.keys(client)).not.toContain("__proto__");
    expect(Object.keys(client)).not.toContain("constructor");
    expect(Object.hasOwn(Object.prototype, "polluted")).toBe(false);
  });

  it.each(HOSTILE)(
    "%s as a grant type, response type or auth method: invalid_client_metadata, nothing stored",
    async (name) => {
      const server = await startServer();
      const before = server.store.writes.length;
      const base = { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none" };
      for (const metadata of [
        { ...base, grant_types: [name] },
        { ...base, response_types: [name] },
        { ...base, token_endpoint_auth_method: name },
        { ...base, application_type: name },
      ]) {
        await expectOAuthError(
          await register(server.base, metadata),
          400,
          "invalid_client_metadata",
        );
      }
      expect(writesSince(server, before)).toEqual([]);
    },
  );
});
