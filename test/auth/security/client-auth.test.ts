/**
 * Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3
 * and §5.2, RFC 7523, RFC 7662 §2.1), grant types per client, and request hygiene.
 */
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  basic,
  codeFlow,
  expectOAuthError,
  KEYS,
  MACHINE,
  machineClient,
  mcpStatus,
  postForm,
  redeem,
  register,
  registerConfidential,
  registerPublic,
  startServer,
  type TestServer,
  tokenFlow,
  tokensOf,
} from "./support.ts";

const CLIENT_CREDENTIALS = { grant_type: "client_credentials" };

/** A server with the configured machine client (client_credentials is for those only). */
async function machineServer(overrides: Parameters<typeof machineClient>[0] = {}) {
  const server = await startServer({ clients: [machineClient(overrides)] });
  return { server, clientId: MACHINE.clientId, secret: MACHINE.secret };
}

afterEach(() => {
  vi.useRealTimers();
});

function token(server: TestServer, values: Record<string, string>, headers = {}) {
  return postForm(`${server.base}/token`, values, headers);
}

describe("client secrets", () => {
  it("refuses a wrong secret in Basic with 401 invalid_client and a Basic challenge", async () => {
    const { server, clientId, secret } = await machineServer();
    const response = await token(server, CLIENT_CREDENTIALS, {
      authorization: basic(clientId, `${secret}x`),
    });
    await expectOAuthError(response, 401, "invalid_client");
    expect(response.headers.get("www-authenticate")).toMatch(/^Basic /);
    // The right secret still works.
    await tokensOf(
      await token(server, CLIENT_CREDENTIALS, { authorization: basic(clientId, secret) }),
    );
  });

  it("reads Basic credentials as form-urlencoded (RFC 6749 §2.3.1): a plus is a space", async () => {
    const secret = "a machine secret with spaces, long enough 0123";
    const { server, clientId } = await machineServer({ client_secret: secret });
    const form = (text: string) => encodeURIComponent(text).replaceAll("%20", "+");
    const plus = `Basic ${btoa(`${form(clientId)}:${form(secret)}`)}`;
    await tokensOf(await token(server, CLIENT_CREDENTIALS, { authorization: plus }));
    await tokensOf(
      await token(server, CLIENT_CREDENTIALS, { authorization: basic(clientId, secret) }),
    );
    // A literal plus where the secret has a space is still the wrong secret.
    const literal = `Basic ${btoa(`${clientId}:${secret.replaceAll(" ", "%2B")}`)}`;
    await expectOAuthError(
      await token(server, CLIENT_CREDENTIALS, { authorization: literal }),
      401,
      "invalid_client",
    );
  });

  it("refuses an unknown client in Basic with 401 and a Basic challenge", async () => {
    const server = await startServer();
    const response = await token(server, CLIENT_CREDENTIALS, {
      authorization: basic("no-such-client", "secret"),
    });
    await expectOAuthError(response, 401, "invalid_client");
    expect(response.headers.get("www-authenticate")).toMatch(/^Basic /);
  });

  it("refuses a malformed Basic header with 401", async () => {
    const server = await startServer();
    for (const authorization of ["Basic !!!", `Basic ${btoa("no-colon")}`, "Bearer abc"]) {
      const response = await token(server, CLIENT_CREDENTIALS, { authorization });
      await expectOAuthError(response, 401, "invalid_client");
      expect(response.headers.get("www-authenticate")).toMatch(/^Basic /);
    }
  });

  it("refuses a wrong secret in the body with 401 invalid_client", async () => {
    const { server, clientId, secret } = await machineServer({
      token_endpoint_auth_method: "client_secret_post",
    });
    await expectOAuthError(
      await token(server, { ...CLIENT_CREDENTIALS, client_id: clientId, client_secret: "wrong" }),
      401,
      "invalid_client",
    );
    await tokensOf(
      await token(server, { ...CLIENT_CREDENTIALS, client_id: clientId, client_secret: secret }),
    );
  });

  it("refuses a confidential client that presents no secret", async () => {
    const { server, clientId } = await machineServer();
    await expectOAuthError(
      await token(server, { ...CLIENT_CREDENTIALS, client_id: clientId }),
      401,
      "invalid_client",
    );
  });

  it("refuses two authentication methods at once", async () => {
    const { server, clientId, secret } = await machineServer();
    await expectOAuthError(
      await token(
        server,
        { ...CLIENT_CREDENTIALS, client_secret: secret },
        { authorization: basic(clientId, secret) },
      ),
      400,
      "invalid_request",
    );
    await expectOAuthError(
      await token(
        server,
        {
          ...CLIENT_CREDENTIALS,
          client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
          client_assertion: "a.b.c",
        },
        { authorization: basic(clientId, secret) },
      ),
      400,
      "invalid_request",
    );
  });

  it("refuses a body client_id that differs from the Basic one", async () => {
    const { server, clientId, secret } = await machineServer();
    const other = await registerConfidential(server.base);
    await expectOAuthError(
      await token(
        server,
        { ...CLIENT_CREDENTIALS, client_id: other.clientId },
        { authorization: basic(clientId, secret) },
      ),
      400,
      "invalid_request",
    );
  });

  it("refuses a public client that presents a secret", async () => {
    const server = await startServer();
    const flow = await codeFlow(server);
    await expectOAuthError(
      await redeem(server, flow, { client_secret: "guess" }),
      401,
      "invalid_client",
    );
    // Nothing was spent: the code still redeems, once.
    await tokensOf(await redeem(server, flow));
  });

  it("refuses a secret after it expires", async () => {
    const server = await startServer({ registration: { secretTtlSeconds: 60 } });
    const { clientId, secret } = await registerConfidential(server.base);
    // Authenticated, the request gets as far as the grant; unauthenticated, it does not.
    const attempt = () =>
      token(
        server,
        { grant_type: "refresh_token", refresh_token: "not-a-token" },
        { authorization: basic(clientId, secret) },
      );
    await expectOAuthError(await attempt(), 400, "invalid_grant");
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 61_000 });
    await expectOAuthError(await attempt(), 401, "invalid_client");
  });

  it("keeps client secrets, codes and refresh tokens only as hashes", async () => {
    const server = await startServer();
    const { secret } = await registerConfidential(server.base);
    const flow = await codeFlow(server);
    const { refresh_token } = await tokensOf(await redeem(server, flow));
    const stored: string[] = [];
    for (const key of new Set(server.store.writes)) {
      stored.push(key, JSON.stringify(await server.store.get(key)));
    }
    const dump = stored.join("\n");
    for (const secretValue of [secret, flow.code, refresh_token]) {
      expect(dump).not.toContain(secretValue);
    }
  });
});

describe("private_key_jwt (RFC 7523)", () => {
  /** A server with a configured private_key_jwt machine client, and assertions for it. */
  async function keyClient() {
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
    const { client_secret: _secret, ...machine } = machineClient({
      token_endpoint_auth_method: "private_key_jwt",
      jwks: { keys: [jwk as Record<string, unknown>] },
    });
    const server = await startServer({ clients: [machine] });
    const clientId = machine.client_id;
    const assertion = (claims: Record<string, unknown> = {}, key: CryptoKey = privateKey) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({
        iss: clientId,
        sub: clientId,
        aud: `${server.base}/token`,
        iat: now,
        exp: now + 60,
        jti: crypto.randomUUID(),
        ...claims,
      })
        .setProtectedHeader({ alg: "ES256", kid: "k1" })
        .sign(key);
    };
    return { server, clientId, assertion };
  }

  const withAssertion = (assertion: string) => ({
    ...CLIENT_CREDENTIALS,
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    client_assertion: assertion,
  });

  it("refuses a replayed assertion", async () => {
    const { server, assertion } = await keyClient();
    const once = await assertion();
    await tokensOf(await token(server, withAssertion(once)));
    await expectOAuthError(await token(server, withAssertion(once)), 401, "invalid_client");
  });

  it("refuses assertions with another key, audience, issuer, no expiry or alg none", async () => {
    const { server, clientId, assertion } = await keyClient();
    const { privateKey: otherKey } = await generateKeyPair("ES256");
    const unsigned = (() => {
      const now = Math.floor(Date.now() / 1000);
      const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
      return `${encode({ alg: "none" })}.${encode({ iss: clientId, sub: clientId, aud: `${server.base}/token`, exp: now + 60, jti: "x" })}.`;
    })();
    for (const bad of [
      await assertion({}, otherKey),
      await assertion({ aud: "https://other.example/token" }),
      await assertion({ iss: "someone-else" }),
      await assertion({ exp: undefined }),
      await assertion({ jti: undefined }),
      unsigned,
    ]) {
      await expectOAuthError(await token(server, withAssertion(bad)), 401, "invalid_client");
    }
    await tokensOf(await token(server, withAssertion(await assertion())));
  });
});

describe("grant types", () => {
  it("refuses client_credentials for a public client, and issues nothing", async () => {
    const server = await startServer();
    const clientId = await registerPublic(server.base);
    await expectOAuthError(
      await token(server, { ...CLIENT_CREDENTIALS, client_id: clientId }),
      400,
      "unauthorized_client",
    );
    // A public client cannot register for it either.
    await expectOAuthError(
      await register(server.base, {
        grant_types: ["client_credentials"],
        token_endpoint_auth_method: "none",
      }),
      400,
      "invalid_client_metadata",
    );
    expect(server.store.written(KEYS.client)).toBe(1);
  });

  it("refuses a grant type the client did not register", async () => {
    const server = await startServer();
    const { clientId, secret } = await registerConfidential(server.base);
    await expectOAuthError(
      await token(server, CLIENT_CREDENTIALS, { authorization: basic(clientId, secret) }),
      400,
      "unauthorized_client",
    );
    const machine = await machineServer();
    await expectOAuthError(
      await token(
        machine.server,
        { grant_type: "refresh_token", refresh_token: "x" },
        { authorization: basic(machine.clientId, machine.secret) },
      ),
      400,
      "unauthorized_client",
    );
  });

  it.each([
    "password",
    "implicit",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "urn:ietf:params:oauth:grant-type:token-exchange",
  ])("answers unsupported_grant_type for %s", async (grantType) => {
    const server = await startServer();
    const clientId = await registerPublic(server.base);
    await expectOAuthError(
      await token(server, {
        grant_type: grantType,
        client_id: clientId,
        username: "alice",
        password: "x",
      }),
      400,
      "unsupported_grant_type",
    );
  });

  it("does not let a registrant choose its client_id or secret (RFC 9700 §4.15)", async () => {
    const server = await startServer();
    const victim = await registerPublic(server.base);
    const response = await register(server.base, {
      client_id: victim,
      client_secret: "chosen",
      redirect_uris: ["http://127.0.0.1:9/callback"],
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as { client_id: string; client_secret: string };
    expect(body.client_id).not.toBe(victim);
    expect(body.client_secret).not.toBe("chosen");
    await expectOAuthError(
      await token(server, CLIENT_CREDENTIALS, { authorization: basic(victim, "chosen") }),
      401,
      "invalid_client",
    );
  });

  it("refuses clients registering grant or response types we do not support", async () => {
    const server = await startServer();
    for (const metadata of [
      { grant_types: ["implicit"] },
      { grant_types: ["password"] },
      { response_types: ["token"] },
      { token_endpoint_auth_method: "client_secret_jwt" },
      { application_type: "desktop" },
      { client_uri: "javascript:alert(1)" },
      { logo_uri: "http://app.example/logo.png" },
      { jwks_uri: "http://app.example/jwks" },
      { token_endpoint_auth_method: "private_key_jwt" },
      { redirect_uris: "http://127.0.0.1:9/callback" },
    ]) {
      await expectOAuthError(
        await register(server.base, {
          redirect_uris: ["http://127.0.0.1:9/callback"],
          ...metadata,
        }),
        400,
        "invalid_client_metadata",
      );
    }
    const notJson = await fetch(`${server.base}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    await expectOAuthError(notJson, 400, "invalid_client_metadata");
    expect(server.store.written(KEYS.client)).toBe(0);
  });
});

describe("request hygiene at /token", () => {
  it("refuses repeated parameters (RFC 6749 §3.2) without spending the code", async () => {
    const server = await startServer();
    const flow = await codeFlow(server);
    for (const repeated of ["grant_type", "code", "client_id", "code_verifier", "redirect_uri"]) {
      const body = new URLSearchParams({
        grant_type: "authorization_code",
        code: flow.code,
        code_verifier: flow.verifier,
        client_id: flow.clientId,
        redirect_uri: flow.redirectUri,
      });
      body.append(repeated, body.get(repeated)!);
      const response = await fetch(`${server.base}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: body.toString(),
      });
      await expectOAuthError(response, 400, "invalid_request");
    }
    const tokens = await tokensOf(await redeem(server, flow));
    expect(await mcpStatus(server, tokens.access_token)).toBe(200);
  });

  it("refuses a JSON body and a missing grant_type", async () => {
    const server = await startServer();
    const flow = await codeFlow(server);
    const json = await fetch(`${server.base}/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "authorization_code", code: flow.code }),
    });
    await expectOAuthError(json, 400, "invalid_request");
    await expectOAuthError(
      await token(server, { client_id: flow.clientId, code: flow.code }),
      400,
      "invalid_request",
    );
    await tokensOf(await redeem(server, flow));
  });
});

describe("introspection (RFC 7662) needs an authenticated confidential client", () => {
  const RESOURCE_SERVER = {
    client_id: "resource-server",
    client_secret: "a-resource-server-secret-of-some-length-01",
    grant_types: [],
    redirect_uris: [],
    introspection: true as const,
  };

  it("refuses anonymous, public and wrongly authenticated callers, and reveals nothing", async () => {
    const server = await startServer({ clients: [RESOURCE_SERVER] });
    const flow = await tokenFlow(server);
    const introspect = (values: Record<string, string>, headers = {}) =>
      postForm(
        `${server.base}/introspect`,
        { token: flow.tokens.access_token, ...values },
        headers,
      );

    const anonymous = await introspect({});
    const anonymousBody = await expectOAuthError(anonymous, 401, "invalid_client");
    expect(anonymousBody).not.toHaveProperty("active");
    await expectOAuthError(await introspect({ client_id: flow.clientId }), 401, "invalid_client");

    const { clientId, secret } = await registerConfidential(server.base);
    const wrong = await introspect({}, { authorization: basic(clientId, "wrong") });
    await expectOAuthError(wrong, 401, "invalid_client");
    expect(wrong.headers.get("www-authenticate")).toMatch(/^Basic /);

    // Authenticated, but neither the token's client nor a configured resource server.
    const stranger = await introspect({}, { authorization: basic(clientId, secret) });
    expect(stranger.status).toBe(200);
    expect(await stranger.json()).toEqual({ active: false });

    const allowed = await introspect(
      {},
      { authorization: basic(RESOURCE_SERVER.client_id, RESOURCE_SERVER.client_secret) },
    );
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get("cache-control")).toBe("no-store");
    expect(await allowed.json()).toMatchObject({ active: true, sub: "alice" });
  });

  it("reports a revoked token as inactive", async () => {
    const server = await startServer({ clients: [RESOURCE_SERVER] });
    const flow = await tokenFlow(server);
    await postForm(`${server.base}/revoke`, {
      token: flow.tokens.refresh_token,
      client_id: flow.clientId,
    });
    for (const value of [flow.tokens.access_token, flow.tokens.refresh_token]) {
      const response = await postForm(
        `${server.base}/introspect`,
        { token: value },
        { authorization: basic(RESOURCE_SERVER.client_id, RESOURCE_SERVER.client_secret) },
      );
      expect(await response.json()).toEqual({ active: false });
    }
  });
});
