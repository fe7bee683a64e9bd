import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { createDemoApp, createDemoServer } from "../../examples/demo/server.ts";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { mcpApp } from "../../src/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { manualClock } from "../helpers/clock.ts";
import { listen, post } from "../helpers/http.ts";
import { connectV1, devLoginAgent, SignInProvider } from "../helpers/sdk-oauth.ts";

/** One HTTP request the SDK made, as the server saw it. */
interface Seen {
  method: string;
  path: string;
  status: number;
  /** The form body of a token request. */
  form?: URLSearchParams;
}

/** Serves an app on localhost (the dev login refuses other issuers). */
async function serveOnLocalhost(app: Hono): Promise<string> {
  return (await listen(app)).replace("127.0.0.1", "localhost");
}

/** A fetch for the SDK that records what it asked and what came back. */
function recordingFetch(seen: Seen[]): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const body = request.method === "POST" ? await request.clone().text() : "";
    const response = await fetch(request);
    const entry: Seen = {
      method: request.method,
      path: new URL(request.url).pathname,
      status: response.status,
    };
    if (entry.path === "/token") entry.form = new URLSearchParams(body);
    seen.push(entry);
    return response;
  };
}

const tokenRequests = (seen: Seen[]) =>
  seen.filter((s) => s.path === "/token").map((s) => s.form?.get("grant_type"));

describe("official SDK client OAuth against the built-in authorization server", () => {
  it("discovers, registers, signs in, exchanges the code and calls a scoped tool", async () => {
    const base = await serveOnLocalhost(createDemoApp());
    const mcp = `${base}/mcp`;

    // What our resource server tells an unauthenticated client to ask for.
    const challenge = (await post(mcp, { jsonrpc: "2.0", id: 1, method: "ping" })).headers.get(
      "www-authenticate",
    );
    expect(challenge).toContain('scope="notes:read notes:write"');
    const prm = (await (
      await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)
    ).json()) as { scopes_supported: string[]; resource: string };
    expect(prm.scopes_supported).toEqual(["notes:read", "notes:write"]);

    const seen: Seen[] = [];
    const provider = new SignInProvider(devLoginAgent(base));
    const { client, transport } = await connectV1(mcp, provider, recordingFetch(seen));

    // 401 → RFC 9728 metadata → RFC 8414 metadata → RFC 7591 registration → token.
    expect(seen.slice(0, 4).map((s) => `${s.method} ${s.path} ${s.status}`)).toEqual([
      "POST /mcp 401",
      "GET /.well-known/oauth-protected-resource/mcp 200",
      "GET /.well-known/oauth-authorization-server 200",
      "POST /register 201",
    ]);
    expect(tokenRequests(seen)).toEqual(["authorization_code"]);
    const tokenRequest = seen.find((s) => s.path === "/token")!;
    expect(tokenRequest.status).toBe(200);
    expect(tokenRequest.form?.get("resource")).toBe(mcp);

    // The SDK asks for the scope from the WWW-Authenticate challenge (the same set as the
    // metadata's scopes_supported here), registers with it, and binds the token to the resource.
    expect(provider.authorizations).toHaveLength(1);
    const request = provider.authorizations[0]!;
    expect(request.origin + request.pathname).toBe(`${base}/authorize`);
    expect(request.searchParams.get("scope")).toBe("notes:read notes:write");
    expect(request.searchParams.get("resource")).toBe(mcp);
    expect(request.searchParams.get("code_challenge_method")).toBe("S256");
    expect(request.searchParams.get("redirect_uri")).toBe(provider.redirectUrl);
    expect(provider.clientInformation()).toMatchObject({ scope: "notes:read notes:write" });
    expect(provider.tokens()).toMatchObject({
      token_type: "Bearer",
      scope: "notes:read notes:write",
    });
    expect(provider.tokens()?.refresh_token).toBeTruthy();

    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(["add_note", "list_notes"]);
    const added = await client.callTool({ name: "add_note", arguments: { text: "from the SDK" } });
    expect(added.isError).toBeFalsy();
    expect(added.structuredContent).toEqual({ id: "1" });
    const listed = await client.callTool({ name: "list_notes", arguments: {} });
    expect(listed.content).toEqual([{ type: "text", text: "1: from the SDK" }]);
    expect(provider.authorizations).toHaveLength(1);
    await transport.close();
  });

  it("refreshes an expired access token without sending the user back", async () => {
    const clock = manualClock();
    const store = memoryStore({ clock: clock.now });
    const app = mcpApp(createDemoServer(), {
      auth: authorizationServer({
        store,
        login: devLogin(),
        lifetimes: { accessToken: 2 },
        clock: clock.now,
      }),
    });
    const base = await serveOnLocalhost(app);
    const seen: Seen[] = [];
    const provider = new SignInProvider(devLoginAgent(base));
    const { client, transport } = await connectV1(`${base}/mcp`, provider, recordingFetch(seen));

    // No `scopes` option: the challenge names the scopes the server's tools need.
    expect(provider.authorizations[0]!.searchParams.get("scope")).toBe("notes:write");
    expect(provider.tokens()).toMatchObject({ expires_in: 2, scope: "notes:write" });
    expect(await client.callTool({ name: "add_note", arguments: { text: "a" } })).toMatchObject({
      structuredContent: { id: "1" },
    });
    const first = provider.tokens()!;

    clock.advance(3000);
    const afterExpiry = await client.callTool({ name: "add_note", arguments: { text: "b" } });
    expect(afterExpiry.structuredContent).toEqual({ id: "2" });

    // The expired token got a 401; the SDK refreshed (rotating the refresh token) and retried.
    expect(seen.filter((s) => s.path === "/mcp" && s.status === 401)).toHaveLength(2);
    expect(tokenRequests(seen)).toEqual(["authorization_code", "refresh_token"]);
    const refresh = seen.filter((s) => s.path === "/token")[1]!;
    expect(refresh.status).toBe(200);
    expect(refresh.form?.get("refresh_token")).toBe(first.refresh_token);
    expect(refresh.form?.get("resource")).toBe(`${base}/mcp`);
    const second = provider.tokens()!;
    expect(second.access_token).not.toBe(first.access_token);
    expect(second.refresh_token).toBeTruthy();
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(provider.authorizations).toHaveLength(1);
    expect(provider.saved).toHaveLength(2);
    await transport.close();
  });

  it("step-up: 403 insufficient_scope, refresh first (SDK 1.x), then re-authorization with the union", async () => {
    const base = await serveOnLocalhost(createDemoApp());
    const mcp = `${base}/mcp`;
    const seen: Seen[] = [];
    // The user grants only notes:read (our consent page grants all or nothing, so the request
    // is narrowed on its way to the authorization server).
    let grantOnly: string | undefined = "notes:read";
    const provider = new SignInProvider(devLoginAgent(base, { grantOnly: () => grantOnly }));
    const { client, transport } = await connectV1(mcp, provider, recordingFetch(seen));
    grantOnly = undefined;
    expect(provider.tokens()?.scope).toBe("notes:read");

    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(["list_notes"]);

    // SDK 1.x answers the 403 by running auth() with the challenge's scope, but auth() uses
    // the refresh token it holds. A refresh cannot widen a grant, so the retry gets the same
    // 403 and the SDK gives up without sending the user to authorize again.
    const refused = await client.callTool({ name: "add_note", arguments: { text: "x" } }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(StreamableHTTPError);
    expect((refused as StreamableHTTPError).code).toBe(403);
    expect((refused as Error).message).toContain("after trying upscoping");
    const stepUps = seen.filter((s) => s.path === "/mcp" && s.status === 403);
    expect(stepUps).toHaveLength(2);
    expect(tokenRequests(seen)).toEqual(["authorization_code", "refresh_token"]);
    expect(provider.tokens()?.scope).toBe("notes:read");
    expect(provider.authorizations).toHaveLength(1);

    // Without a refresh token the same 403 makes the SDK re-authorize with the scope the
    // challenge names: what the token holds plus what the tool needs. A successful request
    // first clears the SDK's "already tried this challenge" guard.
    provider.dropRefreshToken();
    await client.listTools();
    await expect(client.callTool({ name: "add_note", arguments: { text: "x" } })).rejects.toThrow(
      UnauthorizedError,
    );
    expect(provider.authorizations).toHaveLength(2);
    const stepUp = provider.authorizations[1]!;
    expect(stepUp.searchParams.get("scope")).toBe("notes:read notes:write");
    expect(stepUp.searchParams.get("resource")).toBe(mcp);

    await transport.finishAuth(provider.code);
    expect(provider.tokens()?.scope).toBe("notes:read notes:write");
    // Same user, same session: the call now goes through.
    const added = await client.callTool({ name: "add_note", arguments: { text: "x" } });
    expect(added.structuredContent).toEqual({ id: "1" });
    expect((await client.listTools()).tools.map((tool) => tool.name).sort()).toEqual([
      "add_note",
      "list_notes",
    ]);
    await transport.close();
  });
});
