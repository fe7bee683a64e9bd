/**
 * The resource server's side (RFC 6750, RFC 9068, RFC 9700 §2.3 and §4.10, MCP authorization):
 * only valid tokens from our issuer for this audience, from the Authorization header only;
 * revocation takes effect; sessions stay with their subject; per-tool step-up with 403.
 */
import { base64url, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { generateSigningKey } from "../../../src/auth/index.ts";
import { messagesOf, post } from "../../helpers/http.ts";
import {
  callMcp,
  expectInvalidToken,
  expectOAuthError,
  manualClock,
  mcpStatus,
  postForm,
  refresh,
  registerPublic,
  startServer,
  type TestServer,
  tokenFlow,
} from "./support.ts";

const encode = (value: unknown) => base64url.encode(JSON.stringify(value));

function parts(token: string): {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
} {
  const [header, payload] = token.split(".");
  return {
    header: JSON.parse(Buffer.from(header!, "base64url").toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(payload!, "base64url").toString()) as Record<string, unknown>,
  };
}

/** A server whose signing key the test knows, so it can mint tokens that differ in one claim. */
async function keyedServer(): Promise<{ server: TestServer; jwk: JWK; mint: Mint }> {
  const jwk = await generateSigningKey("ES256");
  const server = await startServer({ signing: { keys: [jwk] } });
  const key = await importJWK(jwk, "ES256");
  const mint: Mint = (overrides = {}, header = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: server.base,
      aud: server.mcp,
      sub: "alice",
      client_id: "c",
      scope: "notes:read",
      iat: now,
      exp: now + 300,
      jti: crypto.randomUUID(),
      ...overrides,
    })
      .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: jwk.kid!, ...header })
      .sign(key);
  };
  return { server, jwk, mint };
}
type Mint = (
  overrides?: Record<string, unknown>,
  header?: Record<string, string>,
) => Promise<string>;

describe("the bearer token check", () => {
  it("asks for a token without naming an error when none is presented (RFC 6750 §3.1)", async () => {
    const server = await startServer();
    const reply = await callMcp(server.mcp, undefined);
    expect(reply.status).toBe(401);
    const challenge = reply.headers.get("www-authenticate")!;
    expect(challenge).toMatch(/^Bearer /);
    expect(challenge).not.toContain("error=");
    expect(challenge).toContain('scope="notes:read notes:write"');
    expect(challenge).toContain(
      `resource_metadata="${server.base}/.well-known/oauth-protected-resource/mcp"`,
    );
  });

  it("does not accept a token from the query string", async () => {
    const server = await startServer();
    const { tokens } = await tokenFlow(server);
    const reply = await callMcp(
      `${server.mcp}?access_token=${encodeURIComponent(tokens.access_token)}`,
      undefined,
    );
    expect(reply.status).toBe(401);
    expect(reply.headers.get("www-authenticate")).not.toContain("error=");
  });

  it("does not accept a token under another scheme or with extra text", async () => {
    const server = await startServer();
    const { tokens } = await tokenFlow(server);
    for (const authorization of [
      `Token ${tokens.access_token}`,
      `Bearer ${tokens.access_token} extra`,
      `Bearer  ${tokens.access_token}`,
      `Basic ${tokens.access_token}`,
    ]) {
      expectInvalidToken(await callMcp(server.mcp, undefined, { authorization }), server);
    }
    expect(await mcpStatus(server, tokens.access_token)).toBe(200);
  });

  it("refuses a token whose signature was altered", async () => {
    const server = await startServer();
    const { tokens } = await tokenFlow(server);
    const [header, payload, signature] = tokens.access_token.split(".");
    const flipped = `${signature!.slice(0, 10)}${signature![10] === "A" ? "B" : "A"}${signature!.slice(11)}`;
    expectInvalidToken(await callMcp(server.mcp, `${header}.${payload}.${flipped}`), server);
  });

  it("refuses a token whose claims were altered (scope widened)", async () => {
    const server = await startServer();
    const { tokens } = await tokenFlow(server, { scope: "notes:read" });
    const [header, , signature] = tokens.access_token.split(".");
    const claims = { ...parts(tokens.access_token).payload, scope: "notes:read notes:write" };
    expectInvalidToken(
      await callMcp(server.mcp, `${header}.${encode(claims)}.${signature}`),
      server,
    );
  });

  it("refuses a token signed by another key under our kid", async () => {
    const server = await startServer();
    const { tokens } = await tokenFlow(server);
    const { header, payload } = parts(tokens.access_token);
    const { privateKey } = await generateKeyPair("ES256");
    const forged = await new SignJWT(payload)
      .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: String(header.kid) })
      .sign(privateKey);
    expectInvalidToken(await callMcp(server.mcp, forged), server);
  });

  it('refuses an unsigned token (alg "none")', async () => {
    const server = await startServer();
    const { tokens } = await tokenFlow(server);
    const { header, payload } = parts(tokens.access_token);
    const unsigned = `${encode({ ...header, alg: "none" })}.${encode(payload)}.`;
    expectInvalidToken(await callMcp(server.mcp, unsigned), server);
  });

  it("refuses a token MACed with our public key (algorithm confusion)", async () => {
    const { server, jwk, mint } = await keyedServer();
    const { d: _d, ...publicJwk } = jwk;
    const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
    const now = Math.floor(Date.now() / 1000);
    const confused = await new SignJWT({
      iss: server.base,
      aud: server.mcp,
      sub: "alice",
      scope: "notes:read",
      iat: now,
      exp: now + 300,
    })
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: jwk.kid! })
      .sign(secret);
    expectInvalidToken(await callMcp(server.mcp, confused), server);
    // The same claims, properly signed, pass: the refusal is about the algorithm.
    expect(await mcpStatus(server, await mint())).toBe(200);
  });

  it("refuses an expired token", async () => {
    const clock = manualClock();
    const server = await startServer({ lifetimes: { accessToken: 1 }, clock: clock.now });
    const { tokens } = await tokenFlow(server);
    expect(tokens.expires_in).toBe(1);
    expect(await mcpStatus(server, tokens.access_token)).toBe(200);
    // jose allows no clock tolerance here: one second past exp is expired.
    clock.advance(2000);
    expectInvalidToken(await callMcp(server.mcp, tokens.access_token), server);
  });

  it("refuses a token issued for another resource of the same server", async () => {
    const server = await startServer({ resources: ["https://other.example/mcp"] });
    const { tokens } = await tokenFlow(server, { resource: "https://other.example/mcp" });
    expectInvalidToken(await callMcp(server.mcp, tokens.access_token), server);
    const own = await tokenFlow(server, { resource: server.mcp });
    expect(await mcpStatus(server, own.tokens.access_token)).toBe(200);
  });

  it("refuses tokens that differ from a valid one in issuer, audience, type or lifetime", async () => {
    const { server, mint } = await keyedServer();
    expect(await mcpStatus(server, await mint())).toBe(200);
    const now = Math.floor(Date.now() / 1000);
    for (const token of [
      await mint({ iss: "https://evil.example" }),
      await mint({ iss: `${server.base}/` }),
      await mint({ aud: "https://other.example/mcp" }),
      await mint({ aud: server.base }),
      await mint({}, { typ: "JWT" }),
      await mint({ exp: now - 10 }),
      await mint({ nbf: now + 600 }),
    ]) {
      expectInvalidToken(await callMcp(server.mcp, token), server);
    }
  });

  it("refuses a token signed with a key the server does not publish", async () => {
    const server = await startServer();
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const kid = "attacker";
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({
      iss: server.base,
      aud: server.mcp,
      sub: "alice",
      scope: "notes:read",
      iat: now,
      exp: now + 300,
    })
      .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid, jwk: await exportJWK(publicKey) })
      .sign(privateKey);
    expectInvalidToken(await callMcp(server.mcp, token), server);
  });
});

describe("revocation (RFC 7009)", () => {
  it("ends a revoked access token and the refresh token of its grant", async () => {
    const server = await startServer();
    const flow = await tokenFlow(server);
    expect(await mcpStatus(server, flow.tokens.access_token)).toBe(200);
    const revoked = await postForm(`${server.base}/revoke`, {
      token: flow.tokens.access_token,
      client_id: flow.clientId,
    });
    expect(revoked.status).toBe(200);
    expect(revoked.headers.get("cache-control")).toBe("no-store");
    expectInvalidToken(await callMcp(server.mcp, flow.tokens.access_token), server);
    await expectOAuthError(
      await refresh(server, flow.clientId, flow.tokens.refresh_token),
      400,
      "invalid_grant",
    );
  });

  it("refuses another client's revocation (RFC 7009 §2.1) and revokes nothing", async () => {
    const server = await startServer();
    const flow = await tokenFlow(server);
    const intruder = await registerPublic(server.base);
    for (const token of [flow.tokens.access_token, flow.tokens.refresh_token]) {
      const response = await postForm(`${server.base}/revoke`, { token, client_id: intruder });
      const body = await expectOAuthError(response, 400, "invalid_grant");
      expect(body.error_description).toMatch(/another client/);
    }
    expect(server.store.written("as:revoked:")).toBe(0);
    expect(await mcpStatus(server, flow.tokens.access_token)).toBe(200);
    const next = await refresh(server, flow.clientId, flow.tokens.refresh_token);
    expect(next.status).toBe(200);
  });
});

describe("sessions and scopes at the MCP endpoint", () => {
  const initialize = {
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "t", version: "1" },
    },
  };

  async function open(server: TestServer, token: string): Promise<Record<string, string>> {
    const response = await post(server.mcp, initialize, { authorization: `Bearer ${token}` });
    expect(response.status).toBe(200);
    await response.text();
    return {
      authorization: `Bearer ${token}`,
      "mcp-session-id": response.headers.get("mcp-session-id")!,
      "mcp-protocol-version": "2025-11-25",
    };
  }

  it("answers 404 when another user's token names a session", async () => {
    const server = await startServer();
    const alice = await tokenFlow(server, { user: "alice", scope: "notes:read" });
    const bob = await tokenFlow(server, { user: "bob", scope: "notes:read" });
    const headers = await open(server, alice.tokens.access_token);

    const hijack = await post(
      server.mcp,
      { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "list_notes" } },
      { ...headers, authorization: `Bearer ${bob.tokens.access_token}` },
    );
    expect(hijack.status).toBe(404);
    await hijack.text();

    const own = await post(server.mcp, { jsonrpc: "2.0", id: 2, method: "ping" }, headers);
    expect(own.status).toBe(200);
    await own.text();
  });

  it("refuses a tool call without its scope: 403 insufficient_scope with the union of scopes", async () => {
    const server = await startServer();
    const reader = await tokenFlow(server, { scope: "notes:read" });
    const headers = await open(server, reader.tokens.access_token);
    const tools = await messagesOf(
      await post(server.mcp, { jsonrpc: "2.0", id: 2, method: "tools/list" }, headers),
    );
    expect(JSON.stringify(tools)).toContain("list_notes");
    expect(JSON.stringify(tools)).not.toContain("add_note");
    const call = {
      jsonrpc: "2.0",
      id: 3,
      method: "tools/call",
      params: { name: "add_note", arguments: { text: "secret" } },
    };
    const refused = await post(server.mcp, call, headers);
    expect(refused.status).toBe(403);
    const challenge = refused.headers.get("www-authenticate")!;
    expect(challenge).toMatch(/^Bearer /);
    expect(challenge).toContain('error="insufficient_scope"');
    expect(challenge).toContain('scope="notes:read notes:write"');
    expect(challenge).toContain(
      `resource_metadata="${server.base}/.well-known/oauth-protected-resource/mcp"`,
    );
    expect(await refused.json()).toMatchObject({ error: "insufficient_scope" });

    // Nothing was stored by the refused call.
    const listed = await messagesOf(
      await post(
        server.mcp,
        { jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "list_notes" } },
        headers,
      ),
    );
    expect(JSON.stringify(listed)).toContain("(no notes yet)");

    // After stepping up, the same call goes through.
    const writer = await tokenFlow(server, { scope: "notes:read notes:write" });
    const allowed = await post(server.mcp, call, await open(server, writer.tokens.access_token));
    expect(allowed.status).toBe(200);
    await allowed.text();
  });
});
