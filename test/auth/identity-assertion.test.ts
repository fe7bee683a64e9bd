/**
 * Enterprise-managed authorization (MCP ext-auth) at our authorization server: the JWT bearer
 * grant (RFC 7523) with an ID-JAG. The enterprise IdP is played by the test: it signs
 * assertions with a key it publishes at a loopback JWKS URL. Our client gets a token with one
 * and calls a tool; forged, expired, replayed, misdirected and untrusted assertions are refused.
 */
import { Hono } from "hono";
import { decodeJwt, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createDemoServer } from "../../examples/demo/server.ts";
import { type AuditEvent, authorizationServer, devLogin } from "../../src/auth/index.ts";
import { McpClient, OAuthAuthorizer } from "../../src/client/index.ts";
import { mcpApp } from "../../src/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { manualClock } from "../helpers/clock.ts";
import { listen } from "../helpers/http.ts";

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const SECRET = "a-secret-long-enough-for-a-configured-client";
const clock = manualClock();
const audits: AuditEvent[] = [];
let base: string;
let idp: string;
let jwksFetches = 0;
let idpKey: CryptoKey;
let rogueKey: CryptoKey;

beforeAll(async () => {
  const trusted = await generateKeyPair("ES256", { extractable: true });
  idpKey = trusted.privateKey;
  rogueKey = (await generateKeyPair("ES256")).privateKey;
  const idpApp = new Hono();
  idpApp.get("/jwks.json", async (c) => {
    jwksFetches++;
    const jwk = await exportJWK(trusted.publicKey);
    return c.json({ keys: [{ ...jwk, kid: "idp-1", alg: "ES256", use: "sig" }] });
  });
  idp = await listen(idpApp);
  const as = authorizationServer({
    store: memoryStore({ clock: clock.now }),
    login: devLogin(),
    clock: clock.now,
    scopes: ["notes:read", "notes:write"],
    clients: ["agent", "other-agent"].map((id) => ({
      client_id: id,
      client_secret: SECRET,
      grant_types: [],
      redirect_uris: [],
    })),
    identityAssertion: {
      trust: [
        { issuer: idp, jwksUri: `${idp}/jwks.json`, allowInsecureRequests: true },
        // Trusted, but its keys cannot be fetched (nothing listens there).
        {
          issuer: "https://down.idp.example.test",
          jwksUri: "http://127.0.0.1:9/jwks.json",
          allowInsecureRequests: true,
        },
      ],
    },
    audit: (event) => {
      audits.push(event);
    },
  });
  base = await listen(mcpApp(createDemoServer(), { path: "/mcp", auth: as }));
});

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((client) => client.close()));
});

/** An ID-JAG as the IdP issues it, with claims and header to override. */
async function idJag(
  claims: JWTPayload = {},
  options: { key?: CryptoKey; typ?: string; kid?: string; lifetime?: number } = {},
): Promise<string> {
  const now = Math.floor(clock.now() / 1000);
  return new SignJWT({
    client_id: "agent",
    resource: `${base}/mcp`,
    scope: "notes:read notes:write",
    ...claims,
  })
    .setProtectedHeader({
      alg: "ES256",
      typ: options.typ ?? "oauth-id-jag+jwt",
      kid: options.kid ?? "idp-1",
    })
    .setIssuer(typeof claims.iss === "string" ? claims.iss : idp)
    .setSubject("employee-42")
    .setAudience(typeof claims.aud === "string" ? claims.aud : base)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.lifetime ?? 300))
    .setJti(crypto.randomUUID())
    .sign(options.key ?? idpKey);
}

async function grant(
  assertion: string,
  fields: Record<string, string> = {},
  client = "agent",
  secret = SECRET,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${base}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${btoa(`${client}:${secret}`)}`,
    },
    body: new URLSearchParams({ grant_type: JWT_BEARER, assertion, ...fields }),
  });
  const text = await response.text();
  expect(text).not.toContain("    at ");
  return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
}

/** Expects an RFC 6749 §5.2 refusal that issued nothing. */
async function refused(
  assertion: string,
  error: string,
  fields: Record<string, string> = {},
  client = "agent",
): Promise<string> {
  const granted = audits.filter((e) => e.type === "assertion.granted").length;
  const { status, body } = await grant(assertion, fields, client);
  expect({ status, error: body.error }).toEqual({ status: 400, error });
  expect(body.access_token).toBeUndefined();
  expect(audits.filter((e) => e.type === "assertion.granted").length).toBe(granted);
  return String(body.error_description);
}

describe("ID-JAG with the JWT bearer grant", () => {
  it("advertises the grant type", async () => {
    const metadata = (await (
      await fetch(`${base}/.well-known/oauth-authorization-server`)
    ).json()) as {
      grant_types_supported: string[];
      authorization_grant_profiles_supported?: string[];
    };
    expect(metadata.grant_types_supported).toContain(JWT_BEARER);
    expect(metadata.authorization_grant_profiles_supported).toEqual([
      "urn:ietf:params:oauth:grant-profile:id-jag",
    ]);
  });

  it("our client gets a token with the IdP's assertion and calls a tool", async () => {
    const seen: string[] = [];
    const authorizer = new OAuthAuthorizer({
      client: { clientId: "agent", clientSecret: SECRET },
      assertion: async (request) => {
        seen.push(`${request.issuer} ${request.resource}`);
        return idJag({ aud: request.issuer, resource: request.resource });
      },
    });
    const client = new McpClient({ name: "enterprise-agent", version: "1.0.0" });
    open.push(client);
    await client.connect(`${base}/mcp`, { authorizer });
    const result = await client.callTool("add_note", { text: "from the enterprise" });
    expect(result.isError).toBeFalsy();
    expect(seen).toEqual([`${base} ${base}/mcp`]);
    expect(audits.at(-1)).toMatchObject({
      type: "assertion.granted",
      subject: "employee-42",
      clientId: "agent",
      resource: `${base}/mcp`,
      assertionIssuer: idp,
    });
  });

  it("issues a short-lived token and no refresh token; an assertion is good once", async () => {
    const assertion = await idJag();
    const first = await grant(assertion, { scope: "notes:read" });
    expect(first.status).toBe(200);
    expect(first.body.refresh_token).toBeUndefined();
    expect(first.body.scope).toBe("notes:read");
    expect(decodeJwt(String(first.body.access_token))).toMatchObject({
      sub: "employee-42",
      client_id: "agent",
      aud: `${base}/mcp`,
      iss: base,
    });
    expect(await refused(assertion, "invalid_grant")).toMatch(/already used/);
  });

  it("refuses forged assertions, fetching the keys again at most once per 30 s", async () => {
    const fetched = jwksFetches;
    expect(await refused(await idJag({}, { key: rogueKey }), "invalid_grant")).toMatch(/not valid/);
    await refused(await idJag({}, { key: rogueKey, kid: "rotated" }), "invalid_grant");
    await refused(await idJag({}, { key: rogueKey, kid: "rotated-again" }), "invalid_grant");
    expect(jwksFetches - fetched).toBeLessThanOrEqual(1);
    const tampered = (await idJag()).split(".");
    const payload = JSON.parse(Buffer.from(tampered[1]!, "base64url").toString());
    payload.sub = "the-ceo";
    tampered[1] = Buffer.from(JSON.stringify(payload)).toString("base64url");
    await refused(tampered.join("."), "invalid_grant");
    await refused("not-a-jwt", "invalid_grant");
  });

  it("refuses expired, too long-lived and not-an-ID-JAG assertions", async () => {
    const soon = await idJag();
    clock.advance(301_000);
    await refused(soon, "invalid_grant");
    expect(await refused(await idJag({}, { lifetime: 3600 }), "invalid_grant")).toMatch(/longer/);
    expect(await refused(await idJag({}, { typ: "JWT" }), "invalid_grant")).toMatch(/ID-JAG/);
  });

  it("refuses assertions for another audience, issuer, client or resource", async () => {
    await refused(await idJag({ aud: "https://other-as.example.test" }), "invalid_grant");
    expect(
      await refused(
        await idJag({ iss: "https://rogue.example.test" }, { key: rogueKey }),
        "invalid_grant",
      ),
    ).toMatch(/not a trusted/);
    // Another client presenting it is refused, without spending it for the rightful one.
    const agents = await idJag();
    expect(await refused(agents, "invalid_grant", {}, "other-agent")).toMatch(/another client/);
    expect((await grant(agents)).status).toBe(200);
    expect(
      await refused(await idJag(), "invalid_grant", { resource: "https://elsewhere.test/mcp" }),
    ).toMatch(/another resource/);
    // ext-auth §7.6.2: a resource or scope this server does not serve is invalid_grant.
    await refused(await idJag({ resource: "https://elsewhere.test/mcp" }), "invalid_grant");
    await refused(await idJag({ scope: "notes:read admin" }), "invalid_grant");
  });

  it("issues the scopes both asked for and granted, never more", async () => {
    const both = await grant(await idJag({ scope: "notes:read" }), {
      scope: "notes:read notes:write",
    });
    expect(both.status).toBe(200);
    expect(both.body.scope).toBe("notes:read");
    expect(decodeJwt(String(both.body.access_token)).scope).toBe("notes:read");
    await refused(await idJag({ scope: "notes:read" }), "invalid_scope", { scope: "notes:write" });
  });

  it("needs an authenticated client and the assertion", async () => {
    const bad = await grant(await idJag(), {}, "agent", "wrong-secret");
    expect(bad.status).toBe(401);
    expect(bad.body.error).toBe("invalid_client");
    const response = await fetch(`${base}/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${btoa(`agent:${SECRET}`)}`,
      },
      body: new URLSearchParams({ grant_type: JWT_BEARER }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_request" });
  });

  it("answers 503 when a trusted IdP's keys cannot be fetched", async () => {
    const { status, body } = await grant(await idJag({ iss: "https://down.idp.example.test" }));
    expect(status).toBe(503);
    expect(body.error).toBe("temporarily_unavailable");
  });
});

describe("ID-JAG off (the default), and its options", () => {
  it("is neither advertised nor accepted", async () => {
    const off = authorizationServer({
      store: memoryStore(),
      login: devLogin(),
      clients: [{ client_id: "agent", client_secret: SECRET, grant_types: [], redirect_uris: [] }],
    });
    const offBase = await listen(off.app);
    const metadata = (await (
      await fetch(`${offBase}/.well-known/oauth-authorization-server`)
    ).json()) as { grant_types_supported: string[] };
    expect(metadata.grant_types_supported).not.toContain(JWT_BEARER);
    const response = await fetch(`${offBase}/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${btoa(`agent:${SECRET}`)}`,
      },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: await idJag() }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "unsupported_grant_type" });
  });

  it("refuses a bad configuration at construction", () => {
    const make = (identityAssertion: unknown) => () =>
      authorizationServer({
        store: memoryStore(),
        login: devLogin(),
        identityAssertion: identityAssertion as never,
      });
    const idpEntry = { issuer: "https://idp.example.test", jwksUri: "https://idp.example.test/k" };
    expect(make({})).toThrow(/trust/);
    expect(make({ trust: [] })).toThrow(/at least one/);
    expect(make({ trust: [{ ...idpEntry, jwksUri: "http://idp.example.test/k" }] })).toThrow(
      /must be https/,
    );
    expect(make({ trust: [idpEntry, idpEntry] })).toThrow(/twice/);
    expect(make({ trust: [{ ...idpEntry, algorithms: ["none"] }] })).toThrow(/never "none"/);
    expect(make({ trust: [idpEntry], maxLifetimeSeconds: 0 })).toThrow(/maxLifetimeSeconds/);
    expect(make({ trust: [{ jwksUri: idpEntry.jwksUri }] })).toThrow(/issuer must be a URL/);
  });
});
