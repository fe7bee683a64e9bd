import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { decodeJwt } from "jose";
import { type Browser, chromium } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { createDemoApp } from "../../examples/demo/server.ts";
import { listen } from "../helpers/http.ts";
import { form, pkce } from "../helpers/oauth.ts";

// A real browser (Chromium from the Debian package, driven by playwright-core) through dev
// login and consent; then the MCP client's side over plain HTTP: token exchange and a tool call.
// Without Chromium this test fails: install it with `apt-get install -y chromium`.

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SCREENSHOT = "/tmp/portcullis-consent.png";

async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}. Install the Debian package ` +
        "(apt-get update && apt-get install -y chromium) or set CHROMIUM_PATH.",
    );
  }
  try {
    return await chromium.launch({
      executablePath: CHROMIUM,
      // Playwright starts every launch on a fresh temporary profile, removed on close.
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      timeout: 120_000,
    });
  } catch (error) {
    throw new Error(
      `Chromium at ${CHROMIUM} could not be started: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** The MCP client's loopback redirect target: records what the authorization server sends. */
async function callbackServer(): Promise<{
  server: Server;
  redirectUri: string;
  received: Promise<URL>;
}> {
  let deliver: (url: URL) => void = () => {};
  const received = new Promise<URL>((resolve) => (deliver = resolve));
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    if (url.pathname !== "/callback") {
      response.writeHead(404).end();
      return;
    }
    deliver(url);
    response
      .writeHead(200, { "content-type": "text/html; charset=utf-8" })
      .end("<!doctype html><title>Done</title><p>Signed in. You can close this window.</p>");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, redirectUri: `http://127.0.0.1:${port}/callback`, received };
}

let browser: Browser | undefined;
let callback: Server | undefined;

afterAll(async () => {
  await browser?.close();
  callback?.closeAllConnections();
  await new Promise((resolve) => (callback ? callback.close(resolve) : resolve(undefined)));
});

describe("the built-in authorization server in a real browser", () => {
  it("signs in, shows consent, redirects with a code; the MCP client then calls a scoped tool", {
    timeout: 240_000,
  }, async () => {
    const base = (await listen(createDemoApp())).replace("127.0.0.1", "localhost");
    const mcp = `${base}/mcp`;
    const target = await callbackServer();
    callback = target.server;

    // The MCP client registers itself with a loopback redirect URI.
    const registered = await fetch(`${base}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        redirect_uris: [target.redirectUri],
        token_endpoint_auth_method: "none",
        client_name: "Browser Test Client",
      }),
    });
    expect(registered.status).toBe(201);
    const { client_id: clientId } = (await registered.json()) as { client_id: string };
    const { verifier, challenge } = await pkce();
    const state = crypto.randomUUID();

    browser = await launchChromium();
    const context = await browser.newContext();
    context.setDefaultTimeout(60_000);
    context.setDefaultNavigationTimeout(60_000);
    const page = await context.newPage();

    const query = new URLSearchParams({
      response_type: "code",
      client_id: clientId,
      redirect_uri: target.redirectUri,
      code_challenge: challenge,
      code_challenge_method: "S256",
      state,
      scope: "notes:read notes:write",
      resource: mcp,
    });
    const first = await page.goto(`${base}/authorize?${query}`);
    expect(first?.status()).toBe(200);

    // Dev login.
    await expect(page.title()).resolves.toBe("Sign in (development)");
    await page.getByLabel("User name").fill("alice");
    const [consentResponse] = await Promise.all([
      page.waitForResponse(
        (response) =>
          new URL(response.url()).pathname === "/authorize" &&
          new URL(response.url()).searchParams.has("request_id"),
      ),
      page.getByRole("button", { name: "Sign in" }).click(),
    ]);
    expect(consentResponse.status()).toBe(200);
    const headers = consentResponse.headers();
    expect(headers["x-frame-options"]).toBe("DENY");
    expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(headers["referrer-policy"]).toBe("no-referrer");

    // Consent: client name, redirect host and scopes, and the anti-framing headers.
    await page.getByRole("button", { name: "Allow" }).waitFor();
    await expect(page.getByRole("heading", { level: 1 }).textContent()).resolves.toBe(
      "Allow Browser Test Client to act for you?",
    );
    const body = await page.locator("body").textContent();
    expect(body).toContain("Signed in as alice");
    expect(body).toContain(new URL(target.redirectUri).host);
    expect(await page.locator("li").allTextContents()).toEqual(["notes:read", "notes:write"]);
    expect(body).toContain(mcp);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // The login is remembered in a __Host- cookie: HttpOnly, Secure, host-only, path /.
    const cookies = await context.cookies(base);
    const login = cookies.find((cookie) => cookie.name === "__Host-portcullis-login");
    expect(login, JSON.stringify(cookies)).toBeDefined();
    expect(login).toMatchObject({
      httpOnly: true,
      secure: true,
      path: "/",
      sameSite: "Lax",
      domain: "localhost",
    });
    // Not readable from the page's scripts.
    expect(await page.evaluate(() => document.cookie)).not.toContain("portcullis-login");

    // Allow: the browser lands on the MCP client's callback with the code.
    await Promise.all([
      page.waitForURL((url) => url.href.startsWith(target.redirectUri)),
      page.getByRole("button", { name: "Allow" }).click(),
    ]);
    await expect(page.locator("body").textContent()).resolves.toContain("Signed in.");
    const landed = await target.received;
    expect(landed.searchParams.get("state")).toBe(state);
    expect(landed.searchParams.get("iss")).toBe(base);
    const code = landed.searchParams.get("code");
    expect(code).toBeTruthy();
    await context.close();

    // The MCP client exchanges the code...
    const tokenResponse = await fetch(
      `${base}/token`,
      form({
        grant_type: "authorization_code",
        code: code!,
        code_verifier: verifier,
        client_id: clientId,
        redirect_uri: target.redirectUri,
        resource: mcp,
      }),
    );
    expect(tokenResponse.status).toBe(200);
    const tokens = (await tokenResponse.json()) as {
      access_token: string;
      token_type: string;
      scope: string;
    };
    expect(tokens.token_type).toBe("Bearer");
    expect(tokens.scope).toBe("notes:read notes:write");
    const claims = decodeJwt(tokens.access_token);
    expect(claims).toMatchObject({ sub: "alice", client_id: clientId, aud: mcp, iss: base });

    // ...and calls the tool that needs notes:write.
    const client = new Client({ name: "browser-e2e", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(mcp), {
        requestInit: { headers: { authorization: `Bearer ${tokens.access_token}` } },
      }),
    );
    try {
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name)).toContain("add_note");
      const result = await client.callTool({
        name: "add_note",
        arguments: { text: "written after a browser sign-in" },
      });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toEqual({ id: "1" });
      const listed = await client.callTool({ name: "list_notes", arguments: {} });
      expect(listed.content).toEqual([
        { type: "text", text: "1: written after a browser sign-in" },
      ]);
    } finally {
      await client.close();
    }
  });
});
