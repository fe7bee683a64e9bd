/**
 * Rate limits on register, authorize and token (issue 3; RFC 6585 429 with Retry-After):
 * on by default, per client address, not evaded by a forged X-Forwarded-For, and a refused
 * request issues nothing.
 */
import { request } from "node:http";
import { describe, expect, it } from "vitest";
import {
  authorizeUrl,
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
});
