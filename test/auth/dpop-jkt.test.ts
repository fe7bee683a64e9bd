/**
 * RFC 9449 §10: an authorization code bound to a DPoP key with `dpop_jkt`. Only a token
 * request whose proof is signed by that key redeems it; another key, or no proof, is refused
 * with invalid_grant and leaves the code for the rightful client. Our authorizer sends the
 * parameter itself when it uses DPoP.
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
import { McpClient, memoryTokenStore, OAuthAuthorizer } from "../../src/client/index.ts";
import { mcpApp } from "../../src/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { devLoginRedirect, serveOnLocalhost } from "../client/oauth/support.ts";
import { authorizeWithDevLogin, Browser, form, pkce } from "../helpers/oauth.ts";

async function server(dpop?: false): Promise<string> {
  const app = mcpApp(createDemoServer(), {
    path: "/mcp",
    auth: authorizationServer({
      store: memoryStore(),
      login: devLogin(),
      scopes: ["notes:read", "notes:write"],
      ...(dpop === false ? { dpop } : {}),
    }),
  });
  return serveOnLocalhost(app);
}

async function key(): Promise<{ jwk: JWK; thumbprint: string }> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(privateKey);
  const { d: _d, ...pub } = jwk;
  return { jwk, thumbprint: await calculateJwkThumbprint(pub) };
}

async function tokenProof(jwk: JWK, url: string): Promise<string> {
  const { d: _d, ...pub } = jwk;
  return new SignJWT({ htm: "POST", htu: url })
    .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: pub })
    .setIssuedAt()
    .setJti(base64url.encode(crypto.getRandomValues(new Uint8Array(16))))
    .sign(jwk);
}

function redeem(
  base: string,
  code: { clientId: string; code: string; verifier: string; redirectUri: string },
  dpop?: string,
) {
  const init = form({
    grant_type: "authorization_code",
    code: code.code,
    code_verifier: code.verifier,
    client_id: code.clientId,
    redirect_uri: code.redirectUri,
    resource: `${base}/mcp`,
  });
  if (dpop) init.headers = { ...(init.headers as Record<string, string>), dpop };
  return fetch(`${base}/token`, init);
}

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

describe("dpop_jkt binds the code to a key", () => {
  it("another key and no proof are refused; the bound key then redeems the code", async () => {
    const base = await server();
    const rightful = await key();
    const thief = await key();
    const code = await authorizeWithDevLogin(base, { params: { dpop_jkt: rightful.thumbprint } });

    const other = await redeem(base, code, await tokenProof(thief.jwk, `${base}/token`));
    expect(other.status).toBe(400);
    expect(await other.json()).toMatchObject({ error: "invalid_grant" });
    const none = await redeem(base, code);
    expect(none.status).toBe(400);
    expect(await none.json()).toMatchObject({ error: "invalid_grant" });

    const ok = await redeem(base, code, await tokenProof(rightful.jwk, `${base}/token`));
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { token_type: string; access_token: string };
    expect(body.token_type).toBe("DPoP");
    expect(decodeJwt(body.access_token).cnf).toEqual({ jkt: rightful.thumbprint });
  });

  it("a code without dpop_jkt is not bound: a Bearer exchange still works", async () => {
    const base = await server();
    const code = await authorizeWithDevLogin(base);
    const ok = await redeem(base, code);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { token_type: string }).token_type).toBe("Bearer");
  });

  it("a malformed dpop_jkt goes back to the client as invalid_request; a repeated one is refused", async () => {
    const base = await server();
    const registered = await fetch(`${base}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        redirect_uris: ["http://127.0.0.1:9/callback"],
        token_endpoint_auth_method: "none",
      }),
    });
    const { client_id } = (await registered.json()) as { client_id: string };
    const { challenge } = await pkce();
    const query = (jkt: string[]) => {
      const q = new URLSearchParams({
        response_type: "code",
        client_id,
        redirect_uri: "http://127.0.0.1:9/callback",
        code_challenge: challenge,
        code_challenge_method: "S256",
        state: "s",
      });
      for (const each of jkt) q.append("dpop_jkt", each);
      return `${base}/authorize?${q}`;
    };
    const browser = new Browser();
    const bad = await browser.fetch(query(["not a thumbprint"]));
    expect(bad.status).toBe(303);
    const location = new URL(bad.headers.get("location")!);
    expect(location.searchParams.get("error")).toBe("invalid_request");
    expect(location.searchParams.get("code")).toBeNull();
    const twice = await browser.fetch(query(["A".repeat(43), "B".repeat(43)]));
    expect(twice.status).toBe(400);
  });

  it("with DPoP off, the server ignores dpop_jkt (RFC 9449 §5: it does not speak DPoP)", async () => {
    const base = await server(false);
    const someone = await key();
    const code = await authorizeWithDevLogin(base, { params: { dpop_jkt: someone.thumbprint } });
    const ok = await redeem(base, code);
    expect(ok.status).toBe(200);
  });
});

describe("our authorizer with dpop", () => {
  it("sends dpop_jkt of its key, and the tokens it gets are bound to that key", async () => {
    const base = await server();
    const tokens = memoryTokenStore();
    const { redirect, authorizations } = devLoginRedirect(base);
    const client = new McpClient({ name: "jkt", version: "1.0.0" });
    open.push(client);
    await client.connect(`${base}/mcp`, {
      authorizer: new OAuthAuthorizer({ redirect, tokens, dpop: true }),
    });
    expect((await client.callTool("add_note", { text: "bound code" })).isError).toBeFalsy();
    const sent = authorizations[0]?.searchParams.get("dpop_jkt");
    const stored = (await tokens.get(base))!.tokens![`${base}/mcp`]!;
    const { d: _d, alg: _alg, ...pub } = stored.dpopKey!;
    expect(sent).toBe(await calculateJwkThumbprint(pub));
    expect(decodeJwt(stored.accessToken).cnf).toEqual({ jkt: sent });
  });
});
