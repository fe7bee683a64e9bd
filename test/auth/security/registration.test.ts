/**
 * Registration with bounds, and registrations that lapse (issue 10, point 9). Every client
 * metadata field is bounded, for /register and Client ID Metadata Documents alike, and a
 * registered client that never completes a grant is gone after `unusedTtlSeconds`: the
 * Store forgets it (its TTL), and the server treats it as unknown. Time moves by a fake
 * clock (Date only; the network runs on real timers), never by sleeping.
 */

import { exportJWK, generateKeyPair } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { authorizationServer, devLogin } from "../../../src/auth/index.ts";
import {
  authorize,
  authorizeUrl,
  basic,
  expectErrorPage,
  expectOAuthError,
  KEYS,
  pkce,
  postForm,
  publicDns,
  REDIRECT_URI,
  recordingStore,
  redeem,
  register,
  registerConfidential,
  registerPublic,
  startServer,
  type TestServer,
  tokensOf,
} from "./support.ts";

afterEach(() => {
  vi.useRealTimers();
});

const DAY = 86_400;
const long = (length: number, prefix = "") => prefix + "x".repeat(length - prefix.length);
const loopback = (i: number) => `http://127.0.0.1:${9000 + i}/callback`;

async function publicKey(): Promise<Record<string, unknown>> {
  const { publicKey: key } = await generateKeyPair("ES256");
  return { ...(await exportJWK(key)), kid: crypto.randomUUID() };
}

/** Registers `metadata` and expects a refusal with `error`; returns its description. */
async function refused(server: TestServer, metadata: Record<string, unknown>, error: string) {
  const body = await expectOAuthError(
    await register(server.base, {
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: "none",
      ...metadata,
    }),
    400,
    error,
  );
  return body.error_description ?? "";
}

describe("bounds on every registration field", () => {
  it("refuses too many or too long redirect URIs with invalid_redirect_uri", async () => {
    const server = await startServer();
    const many = (count: number) => Array.from({ length: count }, (_, i) => loopback(i));
    for (const redirect_uris of [
      many(21),
      many(1000),
      [long(2049, "https://app.example/cb?")],
      [REDIRECT_URI, long(10_000, "https://app.example/cb?")],
    ]) {
      await refused(server, { redirect_uris }, "invalid_redirect_uri");
    }
    expect(server.store.written(KEYS.client)).toBe(0);
    // At the bounds, it is accepted.
    const response = await register(server.base, {
      redirect_uris: [...many(19), long(2048, "https://app.example/cb?")],
      token_endpoint_auth_method: "none",
    });
    expect(response.status).toBe(201);
  });

  it("refuses long, malformed or deceptive text and URLs with invalid_client_metadata", async () => {
    const server = await startServer();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ client_name: long(201) }, /client_name/],
      [{ client_name: "Good App\u0000" }, /control/],
      [{ client_name: "Evil \u202Eppa dooG" }, /control/],
      [{ client_name: "Line\nbreak" }, /control/],
      [{ client_name: 42 }, /client_name/],
      [{ software_id: long(201) }, /software_id/],
      [{ software_version: long(201) }, /software_version/],
      [{ client_uri: long(2049, "https://app.example/") }, /client_uri/],
      [{ logo_uri: long(2049, "https://app.example/") }, /logo_uri/],
      [{ tos_uri: "http://app.example/tos" }, /tos_uri/],
      [{ policy_uri: "javascript:alert(1)" }, /policy_uri/],
      [{ scope: long(1025) }, /scope/],
      [{ scope: "notes:read  notes:write" }, /scope/],
      [{ scope: 'notes:"read"' }, /scope/],
      [{ scope: ["notes:read"] }, /scope/],
      [{ contacts: Array.from({ length: 11 }, (_, i) => `ops${i}@app.example`) }, /contacts/],
      [{ contacts: [long(321, "ops@")] }, /contacts/],
      [{ contacts: "ops@app.example" }, /contacts/],
      [{ contacts: [{ email: "ops@app.example" }] }, /contacts/],
    ];
    for (const [metadata, message] of cases) {
      expect(await refused(server, metadata, "invalid_client_metadata")).toMatch(message);
    }
    expect(server.store.written(KEYS.client)).toBe(0);
  });

  it("refuses key sets that are large, private, symmetric or doubled", async () => {
    const server = await startServer();
    const keys = await Promise.all(Array.from({ length: 11 }, () => publicKey()));
    const privateKey = await (async () => {
      const { privateKey: key } = await generateKeyPair("ES256", { extractable: true });
      return { ...(await exportJWK(key)), kid: "private" };
    })();
    const jwt = (jwks: unknown, extra: Record<string, unknown> = {}) => ({
      token_endpoint_auth_method: "private_key_jwt",
      jwks,
      ...extra,
    });
    const cases: [Record<string, unknown>, RegExp][] = [
      [jwt({ keys: keys.slice(0, 11) }), /between 1 and 10/],
      [jwt({ keys: Array.from({ length: 200 }, () => keys[0]) }), /between 1 and 10/],
      [jwt({ keys: [] }), /between 1 and 10/],
      [jwt({ keys: [{ ...keys[0], x5c: [long(20_000)] }] }), /larger than 16384 bytes/],
      [jwt({ keys: [privateKey] }), /public keys only/],
      [jwt({ keys: [{ kty: "oct", k: "c2VjcmV0" }] }), /RSA, EC or OKP/],
      [jwt({ keys: ["not a key"] }), /JSON Web Keys/],
      [jwt([keys[0]]), /JWK Set/],
      [jwt({ keys: [keys[0]] }, { jwks_uri: "https://app.example/jwks" }), /not both/],
    ];
    for (const [metadata, message] of cases) {
      expect(await refused(server, metadata, "invalid_client_metadata")).toMatch(message);
    }
    expect(server.store.written(KEYS.client)).toBe(0);
    const accepted = await register(server.base, {
      redirect_uris: [REDIRECT_URI],
      ...jwt({ keys: keys.slice(0, 10) }),
    });
    expect(accepted.status).toBe(201);
  });

  it("keeps what it accepts, without repeats, and shows no internal fields", async () => {
    const server = await startServer();
    const response = await register(server.base, {
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: "none",
      grant_types: Array.from({ length: 1000 }, () => "authorization_code"),
      response_types: ["code", "code"],
      contacts: ["ops@app.example"],
      tos_uri: "https://app.example/tos",
      client_name: "Café ☕",
      introspection: true,
      registration_expires_at: 0,
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      grant_types: ["authorization_code"],
      response_types: ["code"],
      contacts: ["ops@app.example"],
      tos_uri: "https://app.example/tos",
      client_name: "Café ☕",
    });
    expect(body).not.toHaveProperty("introspection");
    expect(body).not.toHaveProperty("registration_expires_at");
    const stored = await server.store.get<Record<string, unknown>>(
      `${KEYS.client}${body.client_id}`,
    );
    expect(stored?.introspection).toBeUndefined();
    expect(stored?.grant_types).toEqual(["authorization_code"]);
  });
});

describe("bounds on metadata documents", () => {
  const CLIENT = "https://client.example/oauth/client.json";

  async function documentServer(document: Record<string, unknown>) {
    const fetchDocument: typeof fetch = async () =>
      new Response(JSON.stringify({ client_id: CLIENT, ...document }), {
        headers: { "content-type": "application/json" },
      });
    return startServer({ metadataDocuments: { fetch: fetchDocument, resolveHost: publicDns } });
  }

  it.each<[string, Record<string, unknown>]>([
    [
      "too many redirect URIs",
      { redirect_uris: Array.from({ length: 21 }, (_, i) => loopback(i)) },
    ],
    ["a deceptive name", { client_name: "Good\u202Eliam" }],
    ["client_credentials", { grant_types: ["authorization_code", "client_credentials"] }],
    ["a private key", { token_endpoint_auth_method: "private_key_jwt", jwks: "private" }],
  ])(
    "refuses a document with %s at /authorize and /token, caching nothing",
    async (_name, flaw) => {
      const valid = { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none" };
      if (flaw.jwks === "private") {
        const { privateKey } = await generateKeyPair("ES256", { extractable: true });
        flaw.jwks = { keys: [await exportJWK(privateKey)] };
      }
      const server = await documentServer({ ...valid, ...flaw });
      const { challenge, verifier } = await pkce();
      const page = await fetch(authorizeUrl(server, { clientId: CLIENT, challenge }), {
        redirect: "manual",
      });
      await expectErrorPage(page);
      const token = await postForm(`${server.base}/token`, {
        grant_type: "authorization_code",
        code: "x",
        code_verifier: verifier,
        client_id: CLIENT,
        redirect_uri: REDIRECT_URI,
      });
      await expectOAuthError(token, 401, "invalid_client");
      expect(server.store.written("as:cimd:")).toBe(0);
      expect(server.store.written("as:pending:")).toBe(0);
      // The same document without the flaw is fine: the flaw is what was refused.
      const control = await documentServer(valid);
      const login = await fetch(authorizeUrl(control, { clientId: CLIENT, challenge }), {
        redirect: "manual",
      });
      expect(login.status).toBe(200);
      expect(await login.text()).toContain('name="username"');
      expect(control.store.written("as:cimd:")).toBe(1);
    },
  );

  it("refuses a client_id URL longer than 2048 characters without fetching it", async () => {
    let fetched = 0;
    const server = await startServer({
      metadataDocuments: {
        fetch: async () => {
          fetched++;
          return new Response("{}");
        },
      },
    });
    const clientId = long(2049, "https://client.example/");
    const { challenge } = await pkce();
    const page = await fetch(authorizeUrl(server, { clientId, challenge }), { redirect: "manual" });
    await expectErrorPage(page);
    expect(fetched).toBe(0);
    expect(server.store.written("as:cimd:")).toBe(0);
  });
});

describe("registrations that never complete a grant lapse", () => {
  /** Moves the clock (Date only) forward by `seconds`. */
  function advance(seconds: number): void {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + seconds * 1000 });
  }

  async function isKnown(server: TestServer, clientId: string): Promise<boolean> {
    const { challenge } = await pkce();
    const page = await fetch(authorizeUrl(server, { clientId, challenge }), { redirect: "manual" });
    const html = await page.text();
    return !html.includes("No application is registered");
  }

  it("forgets an unused registration after a day by default: unknown at /authorize and /token", async () => {
    const server = await startServer();
    const { clientId, secret } = await registerConfidential(server.base);
    const key = `${KEYS.client}${clientId}`;
    advance(DAY - 60);
    expect(await isKnown(server, clientId)).toBe(true);
    advance(120);
    const pending = server.store.written(KEYS.pending);
    expect(await server.store.get(key)).toBeUndefined();
    expect(await isKnown(server, clientId)).toBe(false);
    const { verifier } = await pkce();
    const token = await postForm(
      `${server.base}/token`,
      {
        grant_type: "authorization_code",
        code: "x",
        code_verifier: verifier,
        redirect_uri: REDIRECT_URI,
      },
      { authorization: basic(clientId, secret) },
    );
    await expectOAuthError(token, 401, "invalid_client");
    expect(server.store.written(KEYS.pending)).toBe(pending);
  });

  it("keeps a client for good once it exchanges a code, and not before", async () => {
    const server = await startServer({ registration: { unusedTtlSeconds: 600 } });
    const clientId = await registerPublic(server.base);
    const key = `${KEYS.client}${clientId}`;
    expect(await server.store.get(key)).toMatchObject({
      registration_expires_at: expect.any(Number),
    });
    const { verifier, challenge } = await pkce();
    const { code } = await authorize(server, { clientId, challenge });
    // A code issued but not exchanged is not a completed grant.
    expect(await server.store.get(key)).toHaveProperty("registration_expires_at");
    await tokensOf(await redeem(server, { clientId, code, verifier, redirectUri: REDIRECT_URI }));
    const kept = await server.store.get<Record<string, unknown>>(key);
    expect(kept).toBeDefined();
    expect(kept).not.toHaveProperty("registration_expires_at");
    advance(400 * DAY);
    expect(await server.store.get(key)).toBeDefined();
    expect(await isKnown(server, clientId)).toBe(true);
  });

  it("forgets a client that got a code but never exchanged it", async () => {
    const server = await startServer({ registration: { unusedTtlSeconds: 600 } });
    const clientId = await registerPublic(server.base);
    const { challenge } = await pkce();
    await authorize(server, { clientId, challenge });
    advance(601);
    expect(await isKnown(server, clientId)).toBe(false);
  });

  it("keeps every registration with unusedTtlSeconds 0", async () => {
    const server = await startServer({ registration: { unusedTtlSeconds: 0 } });
    const clientId = await registerPublic(server.base);
    expect(await server.store.get(`${KEYS.client}${clientId}`)).not.toHaveProperty(
      "registration_expires_at",
    );
    advance(400 * DAY);
    expect(await isKnown(server, clientId)).toBe(true);
  });

  it("refuses an unusable TTL when the server is constructed", () => {
    for (const unusedTtlSeconds of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() =>
        authorizationServer({
          store: recordingStore(),
          login: devLogin(),
          registration: { unusedTtlSeconds },
        }),
      ).toThrow(/unusedTtlSeconds/);
    }
  });
});
