/**
 * The official v2 client (2026-07-28) signs in to the gateway in a real browser: its own OAuth
 * hands the authorization URL to headless Chromium, which signs in on the dev login page,
 * answers the gateway's consent page and lands on the app's loopback callback; the app gives
 * the callback to finishAuth, then lists and calls the upstream's tools.
 * Without Chromium this test fails with how to install it (test/helpers/chromium.ts).
 */
import {
  Client as ClientV2,
  OAuthError,
  StreamableHTTPClientTransport as TransportV2,
  UnauthorizedError,
} from "@modelcontextprotocol/client";
import { Hono } from "hono";
import { decodeJwt } from "jose";
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { recordingFetch, type Seen, tokenRequests } from "../client/oauth/support.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { listen } from "../helpers/http.ts";
import {
  connectV2,
  expectGatewayToken,
  SignInProvider,
  type UserAgent,
} from "../helpers/sdk-oauth.ts";
import { EVERYTHING, spawning, startGateway } from "./support.ts";

let base: string;
let url: string;
/** The app's loopback redirect URI, a real page Chromium lands on. */
let callback: string;
let browser: Browser | undefined;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  ({ base, url } = await startGateway({
    upstreams: [{ name: "everything", transport: spawning([EVERYTHING, "stdio"]).transport }],
  }));
  const app = new Hono();
  app.get("/callback", (c) =>
    c.html(
      c.req.query("code")
        ? "<title>Signed in</title><p>Signed in. You can close this window.</p>"
        : "<title>Not signed in</title><p>Sign-in failed.</p>",
    ),
  );
  callback = `${await listen(app)}/callback`;
}, 60_000);

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((context) => context.close()));
});
afterAll(async () => {
  await browser?.close();
});

/** Headless Chromium as the user: dev login as `user`, then `decision` on the consent page. */
function chromiumAgent(user: string, decision: "Allow" | "Deny") {
  const visited: string[] = [];
  const consent: { heading?: string | null; body?: string | null } = {};
  const agent: UserAgent = async (authorization) => {
    browser ??= await launchChromium();
    const context = await browser.newContext();
    contexts.push(context);
    context.setDefaultTimeout(60_000);
    context.setDefaultNavigationTimeout(60_000);
    const page = await context.newPage();
    page.on("request", (request) => {
      if (request.isNavigationRequest())
        visited.push(`${request.method()} ${new URL(request.url()).pathname}`);
    });
    await page.goto(authorization.href);
    await expect(page.title()).resolves.toBe("Sign in (development)");
    await page.getByLabel("User name").fill(user);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: decision }).waitFor();
    consent.heading = await page.getByRole("heading", { level: 1 }).textContent();
    consent.body = await page.locator("body").textContent();
    await Promise.all([
      page.waitForURL((next) => next.href.startsWith(callback)),
      page.getByRole("button", { name: decision }).click(),
    ]);
    return page.url();
  };
  return { agent, visited, consent };
}

describe("the official v2 client signs in to the gateway in headless Chromium", () => {
  it("allows on the consent page, gets the gateway's token, lists and calls", {
    timeout: 240_000,
  }, async () => {
    const { agent, visited, consent } = chromiumAgent("ada", "Allow");
    const provider = new SignInProvider(agent, callback);
    const seen: Seen[] = [];
    const { client, transport } = await connectV2(url, provider, recordingFetch(seen));
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe("2026-07-28");
      // The gateway's authorize (the dev login form), back to authorize (consent), the app.
      expect(visited).toEqual([
        "GET /authorize",
        "POST /login/dev",
        "GET /authorize",
        "POST /consent",
        "GET /callback",
      ]);
      expect(consent.heading).toBe("Allow Official SDK App to act for you?");
      expect(consent.body).toContain("Signed in as ada");
      expect(consent.body).toContain(url);
      expect(provider.callback?.get("iss")).toBe(base);
      expect(tokenRequests(seen)).toEqual(["authorization_code"]);
      expectGatewayToken(provider.accessToken, url);
      expect(decodeJwt(provider.accessToken).sub).toBe("ada");

      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name)).toContain("everything_echo");
      const echoed = await client.callTool({
        name: "everything_echo",
        arguments: { message: "signed in with Chromium" },
      });
      expect(JSON.stringify(echoed.content)).toContain("signed in with Chromium");
    } finally {
      await transport.close();
    }
  });

  it("denies on the consent page: finishAuth fails with access_denied and no token is issued", {
    timeout: 240_000,
  }, async () => {
    const { agent, visited } = chromiumAgent("ada", "Deny");
    const provider = new SignInProvider(agent, callback);
    const seen: Seen[] = [];
    const transport = new TransportV2(new URL(url), {
      authProvider: provider,
      fetch: recordingFetch(seen),
    });
    const client = new ClientV2(
      { name: "sdk-v2-app", version: "2.0.0" },
      { versionNegotiation: { mode: "auto" } },
    );
    await expect(client.connect(transport)).rejects.toThrow(UnauthorizedError);
    expect(visited.at(-1)).toBe("GET /callback");
    expect(provider.callback?.get("error")).toBe("access_denied");
    const refused = await transport.finishAuth(provider.callback!).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OAuthError);
    expect((refused as OAuthError).code).toBe("access_denied");
    expect(tokenRequests(seen)).toEqual([]);
    expect(provider.tokens()).toBeUndefined();
  });
});
