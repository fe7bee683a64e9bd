/**
 * DPoP (RFC 9449) on all three sides, over loopback HTTP: our OAuthAuthorizer with `dpop`
 * against our authorization server and protected demo, then what someone holding a copy of
 * the bound tokens (but not the key) can and cannot do with them.
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
import { afterEach, describe, expect, it } from "vitest";
import { createDemoServer } from "../../examples/demo/server.ts";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import {
  McpClient,
  memoryTokenStore,
  OAuthAuthorizer,
  type StoredTokens,
  type TokenStore,
} from "../../src/client/index.ts";
import { mcpApp } from "../../src/index.ts";
import type { DpopOptions } from "../../src/resource/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { devLoginRedirect, serveOnLocalhost } from "../client/oauth/support.ts";
import { type ManualClock, manualClock } from "../helpers/clock.ts";
import { initializeRequest, MCP_HEADERS } from "../helpers/http.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

interface Setup {
  base: string;
  mcp: string;
  clock: ManualClock;
  tokens: StoredTokens;
  clientId: string;
  authMethod: string;
  client: McpClient;
  store: TokenStore;
}

/** Our demo behind the built-in AS; our client signs in with DPoP and calls a tool. */
async function signedIn(dpop: DpopOptions = {}): Promise<Setup> {
  const clock = manualClock();
  const store = memoryStore({ clock: clock.now });
  const app = mcpApp(createDemoServer(), {
    path: "/mcp",
    auth: authorizationServer({
      store,
      login: devLogin(),
      scopes: ["notes:read", "notes:write"],
      clock: clock.now,
      dpop,
    }),
  });
  const base = await serveOnLocalhost(app);
  const mcp = `${base}/mcp`;
  const store_ = memoryTokenStore();
  const { redirect } = devLoginRedirect(base);
  const authorizer = new OAuthAuthorizer({ redirect, tokens: store_, dpop: true });
  const client = new McpClient({ name: "dpop-test", version: "1.0.0" });
  open.push(client);
  await client.connect(mcp, { authorizer });
  const added = await client.callTool("add_note", { text: "bound" });
  expect(added.isError).toBeFalsy();
  const record = (await store_.get(base))!;
  return {
    base,
    mcp,
    clock,
    tokens: record.tokens![mcp]!,
    clientId: record.client!.clientId,
    authMethod: record.client!.authMethod,
    client,
    store: store_,
  };
}

/** A proof signed by `key` (a private JWK with its public members), with claims to override. */
async function proof(
  key: JWK,
  claims: { htm: string; htu: string; ath?: string; nonce?: string },
  options: { iat?: number; jti?: string } = {},
): Promise<string> {
  const { d: _d, ...jwk } = key;
  const body: Record<string, string> = { htm: claims.htm, htu: claims.htu };
  if (claims.ath) body.ath = claims.ath;
  if (claims.nonce) body.nonce = claims.nonce;
  return new SignJWT(body)
    .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk })
    .setIssuedAt(options.iat ?? Math.floor(Date.now() / 1000))
    .setJti(options.jti ?? base64url.encode(crypto.getRandomValues(new Uint8Array(16))))
    .sign(key);
}

async function otherKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return exportJWK(privateKey);
}

async function ath(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return base64url.encode(new Uint8Array(digest));
}

/** An initialize request with the given Authorization and DPoP headers. */
function initialize(mcp: string, authorization: string, dpop?: string): Promise<Response> {
  const headers: Record<string, string> = { ...MCP_HEADERS, authorization };
  if (dpop) headers.dpop = dpop;
  return fetch(mcp, {
    method: "POST",
    headers,
    body: JSON.stringify(initializeRequest()),
  });
}

/** A 401 with a DPoP challenge naming `error`, and the same error in the body. */
async function expectDpopRefusal(response: Response, error: string): Promise<void> {
  expect(response.status).toBe(401);
  const challenge = response.headers.get("www-authenticate") ?? "";
  expect(challenge).toMatch(/^DPoP /);
  expect(challenge).toContain(`error="${error}"`);
  expect(challenge).toContain('algs="ES256');
  expect(await response.json()).toMatchObject({ error });
}

function refresh(base: string, setup: Setup, dpop?: string): Promise<Response> {
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
  };
  if (dpop) headers.dpop = dpop;
  return fetch(`${base}/token`, {
    method: "POST",
    headers,
    body: new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: setup.tokens.refreshToken!,
      client_id: setup.clientId,
    }).toString(),
  });
}

describe("DPoP from our client to our servers", () => {
  it("binds the tokens to the client's key, advertises the algorithms, and the bound token works", async () => {
    const setup = await signedIn();
    const metadata = await (
      await fetch(`${setup.base}/.well-known/oauth-authorization-server`)
    ).json();
    expect(metadata.dpop_signing_alg_values_supported).toContain("ES256");
    expect(setup.tokens.tokenType).toBe("DPoP");
    const key = setup.tokens.dpopKey!;
    expect(key.d).toBeTruthy();
    const claims = decodeJwt(setup.tokens.accessToken) as { cnf?: { jkt?: string } };
    expect(claims.cnf?.jkt).toBe(await calculateJwkThumbprint(key, "sha256"));
    // A well-formed proof by the key, made here, is accepted: the server checks, not trusts.
    const token = setup.tokens.accessToken;
    const good = await proof(key, { htm: "POST", htu: setup.mcp, ath: await ath(token) });
    expect((await initialize(setup.mcp, `DPoP ${token}`, good)).status).toBe(200);
  });

  it("a reloaded session uses the key stored with its tokens, and refreshes with it", async () => {
    // The client signs proofs by the real clock while the server's moves ahead an hour: a
    // window that long keeps those proofs in it.
    const setup = await signedIn({ maxAgeSeconds: 7_200 });
    // No redirect handler: the new authorizer can only use what the store kept.
    const authorizer = new OAuthAuthorizer({ tokens: setup.store, dpop: true });
    const client = new McpClient({ name: "dpop-reloaded", version: "1.0.0" });
    open.push(client);
    await client.connect(setup.mcp, { authorizer });
    expect((await client.callTool("list_notes", {})).isError).toBeFalsy();
    // Past the access token's life: the refresh must prove the same key, and does.
    setup.clock.advance(3_700_000);
    expect((await client.callTool("list_notes", {})).isError).toBeFalsy();
    const after = (await setup.store.get(setup.base))!.tokens![setup.mcp]!;
    expect(after.accessToken).not.toBe(setup.tokens.accessToken);
    expect(after.tokenType).toBe("DPoP");
    expect(after.dpopKey).toEqual(setup.tokens.dpopKey);
  });

  it("refuses the bound token without a proof, as Bearer, and with another key's proof", async () => {
    const setup = await signedIn();
    const token = setup.tokens.accessToken;
    await expectDpopRefusal(await initialize(setup.mcp, `DPoP ${token}`), "invalid_dpop_proof");
    await expectDpopRefusal(await initialize(setup.mcp, `Bearer ${token}`), "invalid_token");
    const thief = await proof(await otherKey(), {
      htm: "POST",
      htu: setup.mcp,
      ath: await ath(token),
    });
    await expectDpopRefusal(
      await initialize(setup.mcp, `DPoP ${token}`, thief),
      "invalid_dpop_proof",
    );
  });

  it("refuses a replayed proof, a proof for another URL or method, and a wrong ath", async () => {
    const setup = await signedIn();
    const token = setup.tokens.accessToken;
    const key = setup.tokens.dpopKey!;
    const hash = await ath(token);
    const once = await proof(key, { htm: "POST", htu: setup.mcp, ath: hash });
    expect((await initialize(setup.mcp, `DPoP ${token}`, once)).status).toBe(200);
    await expectDpopRefusal(
      await initialize(setup.mcp, `DPoP ${token}`, once),
      "invalid_dpop_proof",
    );
    const elsewhere = await proof(key, { htm: "POST", htu: `${setup.base}/other`, ath: hash });
    await expectDpopRefusal(
      await initialize(setup.mcp, `DPoP ${token}`, elsewhere),
      "invalid_dpop_proof",
    );
    const otherMethod = await proof(key, { htm: "GET", htu: setup.mcp, ath: hash });
    await expectDpopRefusal(
      await initialize(setup.mcp, `DPoP ${token}`, otherMethod),
      "invalid_dpop_proof",
    );
    const noAth = await proof(key, { htm: "POST", htu: setup.mcp, ath: await ath("other") });
    await expectDpopRefusal(
      await initialize(setup.mcp, `DPoP ${token}`, noAth),
      "invalid_dpop_proof",
    );
    // A query string on the request is no part of htu (RFC 9449 §4.3).
    const plain = await proof(key, { htm: "POST", htu: setup.mcp, ath: hash });
    expect((await initialize(`${setup.mcp}?x=1`, `DPoP ${token}`, plain)).status).toBe(200);
  });

  it("refuses a proof whose iat is too old or in the future, by the server's clock", async () => {
    const setup = await signedIn();
    const token = setup.tokens.accessToken;
    const key = setup.tokens.dpopKey!;
    const claims = { htm: "POST", htu: setup.mcp, ath: await ath(token) };
    const now = Math.floor(setup.clock.now() / 1000);
    const old = await proof(key, claims, { iat: now - 120 });
    await expectDpopRefusal(
      await initialize(setup.mcp, `DPoP ${token}`, old),
      "invalid_dpop_proof",
    );
    const ahead = await proof(key, claims, { iat: now + 60 });
    await expectDpopRefusal(
      await initialize(setup.mcp, `DPoP ${token}`, ahead),
      "invalid_dpop_proof",
    );
    // The same proof made now is fine until the server's clock moves past the window.
    const fresh = await proof(key, claims, { iat: now });
    setup.clock.advance(70_000);
    await expectDpopRefusal(
      await initialize(setup.mcp, `DPoP ${token}`, fresh),
      "invalid_dpop_proof",
    );
  });

  it("binds a public client's refresh token: another key or none is invalid_grant", async () => {
    const setup = await signedIn();
    expect(setup.authMethod).toBe("none");
    const tokenUrl = `${setup.base}/token`;
    const withoutProof = await refresh(setup.base, setup);
    expect(withoutProof.status).toBe(400);
    expect(await withoutProof.json()).toMatchObject({ error: "invalid_grant" });
    const thief = await proof(await otherKey(), { htm: "POST", htu: tokenUrl });
    const stolen = await refresh(setup.base, setup, thief);
    expect(stolen.status).toBe(400);
    expect(await stolen.json()).toMatchObject({ error: "invalid_grant" });
    // Refused refreshes spent nothing: the rightful key still refreshes, and gets a bound token.
    const rightful = await proof(setup.tokens.dpopKey!, { htm: "POST", htu: tokenUrl });
    const refreshed = await refresh(setup.base, setup, rightful);
    expect(refreshed.status).toBe(200);
    const body = await refreshed.json();
    expect(body.token_type).toBe("DPoP");
    expect((decodeJwt(body.access_token) as { cnf?: { jkt?: string } }).cnf?.jkt).toBe(
      await calculateJwkThumbprint(setup.tokens.dpopKey!, "sha256"),
    );
  });

  it("refuses a bad proof at the token endpoint with invalid_dpop_proof", async () => {
    const setup = await signedIn();
    const wrongUrl = await proof(setup.tokens.dpopKey!, { htm: "POST", htu: setup.mcp });
    const response = await refresh(setup.base, setup, wrongUrl);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_dpop_proof" });
  });
});

describe("DPoP server nonces", () => {
  it("our client follows the AS and RS nonce challenges; a proof without one or with a stale one is use_dpop_nonce", async () => {
    const setup = await signedIn({ nonce: { lifetimeSeconds: 300 } });
    const listed = await setup.client.callTool("list_notes", {});
    expect(listed.isError).toBeFalsy();
    const token = setup.tokens.accessToken;
    const key = setup.tokens.dpopKey!;
    const hash = await ath(token);
    const bare = await initialize(
      setup.mcp,
      `DPoP ${token}`,
      await proof(key, { htm: "POST", htu: setup.mcp, ath: hash }),
    );
    const nonce = bare.headers.get("dpop-nonce");
    expect(nonce).toBeTruthy();
    await expectDpopRefusal(bare, "use_dpop_nonce");
    const withNonce = await proof(key, { htm: "POST", htu: setup.mcp, ath: hash, nonce: nonce! });
    expect((await initialize(setup.mcp, `DPoP ${token}`, withNonce)).status).toBe(200);
    // One window later the nonce is still good, and the reply hands out the next one.
    setup.clock.advance(300_000);
    const lateProof = await proof(
      key,
      { htm: "POST", htu: setup.mcp, ath: hash, nonce: nonce! },
      { iat: Math.floor(setup.clock.now() / 1000) },
    );
    const late = await initialize(setup.mcp, `DPoP ${token}`, lateProof);
    expect(late.status).toBe(200);
    expect(late.headers.get("dpop-nonce")).toBeTruthy();
    expect(late.headers.get("dpop-nonce")).not.toBe(nonce);
    // Two windows later the nonce is stale: refused, with a fresh one to use.
    setup.clock.advance(600_000);
    const staleProof = await proof(
      key,
      { htm: "POST", htu: setup.mcp, ath: hash, nonce: nonce! },
      { iat: Math.floor(setup.clock.now() / 1000) },
    );
    const stale = await initialize(setup.mcp, `DPoP ${token}`, staleProof);
    expect(stale.headers.get("dpop-nonce")).toBeTruthy();
    expect(stale.headers.get("dpop-nonce")).not.toBe(nonce);
    await expectDpopRefusal(stale, "use_dpop_nonce");
    // The token endpoint asks for its own nonce, in an OAuth error.
    const tokenProof = await proof(
      key,
      { htm: "POST", htu: `${setup.base}/token` },
      { iat: Math.floor(setup.clock.now() / 1000) },
    );
    const asked = await refresh(setup.base, setup, tokenProof);
    expect(asked.status).toBe(400);
    expect(asked.headers.get("dpop-nonce")).toBeTruthy();
    expect(await asked.json()).toMatchObject({ error: "use_dpop_nonce" });
  });
});
