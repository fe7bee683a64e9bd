import { afterAll, expect, it } from "vitest";
import { createDemoServer } from "../../examples/demo/server.ts";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { mcpApp } from "../../src/index.ts";
import { redisBus, redisStore } from "../../src/redis/index.ts";
import { grantScenarios } from "../auth/grants-scenarios.ts";
import { eventually } from "../helpers/async.ts";
import { listen } from "../helpers/http.ts";
import { authorizeWithDevLogin, Browser, form } from "../helpers/oauth.ts";
import { client, closeClients, describeRedis, uniquePrefix } from "./support.ts";

const operatorToken = "operator-secret-for-the-redis-store-tests";

describeRedis("grant management on Redis", (url) => {
  afterAll(closeClients);

  grantScenarios("redisStore", async () => {
    const app = mcpApp(createDemoServer(), {
      path: "/mcp",
      auth: authorizationServer({
        store: redisStore({ client: client(url), prefix: uniquePrefix("grants") }),
        login: devLogin(),
        scopes: ["notes:read", "notes:write"],
        operatorApi: { token: operatorToken },
        rateLimits: false,
      }),
    });
    const base = (await listen(app)).replace("127.0.0.1", "localhost");
    return { base, send: (input, init) => fetch(input, init), operatorToken };
  });

  it("a revocation on one instance's page reaches another instance through the Bus", async () => {
    // Two instances of one deployment, answering as one origin (as behind a load balancer).
    const base = "http://localhost";
    const prefix = uniquePrefix("grants-multi");
    const instance = () => {
      const bus = redisBus({ client: client(url), prefix });
      const app = mcpApp(createDemoServer(), {
        path: "/mcp",
        auth: authorizationServer({
          store: redisStore({ client: client(url), prefix }),
          bus,
          login: devLogin(),
          issuer: base,
          scopes: ["notes:read", "notes:write"],
          secret: "redis-grants-secret-at-least-32-characters",
          // Only the Bus can tell the other instance within this test.
          revocationRecheckSeconds: 3600,
          rateLimits: false,
        }),
      });
      const send = async (input: string, init?: RequestInit) => app.fetch(new Request(input, init));
      return { send, bus };
    };
    const one = instance();
    const two = instance();
    await two.bus.ready();
    const browser = new Browser(one.send);
    const authorized = await authorizeWithDevLogin(base, {
      fetch: one.send,
      browser,
      scope: "notes:read",
      resource: `${base}/mcp`,
    });
    const exchanged = await one.send(
      `${base}/token`,
      form({
        grant_type: "authorization_code",
        code: authorized.code,
        code_verifier: authorized.verifier,
        client_id: authorized.clientId,
        redirect_uri: authorized.redirectUri,
      }),
    );
    const tokens = (await exchanged.json()) as { access_token: string; refresh_token: string };
    const pingOnTwo = async () =>
      (
        await two.send(`${base}/mcp`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            "mcp-protocol-version": "2025-11-25",
            authorization: `Bearer ${tokens.access_token}`,
          },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
        })
      ).status;
    // Instance two now holds the grant as not revoked, for an hour unless told otherwise.
    expect(await pingOnTwo()).toBe(200);

    const page = await (await browser.fetch(`${base}/connected-apps`)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const revoked = await browser.fetch(`${base}/connected-apps/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: authorized.clientId, csrf }).toString(),
    });
    expect(revoked.status).toBe(303);

    const refreshed = await two.send(
      `${base}/token`,
      form({
        grant_type: "refresh_token",
        refresh_token: tokens.refresh_token,
        client_id: authorized.clientId,
      }),
    );
    expect(refreshed.status).toBe(400);
    expect(((await refreshed.json()) as { error: string }).error).toBe("invalid_grant");
    expect(await eventually(pingOnTwo, (status) => status === 401)).toBe(401);
  });
});
