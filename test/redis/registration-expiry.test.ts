/**
 * Registrations that never complete a grant lapse in Redis itself (issue 10, point 9): the
 * client record carries a Redis expiry, which a completed grant removes. Redis keeps its own
 * clock, so the test reads PTTL and ends a lapse with PEXPIRE instead of waiting.
 */
import { afterAll, expect, it } from "vitest";
import { createDemoServer } from "../../examples/demo/server.ts";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { mcpApp } from "../../src/index.ts";
import { redisStore } from "../../src/redis/index.ts";
import { listen } from "../helpers/http.ts";
import { authorizeWithDevLogin, form, pkce } from "../helpers/oauth.ts";
import { client, closeClients, describeRedis, uniquePrefix } from "./support.ts";

describeRedis("registrations lapse in Redis", (url) => {
  afterAll(closeClients);

  async function start() {
    const prefix = uniquePrefix("registration");
    const redis = client(url);
    const as = authorizationServer({
      store: redisStore({ client: redis, prefix }),
      login: devLogin(),
      registration: { unusedTtlSeconds: 600 },
    });
    const base = await listen(mcpApp(createDemoServer(), { path: "/mcp", auth: as }));
    return { base, redis, key: (clientId: string) => `${prefix}as:client:${clientId}` };
  }

  it("stores a registration with an expiry, and drops the expiry once a code is exchanged", async () => {
    const { base, redis, key } = await start();
    const flow = await authorizeWithDevLogin(base);
    const ttl = await redis.pttl(key(flow.clientId));
    expect(ttl).toBeGreaterThan(590_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
    const token = await fetch(
      `${base}/token`,
      form({
        grant_type: "authorization_code",
        code: flow.code,
        code_verifier: flow.verifier,
        client_id: flow.clientId,
        redirect_uri: flow.redirectUri,
      }),
    );
    expect(token.status).toBe(200);
    expect(await redis.pttl(key(flow.clientId))).toBe(-1);
    const kept = JSON.parse((await redis.get(key(flow.clientId)))!) as Record<string, unknown>;
    expect(kept).not.toHaveProperty("registration_expires_at");
  });

  it("treats a lapsed registration as unknown", async () => {
    const { base, redis, key } = await start();
    const registered = await fetch(`${base}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        redirect_uris: ["http://127.0.0.1:9/callback"],
        token_endpoint_auth_method: "none",
      }),
    });
    const { client_id: clientId } = (await registered.json()) as { client_id: string };
    expect(await redis.pttl(key(clientId))).toBeGreaterThan(0);
    // The lapse, now: what Redis does when the TTL runs out.
    await redis.pexpire(key(clientId), 0);
    expect(await redis.exists(key(clientId))).toBe(0);
    const { challenge } = await pkce();
    const query = new URLSearchParams({
      response_type: "code",
      client_id: clientId,
      redirect_uri: "http://127.0.0.1:9/callback",
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    const page = await fetch(`${base}/authorize?${query}`, { redirect: "manual" });
    expect(page.status).toBe(400);
    expect(await page.text()).toContain("No application is registered");
  });
});
