/**
 * DPoP-bound tokens (`cnf.jkt`) from a third-party issuer get the same proof checks as ours:
 * the resource server checks the proof whoever signed the token, with the Store it is given.
 */
import {
  base64url,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  type JWK,
  SignJWT,
} from "jose";
import { describe, expect, it } from "vitest";
import { createDemoServer } from "../../examples/demo/server.ts";
import { mcpApp } from "../../src/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { manualClock } from "../helpers/clock.ts";
import { initializeRequest, listen, MCP_HEADERS } from "../helpers/http.ts";
import { AUDIENCE, startJwtIssuer } from "../helpers/jwt.ts";

async function keyPair(): Promise<JWK> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return exportJWK(privateKey);
}

async function proof(key: JWK, htu: string, token: string, iat: number): Promise<string> {
  const { d: _d, ...jwk } = key;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return new SignJWT({ htm: "POST", htu, ath: base64url.encode(new Uint8Array(digest)) })
    .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk })
    .setIssuedAt(iat)
    .setJti(base64url.encode(crypto.getRandomValues(new Uint8Array(16))))
    .sign(key);
}

function initialize(url: string, authorization: string, dpop?: string): Promise<Response> {
  const headers: Record<string, string> = { ...MCP_HEADERS, authorization };
  if (dpop) headers.dpop = dpop;
  return fetch(url, { method: "POST", headers, body: JSON.stringify(initializeRequest()) });
}

describe("a third-party issuer's DPoP-bound token", () => {
  it("needs a fresh proof by the bound key, single use through the given Store", async () => {
    const idp = await startJwtIssuer();
    const clock = manualClock();
    const store = memoryStore({ clock: clock.now });
    const app = mcpApp(createDemoServer(), {
      path: "/mcp",
      auth: {
        issuer: idp.issuer,
        audience: AUDIENCE,
        verify: idp.verify,
        dpop: { store, clock: clock.now },
      },
    });
    const url = `${await listen(app)}/mcp`;
    const key = await keyPair();
    const token = await idp.sign({
      sub: "alice",
      client_id: "agent",
      cnf: { jkt: await calculateJwkThumbprint(key, "sha256") },
    });
    const now = () => Math.floor(clock.now() / 1000);

    const good = await proof(key, url, token, now());
    expect((await initialize(url, `DPoP ${token}`, good)).status).toBe(200);

    const refusals = [
      await initialize(url, `DPoP ${token}`, good), // replayed
      await initialize(url, `Bearer ${token}`), // bound token as Bearer
      await initialize(url, `DPoP ${token}`), // no proof
      await initialize(url, `DPoP ${token}`, await proof(await keyPair(), url, token, now())),
    ];
    for (const response of refusals) {
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(/^DPoP error="invalid_/);
    }
  });

  it("an unbound token is refused under the DPoP scheme, and still fine as Bearer", async () => {
    const idp = await startJwtIssuer();
    const app = mcpApp(createDemoServer(), {
      path: "/mcp",
      auth: { issuer: idp.issuer, audience: AUDIENCE, verify: idp.verify },
    });
    const url = `${await listen(app)}/mcp`;
    const token = await idp.sign({ sub: "alice", client_id: "agent" });
    const asDpop = await initialize(url, `DPoP ${token}`);
    expect(asDpop.status).toBe(401);
    expect(asDpop.headers.get("www-authenticate")).toContain('error="invalid_token"');
    const asBearer = await initialize(url, `Bearer ${token}`);
    expect(asBearer.status).toBe(200);
  });
});
