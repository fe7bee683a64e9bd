/**
 * Issue 14 end to end in a real browser: our McpClient's OAuth authorizer opens our /authorize
 * in headless Chromium, which signs in on the GitHub stand-in's form, comes back through our
 * callback and consent page, and lands on the client's loopback redirect; the client redeems
 * the code and calls a tool that reaches the stand-in's REST API with the user's GitHub token.
 * Without Chromium this test fails with how to install it (test/helpers/chromium.ts).
 */
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  AuthorizationError,
  McpClient,
  memoryTokenStore,
  OAuthAuthorizer,
} from "../../src/client/index.ts";
import { loopbackRedirect } from "../../src/node/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { manualClock } from "../helpers/clock.ts";
import { gitHubToolsDeployment, OCTOCAT } from "../helpers/github.ts";

let browser: Browser | undefined;
const contexts: BrowserContext[] = [];
const clients: McpClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(contexts.splice(0).map((context) => context.close()));
});
afterAll(async () => {
  await browser?.close();
});

/**
 * A client whose authorizer sends Chromium through the sign-in: GitHub's form, then our
 * consent page, answered with `decision`. Resolves once the client is connected (or refused).
 */
async function signInInChromium(decision: "Allow" | "Deny") {
  const deployment = await gitHubToolsDeployment(memoryStore(), manualClock(), 1);
  browser ??= await launchChromium();
  const context = await browser.newContext();
  contexts.push(context);
  context.setDefaultTimeout(60_000);
  context.setDefaultNavigationTimeout(60_000);
  const page = await context.newPage();
  // Every page load, redirects included, as "METHOD /path".
  const visited: string[] = [];
  page.on("request", (request) => {
    if (request.isNavigationRequest())
      visited.push(`${request.method()} ${new URL(request.url()).pathname}`);
  });

  const open = async (url: string) => {
    const redirectUri = new URL(url).searchParams.get("redirect_uri")!;
    await page.goto(url);
    // Our /authorize sent the browser to GitHub's sign-in form.
    expect(new URL(page.url()).pathname).toBe("/login/oauth/authorize");
    await page.locator('input[name="login"]').fill(OCTOCAT.login);
    await Promise.all([
      page.waitForURL((next) => next.origin === deployment.base && next.pathname === "/authorize"),
      page.getByRole("button", { name: "Authorize" }).click(),
    ]);
    await expect(page.locator("body").textContent()).resolves.toContain("GitHub Tools Client");
    await Promise.all([
      page.waitForURL((next) => next.href.startsWith(redirectUri)),
      page.getByRole("button", { name: decision }).click(),
    ]);
  };

  const tokens = memoryTokenStore();
  const authorizer = new OAuthAuthorizer({
    redirect: loopbackRedirect({ open, print: false }),
    tokens,
    clientMetadata: { client_name: "GitHub Tools Client" },
  });
  const client = new McpClient({ name: "github-tools-client", version: "1.0.0" });
  clients.push(client);
  const mcp = `${deployment.base}/mcp`;
  const connected = client.connect(mcp, { authorizer }).then(
    () => undefined,
    (error: unknown) => error,
  );
  return { ...deployment, client, connected, tokens, mcp, page, visited };
}

describe("signing in through the GitHub stand-in in headless Chromium", () => {
  it("the client gets our token; its tool call reaches the API with the user's GitHub token", {
    timeout: 240_000,
  }, async () => {
    const { client, connected, github, tokens, mcp, base, page, visited } =
      await signInInChromium("Allow");
    expect(await connected).toBeUndefined();
    // Our /authorize, GitHub's form and its submission, our callback, consent, the client's loopback.
    expect(visited).toEqual([
      "GET /authorize",
      "GET /login/oauth/authorize",
      "POST /session",
      "GET /login/github/callback",
      "GET /authorize",
      "POST /consent",
      "GET /callback",
    ]);
    expect(await page.title()).toBe("Authorized");

    const result = await client.callTool("list_repos", {});
    expect(result.isError).toBeFalsy();
    expect(JSON.stringify(result.content)).toContain(`${OCTOCAT.login}/hello-world`);

    // /user at sign-in, then the tool's call: both with the user's GitHub token, never ours.
    const ours = (await tokens.get(base))?.tokens?.[mcp]?.accessToken;
    const upstream = github.currentToken(OCTOCAT.login);
    expect(ours).toBeTruthy();
    expect(upstream).toMatch(/^ghu_/);
    expect(github.apiCalls).toEqual([200, 200]);
    expect(github.apiTokens).toEqual([upstream, upstream]);
    expect(github.apiTokens).not.toContain(ours);
  });

  it("denying consent gives the client access_denied and no tool reaches the API", {
    timeout: 240_000,
  }, async () => {
    const { connected, github, tokens, base, page } = await signInInChromium("Deny");
    const error = await connected;
    expect(error).toBeInstanceOf(AuthorizationError);
    expect(error).toMatchObject({ code: "ERR_AUTHORIZATION_DENIED", oauthError: "access_denied" });
    expect(await page.title()).toBe("Authorization failed");
    expect((await tokens.get(base))?.tokens ?? {}).toEqual({});
    // Only the sign-in's /user lookup: nothing called the API on the user's behalf.
    expect(github.apiCalls).toEqual([200]);
  });
});
