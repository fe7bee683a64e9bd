import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { createDemoServer } from "../../examples/demo/server.ts";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { mcpApp } from "../../src/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { listen, post } from "../helpers/http.ts";
import { form, pkce } from "../helpers/oauth.ts";

// The connected-apps page in a real browser (headless Chromium driven by playwright-core):
// sign in from the page, approve an MCP client, see it listed, revoke it with the button; the
// client's refresh token and access token stop working at once.

/** The MCP client's loopback redirect target: hands over the code the browser lands with. */
async function callbackServer(): Promise<{
  server: Server;
  redirectUri: string;
  code: Promise<string>;
}> {
  let deliver: (code: string) => void = () => {};
  const code = new Promise<string>((resolve) => (deliver = resolve));
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    deliver(url.searchParams.get("code") ?? "");
    response.writeHead(200, { "content-type": "text/html" }).end("<title>Done</title>Done");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, redirectUri: `http://127.0.0.1:${port}/callback`, code };
}

let browser: Browser | undefined;
let callback: Server | undefined;

afterAll(async () => {
  await browser?.close();
  callback?.closeAllConnections();
  await new Promise((resolve) => (callback ? callback.close(resolve) : resolve(undefined)));
});

describe("the connected-apps page in a real browser", () => {
  it("signs in, lists the approved client, and its Revoke button ends the client's access", {
    timeout: 240_000,
  }, async () => {
    const app = mcpApp(createDemoServer(), {
      path: "/mcp",
      auth: authorizationServer({
        store: memoryStore(),
        login: devLogin(),
        scopes: ["notes:read", "notes:write"],
      }),
    });
    const base = (await listen(app)).replace("127.0.0.1", "localhost");
    const target = await callbackServer();
    callback = target.server;
    const registered = await fetch(`${base}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        redirect_uris: [target.redirectUri],
        token_endpoint_auth_method: "none",
        client_name: "Chromium Grants Client",
      }),
    });
    const { client_id: clientId } = (await registered.json()) as { client_id: string };

    browser = await launchChromium();
    const context = await browser.newContext();
    context.setDefaultTimeout(60_000);
    context.setDefaultNavigationTimeout(60_000);
    const page = await context.newPage();

    // Not signed in: the page sends the user to sign in, then back.
    await page.goto(`${base}/connected-apps`);
    await expect(page.title()).resolves.toBe("Sign in (development)");
    await page.getByLabel("User name").fill("alice");
    await Promise.all([
      page.waitForURL(`${base}/connected-apps`),
      page.getByRole("button", { name: "Sign in" }).click(),
    ]);
    await expect(page.locator("body").textContent()).resolves.toContain(
      "No application has access.",
    );

    // Signed in already: the authorization goes straight to consent.
    const { verifier, challenge } = await pkce();
    const query = new URLSearchParams({
      response_type: "code",
      client_id: clientId,
      redirect_uri: target.redirectUri,
      code_challenge: challenge,
      code_challenge_method: "S256",
      state: "s",
      scope: "notes:read notes:write",
      resource: `${base}/mcp`,
    });
    await page.goto(`${base}/authorize?${query}`);
    await Promise.all([
      page.waitForURL((url) => url.href.startsWith(target.redirectUri)),
      page.getByRole("button", { name: "Allow" }).click(),
    ]);
    const exchanged = await fetch(
      `${base}/token`,
      form({
        grant_type: "authorization_code",
        code: await target.code,
        code_verifier: verifier,
        client_id: clientId,
        redirect_uri: target.redirectUri,
      }),
    );
    expect(exchanged.status).toBe(200);
    const tokens = (await exchanged.json()) as { access_token: string; refresh_token: string };
    const ping = () =>
      post(
        `${base}/mcp`,
        { jsonrpc: "2.0", id: 1, method: "ping" },
        {
          authorization: `Bearer ${tokens.access_token}`,
          "mcp-protocol-version": "2025-11-25",
        },
      );
    expect((await ping()).status).toBe(200);

    // The page lists it: name, scopes, when approved and last used.
    const listed = await page.goto(`${base}/connected-apps`);
    expect(listed?.headers()["x-frame-options"]).toBe("DENY");
    expect(listed?.headers()["content-security-policy"]).toContain("form-action 'self'");
    const section = page.locator(`section[data-client-id="${clientId}"]`);
    await expect(section.locator("h2").textContent()).resolves.toBe("Chromium Grants Client");
    await expect(section.locator("code").allTextContents()).resolves.toEqual([
      "notes:read",
      "notes:write",
      `${base}/mcp`,
    ]);
    await expect(section.textContent()).resolves.toMatch(
      /Last used: \d{4}-\d\d-\d\d \d\d:\d\d UTC/,
    );
    await page.screenshot({ path: "/tmp/portcullis-connected-apps.png", fullPage: true });

    // Revoke.
    await Promise.all([
      page.waitForURL(`${base}/connected-apps`),
      page.getByRole("button", { name: "Revoke Chromium Grants Client" }).click(),
    ]);
    await expect(page.locator("body").textContent()).resolves.toContain(
      "No application has access.",
    );
    await context.close();

    // At once: the refresh token is refused and the access token gets 401.
    const refreshed = await fetch(
      `${base}/token`,
      form({
        grant_type: "refresh_token",
        refresh_token: tokens.refresh_token,
        client_id: clientId,
      }),
    );
    expect(refreshed.status).toBe(400);
    expect(((await refreshed.json()) as { error: string }).error).toBe("invalid_grant");
    expect((await ping()).status).toBe(401);
  });
});
