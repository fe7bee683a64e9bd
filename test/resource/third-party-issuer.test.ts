/**
 * jwksVerifier and introspectionVerifier against a real third-party authorization server
 * (oidc-provider on loopback; see third-party-idp.ts), through the MCP endpoint as an MCP
 * client sees it (issue 10, point 11). A bad token is a 401 `invalid_token`; an IdP that
 * cannot be asked is a 503 with Retry-After, never a 401 that would send the client to
 * authorize again. Revocation reaches a JWT-protected endpoint only with the `revocation`
 * option (introspection with a short cache). Time moves by injected clocks; jose's JWKS
 * cooldown reads the system clock, so those tests fake Date (and only Date).
 */
import { decodeJwt, decodeProtectedHeader, importJWK, type JWK, SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createDemoServer } from "../../examples/demo/server.ts";
import { mcpApp } from "../../src/index.ts";
import {
  introspectionVerifier,
  jwksVerifier,
  resourceMetadataUrl,
  type TokenVerifier,
} from "../../src/resource/index.ts";
import type { Logger } from "../../src/util/log.ts";
import { initializeRequest, listen, post } from "../helpers/http.ts";
import { capturingLogger } from "../helpers/log.ts";
import {
  OPAQUE_RESOURCE,
  OTHER_OPAQUE_RESOURCE,
  OTHER_RESOURCE,
  RESOURCE,
  RESOURCE_SERVER,
  refusingUrl,
  signingKey,
  ThirdPartyIdp,
} from "./third-party-idp.ts";

const JWKS = "/jwks";
const INTROSPECTION = "/token/introspection";
const OAUTH_METADATA = "/.well-known/oauth-authorization-server";

let idp: ThirdPartyIdp;
let firstKey: JWK;

beforeAll(async () => {
  firstKey = await signingKey("key-1");
  idp = await new ThirdPartyIdp().start([firstKey]);
});

afterAll(async () => {
  await idp.stop();
  expect(idp.errors).toEqual([]);
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  idp.faults.clear();
});

/** An MCP endpoint (the demo server, with sessions) whose tokens `verify` checks. */
async function endpoint(
  verify: TokenVerifier,
  audience = RESOURCE,
  logger?: Logger,
): Promise<string> {
  const app = mcpApp(createDemoServer(), {
    path: "/mcp",
    sessions: true,
    auth: { issuer: idp.url, audience, verify },
    ...(logger ? { logger } : {}),
  });
  return `${await listen(app)}/mcp`;
}

interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function call(url: string, token: string): Promise<Reply> {
  const response = await post(url, initializeRequest(), { authorization: `Bearer ${token}` });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text.startsWith("{") ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? "{}"));
  } catch {}
  return { status: response.status, headers: response.headers, body };
}

function expectAccepted(reply: Reply): void {
  expect(reply.status).toBe(200);
  expect(reply.headers.get("mcp-session-id")).toBeTruthy();
  expect(reply.body).toMatchObject({ result: { protocolVersion: "2025-11-25" } });
}

/** A 401 invalid_token with the RFC 9728 challenge; no session was opened. */
function expectInvalidToken(reply: Reply, resource = RESOURCE): void {
  expect(reply.status).toBe(401);
  const challenge = reply.headers.get("www-authenticate") ?? "";
  expect(challenge).toContain('error="invalid_token"');
  expect(challenge).toContain(`resource_metadata="${resourceMetadataUrl(resource)}"`);
  expect(reply.body).toMatchObject({ error: "invalid_token" });
  expect(reply.headers.get("mcp-session-id")).toBeNull();
}

/** A 503 saying "try again": no challenge (nothing to re-authorize), no session opened. */
function expectUnavailable(reply: Reply): void {
  expect(reply.status).toBe(503);
  expect(reply.headers.get("retry-after")).toBe("5");
  expect(reply.headers.get("www-authenticate")).toBeNull();
  expect(reply.body).toMatchObject({ error: "temporarily_unavailable" });
  expect(reply.headers.get("mcp-session-id")).toBeNull();
}

/** A token that looks like the IdP's (iss, aud, exp) but is signed by someone else's key. */
async function forged(kid: string): Promise<string> {
  const key = await signingKey(kid);
  return new SignJWT({ scope: "notes:read notes:write", client_id: "agent" })
    .setProtectedHeader({ alg: "ES256", kid, typ: "at+jwt" })
    .setIssuer(idp.url)
    .setAudience(RESOURCE)
    .setSubject("agent")
    .setIssuedAt()
    .setExpirationTime("10m")
    .sign(await importJWK(key, "ES256"));
}

const quietly = () => vi.spyOn(console, "error").mockImplementation(() => {});

describe("jwksVerifier against oidc-provider's JWT access tokens", () => {
  const insecure = { allowInsecureRequests: true } as const;

  it("accepts the IdP's token for this resource, with its keys found by discovery", async () => {
    const url = await endpoint(jwksVerifier({ issuer: idp.url, ...insecure }));
    const token = await idp.token();
    expect(decodeProtectedHeader(token)).toMatchObject({ kid: "key-1", alg: "ES256" });
    expect(decodeJwt(token)).toMatchObject({ iss: idp.url, aud: RESOURCE });
    expectAccepted(await call(url, token));
  });

  it("finds the keys through OpenID discovery when the IdP has no RFC 8414 document", async () => {
    const url = await endpoint(jwksVerifier({ issuer: idp.url, ...insecure }));
    idp.faults.set(OAUTH_METADATA, 404);
    const before = idp.count("/.well-known/openid-configuration");
    expectAccepted(await call(url, await idp.token()));
    expect(idp.count("/.well-known/openid-configuration")).toBe(before + 1);
  });

  it("refuses a token for another audience", async () => {
    const url = await endpoint(jwksVerifier({ issuer: idp.url, ...insecure }));
    const token = await idp.token(OTHER_RESOURCE);
    expect(decodeJwt(token).aud).toBe(OTHER_RESOURCE);
    expectInvalidToken(await call(url, token));
  });

  it("refuses a token from another issuer, even one signed with keys it trusts", async () => {
    // Keys fetched from the IdP, but the issuer configured is someone else.
    const url = await endpoint(
      jwksVerifier({ issuer: `${idp.url}/elsewhere`, jwksUri: `${idp.url}${JWKS}`, ...insecure }),
    );
    expectInvalidToken(await call(url, await idp.token()));
  });

  it("refuses an expired token (clock moved past exp), accepting it until then", async () => {
    let now = Date.now();
    const url = await endpoint(jwksVerifier({ issuer: idp.url, ...insecure, clock: () => now }));
    const token = await idp.token();
    const exp = decodeJwt(token).exp! * 1000;
    now = exp - 1_000;
    expectAccepted(await call(url, token));
    now = exp + 1_000;
    expectInvalidToken(await call(url, token));
  });

  it("refuses forged tokens: an unknown kid refetches the keys at most once per cooldown", async () => {
    vi.useFakeTimers({ toFake: ["Date"], shouldAdvanceTime: true });
    const url = await endpoint(jwksVerifier({ issuer: idp.url, ...insecure }));
    expectAccepted(await call(url, await idp.token()));
    const fetched = idp.count(JWKS);

    // Right after a fetch, an unknown kid does not refetch at all.
    for (let i = 0; i < 5; i++) expectInvalidToken(await call(url, await forged(`nope-${i}`)));
    expect(idp.count(JWKS)).toBe(fetched);

    // After the 30 s cooldown, a burst of unknown kids refetches once, then the cooldown holds.
    vi.setSystemTime(Date.now() + 31_000);
    const burst = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => call(url, await forged(`burst-${i}`))),
    );
    for (const reply of burst) expectInvalidToken(reply);
    expect(idp.count(JWKS)).toBe(fetched + 1);

    // The IdP's own kid on a forged signature: a bad signature, no fetch.
    expectInvalidToken(await call(url, await forged("key-1")));
    expect(idp.count(JWKS)).toBe(fetched + 1);
  });

  it("refuses malformed tokens without asking the IdP anything", async () => {
    const url = await endpoint(jwksVerifier({ issuer: idp.url, ...insecure }));
    const asked = [...idp.hits.values()].reduce((a, b) => a + b, 0);
    const unsigned = `${btoa(JSON.stringify({ alg: "none" }))}.${btoa(
      JSON.stringify({ iss: idp.url, aud: RESOURCE, exp: 9_999_999_999 }),
    )}.`.replace(/=/g, "");
    for (const token of ["not-a-jwt", "a.b.c", unsigned]) {
      expectInvalidToken(await call(url, token));
    }
    expect([...idp.hits.values()].reduce((a, b) => a + b, 0)).toBe(asked);
  });

  it("follows a key rotation: the new kid is fetched, old tokens keep working", async () => {
    vi.useFakeTimers({ toFake: ["Date"], shouldAdvanceTime: true });
    const url = await endpoint(jwksVerifier({ issuer: idp.url, ...insecure }));
    const old = await idp.token();
    expectAccepted(await call(url, old));

    const secondKey = await signingKey("key-2");
    idp.rotate([secondKey, firstKey]);
    try {
      const rotated = await idp.token();
      expect(decodeProtectedHeader(rotated).kid).toBe("key-2");
      const fetched = idp.count(JWKS);
      vi.setSystemTime(Date.now() + 31_000);
      expectAccepted(await call(url, rotated));
      expect(idp.count(JWKS)).toBe(fetched + 1);
      expectAccepted(await call(url, old));
      expect(idp.count(JWKS)).toBe(fetched + 1);
    } finally {
      idp.rotate([firstKey]);
    }
  });

  it("answers 503, not 401, while the JWKS endpoint answers 503, and recovers", async () => {
    const logger = capturingLogger();
    const url = await endpoint(jwksVerifier({ issuer: idp.url, ...insecure }), RESOURCE, logger);
    const token = await idp.token();
    idp.faults.set(JWKS, 503);
    for (let i = 0; i < 5; i++) expectUnavailable(await call(url, token));
    // Logged once for the outage (not once a request), with the cause.
    const errors = logger.at("error");
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/cannot be checked/);
    expect(errors[0]!.fields.cause).toBeInstanceOf(Error);
    idp.faults.delete(JWKS);
    expectAccepted(await call(url, token));
    expect(logger.at("info").map((line) => line.message)).toContain("tokens can be checked again");
  });

  it("keeps using fetched keys while the IdP is down, until they are 10 minutes old", async () => {
    vi.useFakeTimers({ toFake: ["Date"], shouldAdvanceTime: true });
    quietly();
    const url = await endpoint(jwksVerifier({ issuer: idp.url, ...insecure }));
    const token = await idp.token();
    expectAccepted(await call(url, token));
    idp.faults.set(JWKS, 503);
    vi.setSystemTime(Date.now() + 9 * 60_000);
    expectAccepted(await call(url, token));
    // jose's cache max-age: past it the keys must be fetched again, and cannot be.
    vi.setSystemTime(Date.now() + 2 * 60_000);
    expectUnavailable(await call(url, token));
  });

  it("answers 503 while the IdP's metadata answers 503", async () => {
    quietly();
    const url = await endpoint(jwksVerifier({ issuer: idp.url, ...insecure }));
    idp.faults.set(OAUTH_METADATA, 503);
    expectUnavailable(await call(url, await idp.token()));
  });

  it("answers 503 when the JWKS endpoint refuses connections", async () => {
    quietly();
    const url = await endpoint(
      jwksVerifier({ issuer: idp.url, jwksUri: `${await refusingUrl()}/jwks`, ...insecure }),
    );
    expectUnavailable(await call(url, await idp.token()));
  });

  it("with a revocation check, an IdP that cannot introspect its JWTs gives 503, loudly", async () => {
    // oidc-provider refuses to introspect structured tokens (unsupported_token_type): the
    // check can never succeed, and the operator must see that rather than accept tokens.
    const logger = capturingLogger();
    const url = await endpoint(
      jwksVerifier({
        issuer: idp.url,
        ...insecure,
        revocation: { clientId: RESOURCE_SERVER.id, clientSecret: RESOURCE_SERVER.secret },
      }),
      RESOURCE,
      logger,
    );
    expectUnavailable(await call(url, await idp.token()));
    expect(logger.at("error")).toHaveLength(1);
  });

  it("validates its options at construction", () => {
    expect(() => jwksVerifier({ issuer: "not a url" })).toThrow(TypeError);
    expect(() => jwksVerifier({ issuer: idp.url })).toThrow(/https/);
    expect(() => jwksVerifier({ issuer: "https://idp.example", algorithms: ["none"] })).toThrow(
      /none/,
    );
    expect(() =>
      jwksVerifier({
        issuer: "https://idp.example",
        revocation: { clientId: "rs", clientSecret: "s", cacheSeconds: 3_600 },
      }),
    ).toThrow(/cacheSeconds/);
  });
});

describe("introspectionVerifier against oidc-provider's opaque access tokens", () => {
  const options = {
    clientId: RESOURCE_SERVER.id,
    clientSecret: RESOURCE_SERVER.secret,
    allowInsecureRequests: true,
  };
  const opaqueEndpoint = (verify: TokenVerifier) => endpoint(verify, OPAQUE_RESOURCE);

  it("accepts an active token for this resource, and caches the answer", async () => {
    const url = await opaqueEndpoint(introspectionVerifier({ issuer: idp.url, ...options }));
    const token = await idp.token(OPAQUE_RESOURCE);
    expect(token.split(".")).toHaveLength(1);
    const asked = idp.count(INTROSPECTION);
    expectAccepted(await call(url, token));
    expectAccepted(await call(url, token));
    expect(idp.count(INTROSPECTION)).toBe(asked + 1);
  });

  it("refuses a revoked token once the cache runs out (clock moved), not before", async () => {
    let now = Date.now();
    const url = await opaqueEndpoint(
      introspectionVerifier({ issuer: idp.url, ...options, cacheSeconds: 30, clock: () => now }),
    );
    const token = await idp.token(OPAQUE_RESOURCE);
    expectAccepted(await call(url, token));
    await idp.revoke(token);
    // Within the cache the answer stands: this is the bound the option promises.
    now += 29_000;
    expectAccepted(await call(url, token));
    now += 2_000;
    expectInvalidToken(await call(url, token), OPAQUE_RESOURCE);
  });

  it("with no cache, a revoked token is refused at once", async () => {
    const url = await opaqueEndpoint(
      introspectionVerifier({ issuer: idp.url, ...options, cacheSeconds: 0 }),
    );
    const token = await idp.token(OPAQUE_RESOURCE);
    expectAccepted(await call(url, token));
    await idp.revoke(token);
    expectInvalidToken(await call(url, token), OPAQUE_RESOURCE);
  });

  it("refuses unknown tokens and tokens for another resource", async () => {
    const url = await opaqueEndpoint(introspectionVerifier({ issuer: idp.url, ...options }));
    expectInvalidToken(await call(url, "an-opaque-token-the-idp-never-issued"), OPAQUE_RESOURCE);
    const other = await idp.token(OTHER_OPAQUE_RESOURCE);
    const asked = idp.count(INTROSPECTION);
    expectInvalidToken(await call(url, other), OPAQUE_RESOURCE);
    // The IdP said active (for another audience): refused here, and asked exactly once.
    expect(idp.count(INTROSPECTION)).toBe(asked + 1);
  });

  it("refuses a token past its exp by our clock, whatever the IdP says", async () => {
    let now = Date.now();
    const url = await opaqueEndpoint(
      introspectionVerifier({ issuer: idp.url, ...options, cacheSeconds: 0, clock: () => now }),
    );
    const token = await idp.token(OPAQUE_RESOURCE);
    expectAccepted(await call(url, token));
    now += 601_000;
    expectInvalidToken(await call(url, token), OPAQUE_RESOURCE);
  });

  it("answers 503 while the introspection endpoint answers 503, and recovers", async () => {
    quietly();
    const url = await opaqueEndpoint(
      introspectionVerifier({ issuer: idp.url, ...options, cacheSeconds: 0 }),
    );
    const token = await idp.token(OPAQUE_RESOURCE);
    idp.faults.set(INTROSPECTION, 503);
    expectUnavailable(await call(url, token));
    idp.faults.delete(INTROSPECTION);
    expectAccepted(await call(url, token));
  });

  it("answers 503 when the IdP refuses connections, and when our credentials are wrong", async () => {
    quietly();
    const refused = await opaqueEndpoint(
      introspectionVerifier({ ...options, issuer: await refusingUrl() }),
    );
    expectUnavailable(await call(refused, "any-token"));
    const misconfigured = await opaqueEndpoint(
      introspectionVerifier({ ...options, issuer: idp.url, clientSecret: "wrong" }),
    );
    expectUnavailable(await call(misconfigured, await idp.token(OPAQUE_RESOURCE)));
  });
});
