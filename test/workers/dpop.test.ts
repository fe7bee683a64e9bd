/**
 * DPoP in workerd: the demo Worker binds a token to a proof's key at /token and checks proofs
 * at /mcp on Web Crypto, with each proof's jti spent in the Durable Object store.
 */
import { SELF } from "cloudflare:test";
import { base64url, decodeJwt, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { authorizeWithDevLogin, form } from "../helpers/oauth.ts";

const base = "http://localhost";
const mcp = `${base}/mcp`;
const send = (input: string, init?: RequestInit) => SELF.fetch(input, init);

async function proof(key: JWK, htm: string, htu: string, token?: string): Promise<string> {
  const { d: _d, ...jwk } = key;
  const claims: Record<string, string> = { htm, htu };
  if (token) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
    claims.ath = base64url.encode(new Uint8Array(digest));
  }
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk })
    .setIssuedAt()
    .setJti(base64url.encode(crypto.getRandomValues(new Uint8Array(16))))
    .sign(key);
}

function ping(authorization: string, dpop?: string): Promise<Response> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": "2025-11-25",
    authorization,
  };
  if (dpop) headers.dpop = dpop;
  return SELF.fetch(mcp, {
    method: "POST",
    headers,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "dpop-worker-test", version: "1.0.0" },
      },
    }),
  });
}

describe("DPoP in the demo Worker", () => {
  it("issues a bound token for a proof, and takes it only with a fresh proof by the key", async () => {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const key = await exportJWK(privateKey);
    const authorized = await authorizeWithDevLogin(base, {
      fetch: send,
      scope: "notes:read",
      resource: mcp,
    });
    const request = form({
      grant_type: "authorization_code",
      code: authorized.code,
      code_verifier: authorized.verifier,
      client_id: authorized.clientId,
      redirect_uri: authorized.redirectUri,
      resource: mcp,
    });
    request.headers = {
      ...(request.headers as Record<string, string>),
      dpop: await proof(key, "POST", `${base}/token`),
    };
    const issued = await SELF.fetch(`${base}/token`, request);
    expect(issued.status).toBe(200);
    const tokens = (await issued.json()) as { access_token: string; token_type: string };
    expect(tokens.token_type).toBe("DPoP");
    expect(decodeJwt(tokens.access_token).cnf).toBeTruthy();
    const token = tokens.access_token;

    const once = await proof(key, "POST", mcp, token);
    expect((await ping(`DPoP ${token}`, once)).status).toBe(200);
    const replayed = await ping(`DPoP ${token}`, once);
    expect(replayed.status).toBe(401);
    expect(replayed.headers.get("www-authenticate")).toContain('error="invalid_dpop_proof"');
    const asBearer = await ping(`Bearer ${token}`);
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get("www-authenticate")).toMatch(/^DPoP error="invalid_token"/);
  });
});
