/**
 * Grant management over HTTP, the same on every Store: the connected-apps page, the operator
 * API and disabled clients. Each adapter's test file calls `grantScenarios` with an app
 * built on its store (memory and Redis over loopback, Durable Objects inside workerd).
 */
import { describe, expect, it } from "vitest";
import { authorizeWithDevLogin, Browser, form, pkce } from "../helpers/oauth.ts";

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

export interface GrantsTarget {
  /** The issuer and MCP origin, e.g. http://localhost:1234. */
  base: string;
  /** Where requests go: the global fetch, or a Worker app's fetch. */
  send: Fetch;
  /** The operator API's bearer secret, mounted at /admin. */
  operatorToken: string;
}

interface Tokens {
  access_token: string;
  refresh_token: string;
}

/** A user's app: the client, its tokens, and the browser the user signed in with. */
interface Connected {
  clientId: string;
  tokens: Tokens;
  browser: Browser;
}

export function grantScenarios(name: string, setup: () => Promise<GrantsTarget>): void {
  describe(`grant management: ${name}`, () => {
    const connect = async (
      target: GrantsTarget,
      user: string,
      browser = new Browser(target.send),
    ): Promise<Connected> => {
      const authorized = await authorizeWithDevLogin(target.base, {
        fetch: target.send,
        browser,
        user,
        scope: "notes:read",
        resource: `${target.base}/mcp`,
      });
      const response = await target.send(
        `${target.base}/token`,
        form({
          grant_type: "authorization_code",
          code: authorized.code,
          code_verifier: authorized.verifier,
          client_id: authorized.clientId,
          redirect_uri: authorized.redirectUri,
        }),
      );
      expect(response.status).toBe(200);
      return { clientId: authorized.clientId, tokens: (await response.json()) as Tokens, browser };
    };

    /** A refresh; on success the app keeps the rotated token. */
    const refresh = async (target: GrantsTarget, app: Connected) => {
      const response = await target.send(
        `${target.base}/token`,
        form({
          grant_type: "refresh_token",
          refresh_token: app.tokens.refresh_token,
          client_id: app.clientId,
        }),
      );
      const body = (await response.json()) as Tokens & { error?: string };
      if (response.status === 200) app.tokens = body;
      return { status: response.status, error: body.error };
    };

    /** The status of an MCP ping with the app's access token at the built-in resource server. */
    const mcpStatus = async (target: GrantsTarget, app: Connected) =>
      (
        await target.send(`${target.base}/mcp`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            "mcp-protocol-version": "2025-11-25",
            authorization: `Bearer ${app.tokens.access_token}`,
          },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
        })
      ).status;

    const page = async (target: GrantsTarget, browser: Browser) => {
      const response = await browser.fetch(`${target.base}/connected-apps`);
      expect(response.status).toBe(200);
      const html = await response.text();
      const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
      return { response, html, csrf };
    };

    const revokeOnPage = (target: GrantsTarget, browser: Browser, fields: Record<string, string>) =>
      browser.fetch(`${target.base}/connected-apps/revoke`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(fields).toString(),
      });

    const admin = (target: GrantsTarget, path: string, init: RequestInit = {}, token?: string) =>
      target.send(`${target.base}/admin${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token ?? target.operatorToken}` },
      });

    it("revoking on the connected-apps page ends that app's access at once, and only its", async () => {
      const target = await setup();
      const first = await connect(target, "alice");
      const second = await connect(target, "alice", first.browser);
      expect(await refresh(target, first)).toEqual({ status: 200, error: undefined });
      expect(await mcpStatus(target, first)).toBe(200);

      const before = await page(target, first.browser);
      expect(before.response.headers.get("content-security-policy")).toContain(
        "frame-ancestors 'none'",
      );
      expect(before.response.headers.get("x-frame-options")).toBe("DENY");
      expect(before.response.headers.get("cache-control")).toBe("no-store");
      expect(before.html).toContain(`data-client-id="${first.clientId}"`);
      expect(before.html).toContain(`data-client-id="${second.clientId}"`);
      expect(before.html).toContain("<code>notes:read</code>");
      expect(before.html).toContain("Last used: 20");
      expect(before.html).not.toContain(first.tokens.refresh_token);
      expect(before.html).not.toContain(first.tokens.access_token);

      const revoked = await revokeOnPage(target, first.browser, {
        client_id: first.clientId,
        csrf: before.csrf!,
      });
      expect(revoked.status).toBe(303);
      expect(revoked.headers.get("location")).toBe("/connected-apps");

      // At once: the refresh token is refused, the access token gets 401.
      expect(await refresh(target, first)).toEqual({ status: 400, error: "invalid_grant" });
      expect(await mcpStatus(target, first)).toBe(401);
      // The user's other app is untouched.
      expect(await mcpStatus(target, second)).toBe(200);
      expect(await refresh(target, second)).toEqual({ status: 200, error: undefined });

      const after = await page(target, first.browser);
      expect(after.html).not.toContain(`data-client-id="${first.clientId}"`);
      expect(after.html).toContain(`data-client-id="${second.clientId}"`);
    });

    it("refuses a missing or forged form token and another user's app, changing nothing", async () => {
      const target = await setup();
      const alice = await connect(target, "alice");
      const bob = await connect(target, "bob");
      const { csrf } = await page(target, alice.browser);
      const { csrf: bobsCsrf } = await page(target, bob.browser);
      expect(csrf).toBeTruthy();
      expect(bobsCsrf).not.toBe(csrf);

      for (const fields of [
        { client_id: alice.clientId },
        { client_id: alice.clientId, csrf: `${csrf!.slice(0, -2)}AA` },
        // Bob's token is valid for Bob only.
        { client_id: alice.clientId, csrf: bobsCsrf! },
      ]) {
        const refused = await revokeOnPage(target, alice.browser, fields);
        expect(refused.status).toBe(403);
        expect(refused.headers.get("x-frame-options")).toBe("DENY");
      }
      // Without a sign-in, the page's token is worth nothing either.
      const anonymous = await revokeOnPage(target, new Browser(target.send), {
        client_id: alice.clientId,
        csrf: csrf!,
      });
      expect(anonymous.status).toBe(403);
      // Alice names Bob's app with her own valid token: not hers, not found.
      const other = await revokeOnPage(target, alice.browser, {
        client_id: bob.clientId,
        csrf: csrf!,
      });
      expect(other.status).toBe(404);

      expect(await mcpStatus(target, alice)).toBe(200);
      expect(await mcpStatus(target, bob)).toBe(200);
      expect((await refresh(target, bob)).status).toBe(200);
      expect((await refresh(target, alice)).status).toBe(200);
    });

    it("sends a user who is not signed in to sign in, then back to the page", async () => {
      const target = await setup();
      const browser = new Browser(target.send);
      let response = await browser.fetch(`${target.base}/connected-apps`);
      expect(response.status).toBe(303);
      const signIn = new URL(response.headers.get("location")!, target.base).href;
      expect(signIn).toBe(`${target.base}/sign-in?return_to=%2Fconnected-apps`);
      response = await browser.fetch(signIn);
      expect(response.status).toBe(200);
      response = await browser.submit(target.base, await response.text(), { username: "carol" });
      expect(response.status).toBe(303);
      response = await browser.fetch(new URL(response.headers.get("location")!, target.base).href);
      expect(response.status).toBe(303);
      expect(response.headers.get("location")).toBe("/connected-apps");
      const { html } = await page(target, browser);
      expect(html).toContain("Signed in as <strong>carol</strong>");
      expect(html).toContain("No application has access.");
      // Only our own pages: no open redirect.
      const elsewhere = await browser.fetch(
        `${target.base}/sign-in?return_to=${encodeURIComponent("https://evil.example/")}`,
      );
      expect(elsewhere.status).toBe(400);
    });

    it("keeps the operator API behind its credential, 401 without and with a wrong one", async () => {
      const target = await setup();
      const missing = await target.send(`${target.base}/admin/clients`);
      expect(missing.status).toBe(401);
      expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="operator"');
      const wrong = await admin(target, "/clients", {}, `${target.operatorToken}x`);
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get("www-authenticate")).toContain('error="invalid_token"');
      expect(((await wrong.json()) as { error: string }).error).toBe("invalid_token");
      const basic = await target.send(`${target.base}/admin/clients`, {
        headers: { authorization: `Basic ${btoa(`admin:${target.operatorToken}`)}` },
      });
      expect(basic.status).toBe(401);
      // Refused requests change nothing.
      const app = await connect(target, "dave");
      const refusedRevoke = await admin(
        target,
        "/subjects/dave/grants",
        { method: "DELETE" },
        "not-the-token",
      );
      expect(refusedRevoke.status).toBe(401);
      expect(await mcpStatus(target, app)).toBe(200);
    });

    it("lists clients and a subject's grants, never a secret or token, and revokes them", async () => {
      const target = await setup();
      const registered = await target.send(`${target.base}/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          redirect_uris: ["https://app.example/cb"],
          token_endpoint_auth_method: "client_secret_basic",
          client_name: "Confidential",
        }),
      });
      const { client_secret: secret, client_id: confidential } = (await registered.json()) as {
        client_secret: string;
        client_id: string;
      };
      const one = await connect(target, "erin");
      const two = await connect(target, "erin");

      const clients = await admin(target, "/clients");
      expect(clients.status).toBe(200);
      const clientsText = await clients.text();
      expect(clientsText).not.toContain(secret);
      expect(clientsText).not.toContain("secret_hash");
      const listed = (JSON.parse(clientsText) as { clients: { client_id: string }[] }).clients;
      expect(listed.map((c) => c.client_id)).toEqual(
        expect.arrayContaining([confidential, one.clientId, two.clientId]),
      );

      const grants = await admin(target, "/subjects/erin/grants");
      const grantsText = await grants.text();
      for (const token of [one.tokens, two.tokens].flatMap((t) => [
        t.access_token,
        t.refresh_token,
      ]))
        expect(grantsText).not.toContain(token);
      const body = JSON.parse(grantsText) as {
        grants: { grant_id: string; client_id: string; scope: string; last_used_at: number }[];
      };
      expect(body.grants.map((g) => g.client_id).sort()).toEqual(
        [one.clientId, two.clientId].sort(),
      );
      expect(body.grants.every((g) => g.scope === "notes:read" && g.last_used_at > 0)).toBe(true);

      const gid = body.grants.find((g) => g.client_id === one.clientId)!.grant_id;
      expect((await admin(target, `/grants/${gid}`, { method: "DELETE" })).status).toBe(204);
      expect((await admin(target, `/grants/${gid}`, { method: "DELETE" })).status).toBe(404);
      expect(await refresh(target, one)).toEqual({ status: 400, error: "invalid_grant" });
      expect(await mcpStatus(target, one)).toBe(401);
      expect(await mcpStatus(target, two)).toBe(200);

      const all = await admin(target, "/subjects/erin/grants", { method: "DELETE" });
      expect(((await all.json()) as { revoked: string[] }).revoked).toHaveLength(1);
      expect(await refresh(target, two)).toEqual({ status: 400, error: "invalid_grant" });
      expect(await mcpStatus(target, two)).toBe(401);
      const empty = (await (await admin(target, "/subjects/erin/grants")).json()) as {
        grants: unknown[];
      };
      expect(empty.grants).toEqual([]);
    });

    it("refuses a disabled client codes, tokens and refreshes until it is enabled again", async () => {
      const target = await setup();
      const app = await connect(target, "frank");
      // A code issued before the client is disabled is refused at the token endpoint.
      const waiting = await authorizeWithDevLogin(target.base, {
        fetch: target.send,
        browser: app.browser,
        scope: "notes:read",
        resource: `${target.base}/mcp`,
      });
      await admin(target, `/clients/${waiting.clientId}/disable`, { method: "POST" });
      const exchange = await target.send(
        `${target.base}/token`,
        form({
          grant_type: "authorization_code",
          code: waiting.code,
          code_verifier: waiting.verifier,
          client_id: waiting.clientId,
          redirect_uri: waiting.redirectUri,
        }),
      );
      expect(exchange.status).toBe(400);
      expect(((await exchange.json()) as { error: string }).error).toBe("unauthorized_client");

      const disabled = await admin(target, `/clients/${app.clientId}/disable`, { method: "POST" });
      expect(await disabled.json()).toEqual({ client_id: app.clientId, disabled: true });

      expect(await refresh(target, app)).toEqual({ status: 400, error: "unauthorized_client" });
      // The authorization endpoint sends the user back with the error.
      const { challenge } = await pkce();
      const query = new URLSearchParams({
        response_type: "code",
        client_id: app.clientId,
        redirect_uri: "http://127.0.0.1:9/callback",
        code_challenge: challenge,
        code_challenge_method: "S256",
        state: "s",
        resource: `${target.base}/mcp`,
      });
      const authorize = await app.browser.fetch(`${target.base}/authorize?${query}`);
      expect(authorize.status).toBe(303);
      const location = new URL(authorize.headers.get("location")!);
      expect(location.searchParams.get("error")).toBe("unauthorized_client");
      expect(location.searchParams.get("code")).toBeNull();
      const view = (await (await admin(target, `/clients/${app.clientId}`)).json()) as {
        disabled: boolean;
      };
      expect(view.disabled).toBe(true);

      await admin(target, `/clients/${app.clientId}/enable`, { method: "POST" });
      expect((await refresh(target, app)).status).toBe(200);
    });
  });
}
