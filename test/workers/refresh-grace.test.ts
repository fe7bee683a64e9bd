/**
 * The refresh grace in workerd, over the Durable Object store (issue 10, point 8): a retry
 * within the grace gets the same successor, parallel presentations yield one successor, and
 * the turn-about attack or a replay after the grace revokes the family. The demo's Worker runs
 * with no grace (see vitest.workers.config.ts), so this file builds the same app with one, and
 * with a clock the test moves.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDemoServer } from "../../examples/demo/server.ts";
import type { DemoEnv } from "../../examples/workers/index.ts";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { durableObjectStore } from "../../src/cloudflare/index.ts";
import { mcpApp } from "../../src/index.ts";
import { authorizeWithDevLogin, form } from "../helpers/oauth.ts";

const bindings = env as unknown as DemoEnv;
const base = "http://localhost";
const GRACE_MS = 10_000;
let instance = 0;

interface Tokens {
  access_token: string;
  refresh_token: string;
}

/** The demo app with a grace and a hand-moved clock, its state in a fresh Durable Object. */
function graceApp() {
  let now = Date.now();
  const app = mcpApp(createDemoServer(), {
    path: "/mcp",
    auth: authorizationServer({
      store: durableObjectStore(bindings.PORTCULLIS_STORE, { name: `grace-${instance++}` }),
      login: devLogin(),
      // A Worker cannot tell who can reach it: the dev login needs a loopback issuer.
      issuer: base,
      scopes: ["notes:read", "notes:write"],
      secret: "workers-grace-secret-at-least-32-characters",
      lifetimes: { refreshGraceMs: GRACE_MS },
      clock: () => now,
    }),
  });
  const send = (input: string | URL | Request, init?: RequestInit) =>
    app.fetch(new Request(input, init));
  const refresh = (clientId: string, token: string) =>
    send(
      `${base}/token`,
      form({ grant_type: "refresh_token", refresh_token: token, client_id: clientId }),
    );
  const mcpStatus = async (token: string) =>
    (
      await send(`${base}/mcp`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": "2025-11-25",
          authorization: `Bearer ${token}`,
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
      })
    ).status;
  const family = async () => {
    const authorized = await authorizeWithDevLogin(base, {
      fetch: send,
      scope: "notes:read",
      resource: `${base}/mcp`,
    });
    const response = await send(
      `${base}/token`,
      form({
        grant_type: "authorization_code",
        code: authorized.code,
        code_verifier: authorized.verifier,
        client_id: authorized.clientId,
        redirect_uri: authorized.redirectUri,
      }),
    );
    expect(response.status).toBe(200);
    return { clientId: authorized.clientId, tokens: (await response.json()) as Tokens };
  };
  return {
    refresh,
    mcpStatus,
    family,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

async function tokensOf(response: Response): Promise<Tokens> {
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return JSON.parse(text) as Tokens;
}

async function revoked(response: Response): Promise<void> {
  expect(response.status).toBe(400);
  expect(await response.json()).toMatchObject({
    error: "invalid_grant",
    error_description: expect.stringMatching(/revoked/),
  });
}

describe("the refresh grace in workerd (Durable Object store)", () => {
  it("runs inside workerd", () => {
    expect(navigator.userAgent).toBe("Cloudflare-Workers");
  });

  it("a retry within the grace gets the same successor; parallel ones too", async () => {
    const server = graceApp();
    const { clientId, tokens } = await server.family();
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => server.refresh(clientId, tokens.refresh_token)),
    );
    const bodies = await Promise.all(responses.map(tokensOf));
    expect(new Set(bodies.map((body) => body.refresh_token)).size).toBe(1);
    server.advance(GRACE_MS - 1);
    const retried = await tokensOf(await server.refresh(clientId, tokens.refresh_token));
    expect(retried.refresh_token).toBe(bodies[0]!.refresh_token);
    expect(await server.mcpStatus(retried.access_token)).toBe(200);
  });

  it("the turn-about attack ends with the family revoked", async () => {
    const server = graceApp();
    const { clientId, tokens } = await server.family();
    const client2 = await tokensOf(await server.refresh(clientId, tokens.refresh_token));
    server.advance(1_000);
    const thief2 = await tokensOf(await server.refresh(clientId, tokens.refresh_token));
    expect(thief2.refresh_token).toBe(client2.refresh_token);
    const client3 = await tokensOf(await server.refresh(clientId, client2.refresh_token));
    server.advance(1_000);
    await revoked(await server.refresh(clientId, tokens.refresh_token));
    await revoked(await server.refresh(clientId, client3.refresh_token));
    expect(await server.mcpStatus(client3.access_token)).toBe(401);
  });

  it("a retry after the grace revokes the family", async () => {
    const server = graceApp();
    const { clientId, tokens } = await server.family();
    const r2 = await tokensOf(await server.refresh(clientId, tokens.refresh_token));
    server.advance(GRACE_MS + 1);
    await revoked(await server.refresh(clientId, tokens.refresh_token));
    await revoked(await server.refresh(clientId, r2.refresh_token));
  });
});
