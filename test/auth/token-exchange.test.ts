/**
 * Token exchange (RFC 8693) at our authorization server, over loopback HTTP: a resource
 * server's client trades a user's access token for one to another resource. The chain is
 * recorded in `act`; every refusal is an RFC 6749 §5.2 error and issues nothing.
 */
import {
  base64url,
  calculateJwkThumbprint,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  type JWK,
  SignJWT,
} from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type AuditEvent,
  type AuthorizationServer,
  authorizationServer,
  devLogin,
} from "../../src/auth/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { manualClock } from "../helpers/clock.ts";
import { listen } from "../helpers/http.ts";
import { authorizeWithDevLogin } from "../helpers/oauth.ts";

const RES_A = "https://a.example.test/mcp";
const RES_B = "https://b.example.test/mcp";
const RES_C = "https://c.example.test/mcp";
const SECRET = "a-secret-long-enough-for-a-configured-client";
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";
const service = (id: string) => ({
  client_id: id,
  client_secret: SECRET,
  grant_types: [],
  redirect_uris: [],
});

const clock = manualClock();
const audits: AuditEvent[] = [];
let as: AuthorizationServer;
let base: string;

beforeAll(async () => {
  as = authorizationServer({
    store: memoryStore({ clock: clock.now }),
    login: devLogin(),
    clock: clock.now,
    scopes: ["notes:read", "notes:write", "files:read"],
    resources: [RES_A, RES_B, RES_C],
    clients: [service("svc-a"), service("svc-b"), service("svc-c"), service("svc-d")],
    tokenExchange: {
      allow: { "svc-a": [RES_B], "svc-b": [RES_C], "svc-c": [RES_A] },
      maxActors: 2,
    },
    audit: (event) => {
      audits.push(event);
    },
  });
  base = await listen(as.app);
});

/** A user's access token for RES_A, from the code flow; bound to `dpopKey` when given. */
async function userToken(
  scope = "notes:read notes:write",
  dpopKey?: JWK,
): Promise<{ token: string; clientId: string }> {
  const authorized = await authorizeWithDevLogin(base, { scope, resource: RES_A });
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
  };
  if (dpopKey) headers.dpop = await proof(dpopKey);
  const response = await fetch(`${base}/token`, {
    method: "POST",
    headers,
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: authorized.code,
      code_verifier: authorized.verifier,
      redirect_uri: authorized.redirectUri,
      client_id: authorized.clientId,
    }),
  });
  const body = (await response.json()) as { access_token: string };
  expect(response.status).toBe(200);
  return { token: body.access_token, clientId: authorized.clientId };
}

async function proof(key: JWK): Promise<string> {
  const { d: _d, ...jwk } = key;
  return new SignJWT({ htm: "POST", htu: `${base}/token` })
    .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk })
    .setIssuedAt(Math.floor(clock.now() / 1000))
    .setJti(base64url.encode(crypto.getRandomValues(new Uint8Array(16))))
    .sign(key);
}

async function newKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return exportJWK(privateKey);
}

async function exchange(
  clientId: string,
  fields: Record<string, string>,
  options: { secret?: string; dpop?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    authorization: `Basic ${btoa(`${clientId}:${options.secret ?? SECRET}`)}`,
  };
  if (options.dpop) headers.dpop = options.dpop;
  const response = await fetch(`${base}/token`, {
    method: "POST",
    headers,
    body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE, ...fields }),
  });
  const text = await response.text();
  expect(text).not.toContain("    at ");
  return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
}

const trade = (subject: string, resource: string, extra: Record<string, string> = {}) => ({
  subject_token: subject,
  subject_token_type: ACCESS_TOKEN,
  resource,
  ...extra,
});

/** Expects a refusal that issued nothing and told the audit trail nothing. */
async function refused(
  clientId: string,
  fields: Record<string, string>,
  expected: { status: number; error: string },
  options: { secret?: string; dpop?: string } = {},
): Promise<string> {
  const before = audits.filter((e) => e.type === "token.exchanged").length;
  const { status, body } = await exchange(clientId, fields, options);
  expect({ status, error: body.error }).toEqual(expected);
  expect(body.access_token).toBeUndefined();
  expect(audits.filter((e) => e.type === "token.exchanged").length).toBe(before);
  return String(body.error_description);
}

describe("token exchange (RFC 8693)", () => {
  it("advertises the grant type in the metadata", async () => {
    const metadata = (await (
      await fetch(`${base}/.well-known/oauth-authorization-server`)
    ).json()) as { grant_types_supported: string[] };
    expect(metadata.grant_types_supported).toContain(TOKEN_EXCHANGE);
  });

  it("narrows a user's token to another audience, records the actor, shares the grant", async () => {
    const { token } = await userToken();
    const subject = decodeJwt(token);
    const { status, body } = await exchange("svc-a", trade(token, RES_B, { scope: "notes:read" }));
    expect(status).toBe(200);
    expect(body).toMatchObject({
      issued_token_type: ACCESS_TOKEN,
      token_type: "Bearer",
      scope: "notes:read",
    });
    expect(body.refresh_token).toBeUndefined();
    const claims = decodeJwt(String(body.access_token));
    expect(claims).toMatchObject({
      aud: RES_B,
      sub: subject.sub,
      client_id: "svc-a",
      scope: "notes:read",
      gid: subject.gid,
      act: { sub: "svc-a" },
    });
    expect(claims.exp!).toBeLessThanOrEqual(subject.exp!);
    // The resource side sees the actor: the built-in verifier for RES_B accepts it.
    const info = await as.verify(String(body.access_token), base, RES_B);
    expect(info?.claims?.act).toEqual({ sub: "svc-a" });
    expect(info?.kind).toBe("user");
    expect(audits.at(-1)).toMatchObject({
      type: "token.exchanged",
      subject: subject.sub,
      clientId: "svc-a",
      resource: RES_B,
      scopes: ["notes:read"],
      subjectAudience: RES_A,
      actors: ["svc-a"],
      grantId: subject.gid,
    });
  });

  it("keeps every scope when none is asked for, and the audience parameter works too", async () => {
    const { token } = await userToken();
    const { status, body } = await exchange("svc-a", {
      subject_token: token,
      subject_token_type: ACCESS_TOKEN,
      audience: RES_B,
    });
    expect(status).toBe(200);
    expect(body.scope).toBe("notes:read notes:write");
  });

  it("nests act on a second hop, and refuses a chain longer than maxActors", async () => {
    const { token } = await userToken();
    const first = await exchange("svc-a", trade(token, RES_B));
    const second = await exchange("svc-b", trade(String(first.body.access_token), RES_C));
    expect(second.status).toBe(200);
    const claims = decodeJwt(String(second.body.access_token));
    expect(claims.act).toEqual({ sub: "svc-b", act: { sub: "svc-a" } });
    expect(claims.client_id).toBe("svc-b");
    expect(audits.at(-1)).toMatchObject({ actors: ["svc-b", "svc-a"], subjectAudience: RES_B });
    const text = await refused("svc-c", trade(String(second.body.access_token), RES_A), {
      status: 400,
      error: "invalid_grant",
    });
    expect(text).toMatch(/chain/);
  });

  it("never widens the scope", async () => {
    const { token } = await userToken("notes:read");
    const text = await refused("svc-a", trade(token, RES_B, { scope: "notes:read files:read" }), {
      status: 400,
      error: "invalid_scope",
    });
    expect(text).toContain("files:read");
  });

  it("refuses audiences the policy does not give the client, or the server does not serve", async () => {
    const { token } = await userToken();
    const bad = { status: 400, error: "invalid_target" };
    await refused("svc-a", trade(token, RES_C), bad);
    await refused("svc-a", trade(token, "https://elsewhere.example.test/mcp"), bad);
    await refused("svc-a", trade(token, "not a uri"), bad);
    await refused("svc-a", { subject_token: token, subject_token_type: ACCESS_TOKEN }, bad);
    await refused("svc-a", trade(token, RES_B, { audience: RES_C }), bad);
  });

  it("refuses clients the policy does not name, public clients and bad credentials", async () => {
    const { token, clientId } = await userToken();
    await refused("svc-d", trade(token, RES_B), { status: 400, error: "unauthorized_client" });
    const response = await fetch(`${base}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: TOKEN_EXCHANGE,
        client_id: clientId,
        ...trade(token, RES_B),
      }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "unauthorized_client" });
    await refused(
      "svc-a",
      trade(token, RES_B),
      { status: 401, error: "invalid_client" },
      { secret: "wrong" },
    );
  });

  it("refuses malformed requests with invalid_request", async () => {
    const { token } = await userToken();
    const bad = { status: 400, error: "invalid_request" };
    await refused("svc-a", { resource: RES_B }, bad);
    await refused("svc-a", { subject_token: token, resource: RES_B }, bad);
    await refused(
      "svc-a",
      trade(token, RES_B, { subject_token_type: "urn:ietf:params:oauth:token-type:id_token" }),
      bad,
    );
    await refused(
      "svc-a",
      trade(token, RES_B, { actor_token: token, actor_token_type: ACCESS_TOKEN }),
      bad,
    );
    await refused(
      "svc-a",
      trade(token, RES_B, {
        requested_token_type: "urn:ietf:params:oauth:token-type:refresh_token",
      }),
      bad,
    );
  });

  it("refuses subject tokens that are forged, revoked or expired", async () => {
    const bad = { status: 400, error: "invalid_grant" };
    await refused("svc-a", trade("not.a.token", RES_B), bad);
    const { token, clientId } = await userToken();
    // A token of ours for another issuer path is not ours: the signature check fails on edits.
    const [h, p, s] = token.split(".");
    const edited = JSON.parse(Buffer.from(p!, "base64url").toString());
    edited.scope = "notes:read notes:write files:read";
    await refused(
      "svc-a",
      trade(`${h}.${Buffer.from(JSON.stringify(edited)).toString("base64url")}.${s}`, RES_B),
      bad,
    );

    const earlier = await exchange("svc-a", trade(token, RES_B));
    expect(earlier.status).toBe(200);
    const revoked = await fetch(`${base}/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token, client_id: clientId }),
    });
    expect(revoked.status).toBe(200);
    await refused("svc-a", trade(token, RES_B), bad);
    // The exchanged token shares the grant: revoking the user's grant ends it too.
    expect(await as.verify(String(earlier.body.access_token), base, RES_B)).toBeUndefined();

    const fresh = await userToken();
    clock.advance(3601_000);
    await refused("svc-a", trade(fresh.token, RES_B), bad);
  });

  it("never outlives the subject token", async () => {
    const { token } = await userToken();
    clock.advance(3500_000);
    const { status, body } = await exchange("svc-a", trade(token, RES_B));
    expect(status).toBe(200);
    expect(body.expires_in).toBeLessThanOrEqual(100);
    expect(decodeJwt(String(body.access_token)).exp).toBe(decodeJwt(token).exp);
  });

  it("a DPoP-bound subject token needs a proof by its own key", async () => {
    const key = await newKey();
    const { token } = await userToken("notes:read", key);
    expect(decodeJwt(token).cnf).toEqual({ jkt: await calculateJwkThumbprint(key) });
    const bad = { status: 400, error: "invalid_grant" };
    expect(await refused("svc-a", trade(token, RES_B), bad)).toMatch(/DPoP/);
    await refused("svc-a", trade(token, RES_B), bad, { dpop: await proof(await newKey()) });
    const { status, body } = await exchange("svc-a", trade(token, RES_B), {
      dpop: await proof(key),
    });
    expect(status).toBe(200);
    expect(body.token_type).toBe("DPoP");
    expect(decodeJwt(String(body.access_token)).cnf).toEqual({
      jkt: await calculateJwkThumbprint(key),
    });
  });

  it("decides by a policy function when given one", async () => {
    const asked: unknown[] = [];
    const other = authorizationServer({
      store: memoryStore(),
      login: devLogin(),
      resources: [RES_A, RES_B],
      clients: [service("svc-a")],
      tokenExchange: {
        allow: (request) => {
          asked.push(request);
          return request.scopes.every((scope) => scope === "notes:read");
        },
      },
    });
    const otherBase = await listen(other.app);
    const authorized = await authorizeWithDevLogin(otherBase, {
      scope: "notes:read notes:write",
      resource: RES_A,
    });
    const issued = await fetch(`${otherBase}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: authorized.code,
        code_verifier: authorized.verifier,
        redirect_uri: authorized.redirectUri,
        client_id: authorized.clientId,
      }),
    });
    const { access_token: token } = (await issued.json()) as { access_token: string };
    const ask = (scope: string) =>
      fetch(`${otherBase}/token`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization: `Basic ${btoa(`svc-a:${SECRET}`)}`,
        },
        body: new URLSearchParams({
          grant_type: TOKEN_EXCHANGE,
          ...trade(token, RES_B, { scope }),
        }),
      });
    expect((await ask("notes:read")).status).toBe(200);
    const no = await ask("notes:read notes:write");
    expect(no.status).toBe(400);
    expect(await no.json()).toMatchObject({ error: "unauthorized_client" });
    expect(asked[0]).toMatchObject({
      clientId: "svc-a",
      subjectClientId: authorized.clientId,
      subjectAudience: RES_A,
      audience: RES_B,
      scopes: ["notes:read"],
      actors: [],
    });
  });
});

describe("token exchange off (the default)", () => {
  it("is neither advertised nor accepted", async () => {
    const off = authorizationServer({
      store: memoryStore(),
      login: devLogin(),
      resources: [RES_A, RES_B],
      clients: [service("svc-a")],
    });
    const offBase = await listen(off.app);
    const metadata = (await (
      await fetch(`${offBase}/.well-known/oauth-authorization-server`)
    ).json()) as { grant_types_supported: string[] };
    expect(metadata.grant_types_supported).not.toContain(TOKEN_EXCHANGE);
    const response = await fetch(`${offBase}/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${btoa(`svc-a:${SECRET}`)}`,
      },
      body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE, ...trade("x.y.z", RES_B) }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "unsupported_grant_type" });
  });

  it("refuses a bad configuration at construction", () => {
    const make = (tokenExchange: unknown) => () =>
      authorizationServer({
        store: memoryStore(),
        login: devLogin(),
        tokenExchange: tokenExchange as never,
      });
    expect(make({})).toThrow(/tokenExchange.allow/);
    expect(make({ allow: { a: ["relative/path"] } })).toThrow(/absolute resource URIs/);
    expect(make({ allow: { a: "https://b.example.test" } })).toThrow(/absolute resource URIs/);
    expect(make({ allow: {}, maxActors: 0 })).toThrow(/maxActors/);
    expect(make(null)).toThrow(/tokenExchange must be an object/);
  });
});
