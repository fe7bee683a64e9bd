/**
 * Two resource-server DPoP options, over loopback HTTP: `dpop.required` (only DPoP-bound
 * tokens; Bearer refused with a DPoP-only challenge, said in the metadata, and the built-in
 * token endpoint refuses requests without a proof) and `trustProxy` (a proof's `htu` is the
 * URL the client addressed at the proxy, read from X-Forwarded-* only when configured).
 */
import {
  base64url,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  type JWK,
  SignJWT,
} from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { createDemoServer } from "../../examples/demo/server.ts";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { McpClient, memoryTokenStore, OAuthAuthorizer } from "../../src/client/index.ts";
import { mcpApp } from "../../src/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { devLoginRedirect, serveOnLocalhost } from "../client/oauth/support.ts";
import { initializeRequest, listen, MCP_HEADERS } from "../helpers/http.ts";
import { AUDIENCE, type JwtIssuer, startJwtIssuer } from "../helpers/jwt.ts";
import { authorizeWithDevLogin, form } from "../helpers/oauth.ts";

async function keyPair(): Promise<JWK> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return exportJWK(privateKey);
}

async function proof(key: JWK, htu: string, token: string): Promise<string> {
  const { d: _d, ...jwk } = key;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return new SignJWT({ htm: "POST", htu, ath: base64url.encode(new Uint8Array(digest)) })
    .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk })
    .setIssuedAt()
    .setJti(base64url.encode(crypto.getRandomValues(new Uint8Array(16))))
    .sign(key);
}

function initialize(url: string, headers: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { ...MCP_HEADERS, ...headers },
    body: JSON.stringify(initializeRequest()),
  });
}

async function boundToken(idp: JwtIssuer, key: JWK): Promise<string> {
  const { d: _d, ...pub } = key;
  return idp.sign({
    sub: "alice",
    client_id: "agent",
    cnf: { jkt: await calculateJwkThumbprint(pub) },
  });
}

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

describe("dpop.required at a resource with a third-party issuer", () => {
  async function setup() {
    const idp = await startJwtIssuer();
    const app = mcpApp(createDemoServer(), {
      path: "/mcp",
      auth: {
        issuer: idp.issuer,
        audience: AUDIENCE,
        verify: idp.verify,
        dpop: { required: true },
      },
    });
    const base = await listen(app);
    return { idp, base, url: `${base}/mcp` };
  }

  it("refuses a valid Bearer token with a DPoP-only challenge", async () => {
    const { idp, url } = await setup();
    const bearer = await initialize(url, {
      authorization: `Bearer ${await idp.sign({ sub: "alice", client_id: "agent" })}`,
    });
    expect(bearer.status).toBe(401);
    const challenge = bearer.headers.get("www-authenticate")!;
    expect(challenge).toMatch(/^DPoP error="invalid_token"/);
    expect(challenge).toContain('algs="');
    expect(challenge).not.toContain("Bearer");
    expect(await bearer.json()).toMatchObject({ error: "invalid_token" });
  });

  it("offers only DPoP to a request without a token, and to a token it cannot verify", async () => {
    const { url } = await setup();
    const none = await initialize(url, {});
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(
      /^DPoP scope="notes:write", algs="[^"]+", resource_metadata="/,
    );
    const garbage = await initialize(url, { authorization: "Bearer not.a.token" });
    expect(garbage.status).toBe(401);
    expect(garbage.headers.get("www-authenticate")).toMatch(/^DPoP error="invalid_token"/);
  });

  it("takes a bound token with its proof, and says what it requires in its metadata", async () => {
    const { idp, base, url } = await setup();
    const key = await keyPair();
    const token = await boundToken(idp, key);
    const ok = await initialize(url, {
      authorization: `DPoP ${token}`,
      dpop: await proof(key, url, token),
    });
    expect(ok.status).toBe(200);
    const metadata = (await (
      await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)
    ).json()) as Record<string, unknown>;
    expect(metadata.dpop_bound_access_tokens_required).toBe(true);
    expect(metadata.dpop_signing_alg_values_supported).toContain("ES256");
  });

  it("a resource without the option takes Bearer and does not claim to require DPoP", async () => {
    const idp = await startJwtIssuer();
    const base = await listen(
      mcpApp(createDemoServer(), {
        path: "/mcp",
        auth: { issuer: idp.issuer, audience: AUDIENCE, verify: idp.verify },
      }),
    );
    const metadata = (await (
      await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)
    ).json()) as Record<string, unknown>;
    expect(metadata.dpop_bound_access_tokens_required).toBeUndefined();
    const bearer = await initialize(`${base}/mcp`, {
      authorization: `Bearer ${await idp.sign({ sub: "alice", client_id: "agent" })}`,
    });
    expect(bearer.status).toBe(200);
  });

  it("a non-boolean required is refused at construction", () => {
    expect(() =>
      mcpApp(createDemoServer(), {
        path: "/mcp",
        auth: { issuer: "https://idp.example", dpop: { required: "yes" as unknown as boolean } },
      }),
    ).toThrow(TypeError);
  });
});

describe("dpop.required on the built-in authorization server", () => {
  async function setup() {
    const app = mcpApp(createDemoServer(), {
      path: "/mcp",
      auth: authorizationServer({
        store: memoryStore(),
        login: devLogin(),
        scopes: ["notes:read", "notes:write"],
        dpop: { required: true },
      }),
    });
    return serveOnLocalhost(app);
  }

  it("refuses a token request without a proof, and leaves the code for a retry with one", async () => {
    const base = await setup();
    const code = await authorizeWithDevLogin(base);
    const fields = {
      grant_type: "authorization_code",
      code: code.code,
      code_verifier: code.verifier,
      client_id: code.clientId,
      redirect_uri: code.redirectUri,
      resource: `${base}/mcp`,
    };
    const plain = await fetch(`${base}/token`, form(fields));
    expect(plain.status).toBe(400);
    expect(await plain.json()).toMatchObject({ error: "invalid_dpop_proof" });
    const key = await keyPair();
    const { d: _d, ...pub } = key;
    const tokenProof = await new SignJWT({ htm: "POST", htu: `${base}/token` })
      .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: pub })
      .setIssuedAt()
      .setJti(base64url.encode(crypto.getRandomValues(new Uint8Array(16))))
      .sign(key);
    const init = form(fields);
    init.headers = { ...(init.headers as Record<string, string>), dpop: tokenProof };
    const bound = await fetch(`${base}/token`, init);
    expect(bound.status).toBe(200);
    expect(((await bound.json()) as { token_type: string }).token_type).toBe("DPoP");
  });

  it("our client with dpop signs in and calls a tool; without dpop it cannot get a token", async () => {
    const base = await setup();
    const { redirect } = devLoginRedirect(base);
    const client = new McpClient({ name: "required", version: "1.0.0" });
    open.push(client);
    await client.connect(`${base}/mcp`, {
      authorizer: new OAuthAuthorizer({ redirect, tokens: memoryTokenStore(), dpop: true }),
    });
    expect((await client.callTool("add_note", { text: "dpop only" })).isError).toBeFalsy();

    const plain = new McpClient({ name: "plain", version: "1.0.0" });
    open.push(plain);
    const { redirect: again } = devLoginRedirect(base);
    await expect(
      plain.connect(`${base}/mcp`, {
        authorizer: new OAuthAuthorizer({ redirect: again, tokens: memoryTokenStore() }),
      }),
    ).rejects.toThrow(/DPoP|dpop/);
  });
});

describe("trustProxy: the proof's htu is the URL the client addressed", () => {
  const EXTERNAL = "https://mcp.example.com/mcp";
  const FORWARDED = { "x-forwarded-proto": "https", "x-forwarded-host": "mcp.example.com" };

  async function setup(trustProxy?: boolean) {
    const idp = await startJwtIssuer();
    const app = mcpApp(createDemoServer(), {
      path: "/mcp",
      auth: {
        issuer: idp.issuer,
        audience: AUDIENCE,
        verify: idp.verify,
        ...(trustProxy === undefined ? {} : { trustProxy }),
      },
    });
    const url = `${await listen(app)}/mcp`;
    const key = await keyPair();
    return { url, key, token: await boundToken(idp, key) };
  }

  it("with trustProxy, a proof for the external URL passes and one for the internal URL fails", async () => {
    const { url, key, token } = await setup(true);
    const external = await initialize(url, {
      ...FORWARDED,
      authorization: `DPoP ${token}`,
      dpop: await proof(key, EXTERNAL, token),
    });
    expect(external.status).toBe(200);
    const internal = await initialize(url, {
      ...FORWARDED,
      authorization: `DPoP ${token}`,
      dpop: await proof(key, url, token),
    });
    expect(internal.status).toBe(401);
    expect(internal.headers.get("www-authenticate")).toMatch(/^DPoP error="invalid_dpop_proof"/);
  });

  it("without it, the forwarded headers are ignored: only the URL that reached us counts", async () => {
    const { url, key, token } = await setup();
    const external = await initialize(url, {
      ...FORWARDED,
      authorization: `DPoP ${token}`,
      dpop: await proof(key, EXTERNAL, token),
    });
    expect(external.status).toBe(401);
    expect(external.headers.get("www-authenticate")).toMatch(/^DPoP error="invalid_dpop_proof"/);
    const internal = await initialize(url, {
      ...FORWARDED,
      authorization: `DPoP ${token}`,
      dpop: await proof(key, url, token),
    });
    expect(internal.status).toBe(200);
  });

  it("with trustProxy, a malformed forwarded host is not taken up", async () => {
    const { url, key, token } = await setup(true);
    const smuggled = await initialize(url, {
      "x-forwarded-proto": "https",
      "x-forwarded-host": "evil.example/path@x",
      authorization: `DPoP ${token}`,
      dpop: await proof(key, "https://evil.example/path@x/mcp", token),
    });
    expect(smuggled.status).toBe(401);
    // The scheme alone was taken: the proof must name https and our own host.
    const own = new URL(url);
    const https = await initialize(url, {
      "x-forwarded-proto": "https",
      "x-forwarded-host": "evil.example/path@x",
      authorization: `DPoP ${token}`,
      dpop: await proof(key, `https://${own.host}/mcp`, token),
    });
    expect(https.status).toBe(200);
  });
});
