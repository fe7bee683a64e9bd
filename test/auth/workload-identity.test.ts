/**
 * Workload identity: machine clients authenticate at the token endpoint with their platform's
 * JWT as client_assertion (RFC 7523 §2.2). A Kubernetes-style issuer (reusable projected
 * tokens with a configured audience) and a CI-style issuer (single-use tokens for our token
 * endpoint) are played by the test, their keys at loopback JWKS URLs.
 */
import { Hono } from "hono";
import { decodeJwt, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { createDemoServer } from "../../examples/demo/server.ts";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { mcpApp } from "../../src/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { manualClock } from "../helpers/clock.ts";
import { initializeRequest, listen, post } from "../helpers/http.ts";

const K8S = "https://kubernetes.default.svc.cluster.local";
const CI = "https://token.actions.example.test";
const DEPLOYER = "system:serviceaccount:ci:deployer";
const MAIN = "repo:acme/app:ref:refs/heads/main";
const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const clock = manualClock();
let base: string;
let k8sKey: CryptoKey;
let ciKey: CryptoKey;
let rogueKey: CryptoKey;

async function publish(publicKey: CryptoKey): Promise<string> {
  const app = new Hono();
  app.get("/jwks", async (c) =>
    c.json({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" }] }),
  );
  return `${await listen(app)}/jwks`;
}

beforeAll(async () => {
  const k8s = await generateKeyPair("ES256");
  const ci = await generateKeyPair("ES256");
  k8sKey = k8s.privateKey;
  ciKey = ci.privateKey;
  rogueKey = (await generateKeyPair("ES256")).privateKey;
  const as = authorizationServer({
    store: memoryStore({ clock: clock.now }),
    login: devLogin(),
    clock: clock.now,
    scopes: ["deploy:read", "deploy:write"],
    workloadIdentity: {
      issuers: [
        {
          issuer: K8S,
          jwksUri: await publish(k8s.publicKey),
          allowInsecureRequests: true,
          audience: "portcullis",
          allowReuse: true,
          subjects: { [DEPLOYER]: { clientId: "deployer", scope: "deploy:read deploy:write" } },
        },
        {
          issuer: CI,
          jwksUri: await publish(ci.publicKey),
          allowInsecureRequests: true,
          maxLifetimeSeconds: 600,
          subjects: { [MAIN]: { clientId: "ci-main", scope: "deploy:read" } },
        },
      ],
    },
  });
  base = await listen(mcpApp(createDemoServer(), { path: "/mcp", auth: as }));
});

async function workloadToken(
  issuer: string,
  subject: string,
  options: { key?: CryptoKey; aud?: string; lifetime?: number; jti?: string | null } = {},
): Promise<string> {
  const now = Math.floor(clock.now() / 1000);
  const claims: JWTPayload = {};
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", kid: "k1" })
    .setIssuer(issuer)
    .setSubject(subject)
    .setAudience(options.aud ?? (issuer === K8S ? "portcullis" : `${base}/token`))
    .setIssuedAt(now)
    .setExpirationTime(now + (options.lifetime ?? 300));
  if (options.jti !== null) jwt.setJti(options.jti ?? crypto.randomUUID());
  return jwt.sign(options.key ?? (issuer === K8S ? k8sKey : ciKey));
}

async function token(
  assertion: string,
  fields: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${base}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: assertion,
      ...fields,
    }),
  });
  const text = await response.text();
  expect(text).not.toContain("    at ");
  return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
}

async function refused(
  assertion: string,
  expected: { status: number; error: string },
  fields: Record<string, string> = {},
): Promise<string> {
  const { status, body } = await token(assertion, fields);
  expect({ status, error: body.error }).toEqual(expected);
  expect(body.access_token).toBeUndefined();
  return String(body.error_description);
}

const invalidClient = { status: 401, error: "invalid_client" };

describe("workload identity (RFC 7523 client assertions from workload issuers)", () => {
  it("a service account gets a machine token and calls the MCP endpoint with it", async () => {
    const { status, body } = await token(await workloadToken(K8S, DEPLOYER));
    expect(status).toBe(200);
    expect(body.scope).toBe("deploy:read deploy:write");
    expect(body.refresh_token).toBeUndefined();
    expect(decodeJwt(String(body.access_token))).toMatchObject({
      sub: "deployer",
      client_id: "deployer",
      gty: "client_credentials",
      aud: `${base}/mcp`,
    });
    const response = await post(`${base}/mcp`, initializeRequest(), {
      authorization: `Bearer ${body.access_token}`,
    });
    expect(response.status).toBe(200);
  });

  it("an issuer that allows reuse accepts one token until it expires", async () => {
    const projected = await workloadToken(K8S, DEPLOYER, { lifetime: 3600 });
    expect((await token(projected)).status).toBe(200);
    expect((await token(projected, { scope: "deploy:read" })).body.scope).toBe("deploy:read");
    clock.advance(3601_000);
    await refused(projected, invalidClient);
  });

  it("an issuer without allowReuse takes each token once, and needs its jti", async () => {
    const once = await workloadToken(CI, MAIN);
    const first = await token(once);
    expect(first.status).toBe(200);
    expect(first.body.scope).toBe("deploy:read");
    expect(await refused(once, invalidClient)).toMatch(/already used/);
    await refused(await workloadToken(CI, MAIN, { jti: null }), invalidClient);
  });

  it("refuses forged, misdirected, unknown, untrusted and too long-lived tokens", async () => {
    await refused(await workloadToken(K8S, DEPLOYER, { key: rogueKey }), invalidClient);
    await refused(await workloadToken(K8S, DEPLOYER, { aud: `${base}/token` }), invalidClient);
    await refused(await workloadToken(CI, MAIN, { aud: "portcullis" }), invalidClient);
    expect(
      await refused(await workloadToken(K8S, "system:serviceaccount:ci:intruder"), invalidClient),
    ).toMatch(/not a client/);
    await refused(
      await workloadToken("https://other-cluster.example.test", DEPLOYER, { key: rogueKey }),
      invalidClient,
    );
    expect(await refused(await workloadToken(CI, MAIN, { lifetime: 3600 }), invalidClient)).toMatch(
      /longer/,
    );
    const soon = await workloadToken(CI, MAIN);
    clock.advance(301_000);
    await refused(soon, invalidClient);
  });

  it("keeps a workload to its client, its scopes and client_credentials", async () => {
    await refused(
      await workloadToken(K8S, DEPLOYER),
      { status: 400, error: "invalid_request" },
      { client_id: "ci-main" },
    );
    await refused(
      await workloadToken(CI, MAIN),
      { status: 400, error: "invalid_scope" },
      { scope: "deploy:write" },
    );
    const { status, body } = await token(await workloadToken(K8S, DEPLOYER), {
      grant_type: "authorization_code",
      code: "anything",
      code_verifier: "x".repeat(43),
    });
    expect({ status, error: body.error }).toEqual({ status: 400, error: "unauthorized_client" });
  });
});

describe("workload identity options", () => {
  it("refuses a bad configuration at construction", () => {
    const make =
      (workloadIdentity: unknown, clients: unknown[] = []) =>
      () =>
        authorizationServer({
          store: memoryStore(),
          login: devLogin(),
          clients: clients as never,
          workloadIdentity: workloadIdentity as never,
        });
    const entry = {
      issuer: K8S,
      jwksUri: "https://k8s.example.test/openid/v1/jwks",
      subjects: { [DEPLOYER]: { clientId: "deployer" } },
    };
    expect(make({})).toThrow(/issuers/);
    expect(make({ issuers: [entry, entry] })).toThrow(/twice/);
    expect(make({ issuers: [{ ...entry, jwksUri: "http://k8s.example.test/jwks" }] })).toThrow(
      /https/,
    );
    expect(make({ issuers: [{ ...entry, subjects: undefined }] })).toThrow(/subjects/);
    expect(
      make({ issuers: [{ ...entry, subjects: { a: { clientId: "https://x.test/c" } } }] }),
    ).toThrow(/not a URL/);
    expect(
      make({ issuers: [entry] }, [
        { client_id: "deployer", client_secret: "s".repeat(32), redirect_uris: [] },
      ]),
    ).toThrow(/taken/);
    expect(make({ issuers: [{ ...entry, algorithms: ["none"] }] })).toThrow(/none/);
  });
});
