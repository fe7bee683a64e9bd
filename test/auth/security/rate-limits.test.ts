/**
 * Rate limits on register, authorize, token (issue 3), the consent form and the login routes
 * (issue 10 point 7; RFC 6585 429 with Retry-After):
 * on by default, per client address, not evaded by a forged X-Forwarded-For, and a refused
 * request issues nothing.
 */
import { request } from "node:http";
import { describe, expect, it } from "vitest";
import {
  authorizeUrl,
  Browser,
  codeFlow,
  expectOAuthError,
  form,
  KEYS,
  pkce,
  postForm,
  REDIRECT_URI,
  redeem,
  register,
  registerPublic,
  startServer,
  tokensOf,
} from "./support.ts";

const HOUR = 3600;

/** Sends a request from another loopback address (127.0.0.0/8 is all loopback on Linux). */
function fromAddress(
  localAddress: string,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: init.method ?? "GET", headers: init.headers ?? {}, localAddress },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

async function expectLimited(response: Response, windowSeconds: number): Promise<void> {
  const retryAfter = Number(response.headers.get("retry-after"));
  await expectOAuthError(response, 429, "temporarily_unavailable");
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
}

describe("rate limits", () => {
  it("limits the token endpoint; a limited request spends nothing; the limit is per address", async () => {
    const server = await startServer({ rateLimits: { token: { limit: 2, windowSeconds: HOUR } } });
    const flow = await codeFlow(server);
    for (let i = 0; i < 2; i++) {
      await expectOAuthError(await redeem(server, flow, { code: "wrong" }), 400, "invalid_grant");
    }
    await expectLimited(await redeem(server, flow), HOUR);
    // A forged X-Forwarded-For does not make a new caller when no proxy is trusted.
    await expectLimited(
      await postForm(
        `${server.base}/token`,
        {
          grant_type: "authorization_code",
          code: flow.code,
          code_verifier: flow.verifier,
          client_id: flow.clientId,
          redirect_uri: flow.redirectUri,
        },
        { "x-forwarded-for": "203.0.113.9" },
      ),
      HOUR,
    );
    expect(server.store.written(KEYS.refresh)).toBe(0);

    // Another address is not limited, and the code was not spent by the refused requests.
    const other = await fromAddress("127.0.0.2", `${server.base}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: flow.code,
        code_verifier: flow.verifier,
        client_id: flow.clientId,
        redirect_uri: flow.redirectUri,
      }).toString(),
    });
    expect(other.status, other.body).toBe(200);
    expect(JSON.parse(other.body)).toHaveProperty("access_token");
  });

  it("limits registration and creates no client when limited", async () => {
    const server = await startServer({
      rateLimits: { register: { limit: 1, windowSeconds: HOUR } },
    });
    await registerPublic(server.base);
    const limited = await register(server.base, {
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: "none",
    });
    await expectLimited(limited, HOUR);
    expect(server.store.written(KEYS.client)).toBe(1);

    const other = await fromAddress("127.0.0.3", `${server.base}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none" }),
    });
    expect(other.status).toBe(201);
  });

  it("limits the authorization endpoint and stores no request when limited", async () => {
    const server = await startServer({
      rateLimits: { authorize: { limit: 1, windowSeconds: HOUR } },
    });
    const clientId = await registerPublic(server.base);
    const { challenge } = await pkce();
    const url = authorizeUrl(server, { clientId, challenge });
    const first = await fetch(url);
    expect(first.status).toBe(200);
    await first.text();
    const pending = server.store.written(KEYS.pending);
    await expectLimited(await fetch(url, { redirect: "manual" }), HOUR);
    expect(server.store.written(KEYS.pending)).toBe(pending);
    expect((await fromAddress("127.0.0.4", url)).status).toBe(200);
  });

  it("is on by default", async () => {
    const server = await startServer();
    const metadata = { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none" };
    let status = 201;
    let attempts = 0;
    while (status === 201 && attempts < 1000) {
      const response = await register(server.base, metadata);
      status = response.status;
      attempts++;
      if (status === 429) {
        await expectOAuthError(response, 429, "temporarily_unavailable");
        expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      } else {
        await response.text();
      }
    }
    expect(status).toBe(429);
    expect(server.store.written(KEYS.client)).toBe(attempts - 1);
  });

  it("still serves the legitimate flow from the same address within the limit", async () => {
    const server = await startServer({ rateLimits: { token: { limit: 3, windowSeconds: HOUR } } });
    const flow = await codeFlow(server);
    const tokens = await tokensOf(await redeem(server, flow));
    const refreshed = await fetch(
      `${server.base}/token`,
      form({
        grant_type: "refresh_token",
        refresh_token: tokens.refresh_token,
        client_id: flow.clientId,
      }),
    );
    expect(refreshed.status).toBe(200);
  });

  it("limits the consent form; a limited consent issues and remembers nothing", async () => {
    const server = await startServer({
      rateLimits: { consent: { limit: 1, windowSeconds: HOUR } },
    });
    const clientId = await registerPublic(server.base);
    const { challenge } = await pkce();
    const browser = new Browser();
    const loginPage = await browser.fetch(authorizeUrl(server, { clientId, challenge }));
    const signedIn = await browser.submit(server.base, await loginPage.text(), {
      username: "alice",
    });
    const cookie = signedIn.headers.getSetCookie()[0]!.split(";")[0]!;
    const consentPage = await browser.fetch(
      new URL(signedIn.headers.get("location")!, server.base).href,
    );
    const html = await consentPage.text();
    const forged = await browser.submit(server.base, html, { decision: "allow", csrf: "x" });
    expect(forged.status).toBe(403);
    await forged.text();

    const writes = server.store.writes.length;
    await expectLimited(await browser.submit(server.base, html, { decision: "allow" }), HOUR);
    const since = server.store.writes.slice(writes);
    expect(
      since.filter((key) => key.startsWith(KEYS.code) || key.startsWith(KEYS.consent)),
    ).toEqual([]);

    // The request was not spent: the same form from another address still works.
    const fields = new URLSearchParams({ decision: "allow" });
    for (const match of html.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) {
      fields.set(match[1]!, match[2]!);
    }
    const other = await fromAddress("127.0.0.5", `${server.base}/consent`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie },
      body: fields.toString(),
    });
    expect(other.status, other.body).toBe(303);
  });

  it("limits the login routes; a limited sign-in sets no cookie and binds nothing", async () => {
    const server = await startServer({ rateLimits: { login: { limit: 1, windowSeconds: HOUR } } });
    const clientId = await registerPublic(server.base);
    const { challenge } = await pkce();
    const browser = new Browser();
    const html = await (await browser.fetch(authorizeUrl(server, { clientId, challenge }))).text();
    const forged = await browser.submit(server.base, html, { username: "alice", csrf: "x" });
    expect(forged.status).toBe(400);
    await forged.text();

    const pending = server.store.written(KEYS.pending);
    const limited = await browser.submit(server.base, html, { username: "alice" });
    expect(limited.headers.getSetCookie()).toEqual([]);
    await expectLimited(limited, HOUR);
    expect(server.store.written(KEYS.pending)).toBe(pending);

    const fields = new URLSearchParams({ username: "alice" });
    for (const match of html.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) {
      if (match[1] !== "username") fields.set(match[1]!, match[2]!);
    }
    const other = await fromAddress("127.0.0.6", `${server.base}/login/dev`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: fields.toString(),
    });
    expect(other.status, other.body).toBe(303);
  });
});
