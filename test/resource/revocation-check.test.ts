/**
 * jwksVerifier's revocation check (issue 10, point 11) against an issuer that does introspect
 * its JWT access tokens: Portcullis' own authorization server, run as a third party on another
 * origin (oidc-provider cannot: see third-party-issuer.test.ts). Without the check, a revoked
 * token works until it expires; with it, within `cacheSeconds`. The issuer's clock and ours
 * are injected, never slept on.
 */
import { Hono } from "hono";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createDemoServer } from "../../examples/demo/server.ts";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { mcpApp } from "../../src/index.ts";
import { jwksVerifier, type TokenVerifier } from "../../src/resource/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { initializeRequest, listen, post } from "../helpers/http.ts";
import { AGENT, RESOURCE, RESOURCE_SERVER } from "./third-party-idp.ts";

let issuer: string;
let introspections = 0;
let introspectionFault: number | undefined;
let now = Date.now();

beforeAll(async () => {
  const as = authorizationServer({
    store: memoryStore(),
    login: devLogin(),
    scopes: ["notes:read", "notes:write"],
    resources: [RESOURCE],
    clock: () => now,
    clients: [
      {
        client_id: AGENT.id,
        client_secret: AGENT.secret,
        grant_types: ["client_credentials"],
        redirect_uris: [],
        scope: "notes:read",
      },
      {
        client_id: RESOURCE_SERVER.id,
        client_secret: RESOURCE_SERVER.secret,
        grant_types: [],
        redirect_uris: [],
        // A resource server may introspect others' tokens only when configured to (RFC 7662 §4).
        introspection: [RESOURCE],
      },
    ],
  });
  // The issuer's own origin; the test can make its introspection endpoint fail.
  const front = new Hono();
  front.use("/introspect", async (c, next) => {
    introspections++;
    if (introspectionFault) return c.text("unavailable", introspectionFault as 503);
    await next();
  });
  front.route("/", as.app);
  issuer = await listen(front);
});

afterEach(() => {
  introspectionFault = undefined;
  vi.restoreAllMocks();
});

const basic = `Basic ${btoa(`${AGENT.id}:${AGENT.secret}`)}`;

async function token(): Promise<string> {
  const response = await fetch(`${issuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic },
    body: new URLSearchParams({ grant_type: "client_credentials", resource: RESOURCE }),
  });
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return (JSON.parse(text) as { access_token: string }).access_token;
}

async function revoke(accessToken: string): Promise<void> {
  const response = await fetch(`${issuer}/revoke`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic },
    body: new URLSearchParams({ token: accessToken }),
  });
  expect(response.status).toBe(200);
}

async function endpoint(verify: TokenVerifier): Promise<string> {
  const app = mcpApp(createDemoServer(), {
    path: "/mcp",
    sessions: true,
    auth: { issuer, audience: RESOURCE, verify },
  });
  return `${await listen(app)}/mcp`;
}

async function status(url: string, accessToken: string): Promise<number> {
  const response = await post(url, initializeRequest(), {
    authorization: `Bearer ${accessToken}`,
  });
  const text = await response.text();
  if (response.status === 401) {
    expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect(JSON.parse(text)).toMatchObject({ error: "invalid_token" });
  }
  if (response.status === 503) {
    expect(response.headers.get("retry-after")).toBe("5");
    expect(response.headers.get("www-authenticate")).toBeNull();
    expect(JSON.parse(text)).toMatchObject({ error: "temporarily_unavailable" });
  }
  if (response.status !== 200) expect(response.headers.get("mcp-session-id")).toBeNull();
  return response.status;
}

const options = { issuer: "", allowInsecureRequests: true, clock: () => now };
const revocation = { clientId: RESOURCE_SERVER.id, clientSecret: RESOURCE_SERVER.secret };

describe("revocation with a third-party issuer (jwksVerifier)", () => {
  it("without the check, a revoked JWT keeps working until it expires", async () => {
    const url = await endpoint(jwksVerifier({ ...options, issuer }));
    const accessToken = await token();
    expect(await status(url, accessToken)).toBe(200);
    await revoke(accessToken);
    expect(await status(url, accessToken)).toBe(200);
  });

  it("with the check, a revoked JWT stops working once the cache runs out, not later", async () => {
    const url = await endpoint(
      jwksVerifier({ ...options, issuer, revocation: { ...revocation, cacheSeconds: 30 } }),
    );
    const accessToken = await token();
    const asked = introspections;
    expect(await status(url, accessToken)).toBe(200);
    expect(await status(url, accessToken)).toBe(200);
    expect(introspections).toBe(asked + 1);
    await revoke(accessToken);
    now += 29_000;
    expect(await status(url, accessToken)).toBe(200);
    now += 2_000;
    expect(await status(url, accessToken)).toBe(401);
    expect(introspections).toBe(asked + 2);
  });

  it("with cacheSeconds 0, at once", async () => {
    const url = await endpoint(
      jwksVerifier({ ...options, issuer, revocation: { ...revocation, cacheSeconds: 0 } }),
    );
    const accessToken = await token();
    expect(await status(url, accessToken)).toBe(200);
    await revoke(accessToken);
    expect(await status(url, accessToken)).toBe(401);
  });

  it("only tokens that pass the signature checks are introspected", async () => {
    const url = await endpoint(jwksVerifier({ ...options, issuer, revocation }));
    const asked = introspections;
    const accessToken = await token();
    const [header, payload] = accessToken.split(".");
    for (const bad of ["garbage", `${header}.${payload}.AAAA`]) {
      expect(await status(url, bad)).toBe(401);
    }
    expect(introspections).toBe(asked);
  });

  it("answers 503, not 401, while introspection fails", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const url = await endpoint(
      jwksVerifier({ ...options, issuer, revocation: { ...revocation, cacheSeconds: 0 } }),
    );
    const accessToken = await token();
    introspectionFault = 503;
    expect(await status(url, accessToken)).toBe(503);
    introspectionFault = 500;
    expect(await status(url, accessToken)).toBe(503);
    introspectionFault = undefined;
    expect(await status(url, accessToken)).toBe(200);
  });

  it("answers 503 when the resource server's own credentials are refused", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const url = await endpoint(
      jwksVerifier({ ...options, issuer, revocation: { ...revocation, clientSecret: "wrong" } }),
    );
    expect(await status(url, await token())).toBe(503);
  });
});
