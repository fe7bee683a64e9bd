import { describe, expect, it } from "vitest";
import { createDemoApp } from "../../examples/demo/server.ts";
import { listen, MCP_HEADERS, messagesOf, post } from "../helpers/http.ts";
import { authorizeWithDevLogin, form } from "../helpers/oauth.ts";

describe("built-in authorization server, end to end", () => {
  it("registers, logs in, consents, exchanges, calls a scoped tool, refreshes and revokes", async () => {
    const base = (await listen(createDemoApp())).replace("127.0.0.1", "localhost");
    const mcp = `${base}/mcp`;

    const unauthenticated = await post(mcp, { jsonrpc: "2.0", id: 1, method: "ping" });
    expect(unauthenticated.status).toBe(401);
    // No credentials: a challenge, but no error code (RFC 6750 §3.1).
    expect(unauthenticated.headers.get("www-authenticate")).not.toContain("error=");
    expect(((await unauthenticated.clone().json()) as { error: string }).error).toBe(
      "unauthorized",
    );
    expect(unauthenticated.headers.get("www-authenticate")).toContain(
      `resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`,
    );

    const { clientId, code, verifier, redirectUri, location } = await authorizeWithDevLogin(base, {
      scope: "notes:read",
    });
    expect(location.searchParams.get("state")).toBe("xyz");
    expect(location.searchParams.get("iss")).toBe(base);

    const tokenResponse = await fetch(
      `${base}/token`,
      form({
        grant_type: "authorization_code",
        code,
        code_verifier: verifier,
        client_id: clientId,
        redirect_uri: redirectUri,
        resource: mcp,
      }),
    );
    expect(tokenResponse.status).toBe(200);
    expect(tokenResponse.headers.get("cache-control")).toBe("no-store");
    const tokens = (await tokenResponse.json()) as {
      access_token: string;
      refresh_token: string;
      scope: string;
    };
    expect(tokens.scope).toBe("notes:read");

    const auth = { authorization: `Bearer ${tokens.access_token}` };
    const init = await post(
      mcp,
      {
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: {
          protocolVersion: "2025-11-25",
          capabilities: {},
          clientInfo: { name: "t", version: "1" },
        },
      },
      auth,
    );
    expect(init.status).toBe(200);
    const session = init.headers.get("mcp-session-id")!;
    await init.text();
    const headers = { ...auth, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" };

    // notes:write is missing: the scoped tool is hidden from the list and refused with a step-up.
    const list = await messagesOf(
      await post(mcp, { jsonrpc: "2.0", id: 2, method: "tools/list" }, headers),
    );
    expect(JSON.stringify(list)).not.toContain("add_note");
    const refused = await post(
      mcp,
      {
        jsonrpc: "2.0",
        id: 3,
        method: "tools/call",
        params: { name: "add_note", arguments: { text: "x" } },
      },
      headers,
    );
    expect(refused.status).toBe(403);
    expect(refused.headers.get("www-authenticate")).toMatch(
      /error="insufficient_scope".*scope="notes:read notes:write"/,
    );

    const refreshed = await fetch(
      `${base}/token`,
      form({
        grant_type: "refresh_token",
        refresh_token: tokens.refresh_token,
        client_id: clientId,
      }),
    );
    expect(refreshed.status).toBe(200);
    const next = (await refreshed.json()) as { access_token: string; refresh_token: string };
    expect(next.refresh_token).not.toBe(tokens.refresh_token);

    const revoked = await fetch(
      `${base}/revoke`,
      form({ token: next.refresh_token, client_id: clientId }),
    );
    expect(revoked.status).toBe(200);
    const afterRevoke = await post(
      mcp,
      { jsonrpc: "2.0", id: 4, method: "ping" },
      { authorization: `Bearer ${next.access_token}`, ...MCP_HEADERS },
    );
    expect(afterRevoke.status).toBe(401);
  });
});
