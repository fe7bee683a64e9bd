/**
 * Resource indicators (RFC 8707, MCP authorization, RFC 9700 §2.3): tokens are issued only for
 * resources this server knows, bound into the audience, and a token request cannot switch
 * the resource of its grant.
 */
import { describe, expect, it } from "vitest";
import {
  authorizeUrl,
  basic,
  codeFlow,
  expectErrorRedirect,
  expectOAuthError,
  KEYS,
  MACHINE,
  machineClient,
  mcpStatus,
  pkce,
  postForm,
  redeem,
  registerPublic,
  startServer,
  tokensOf,
} from "./support.ts";

const OTHER = "https://other.example/mcp";

describe("resource at /authorize", () => {
  it.each([
    ["an unknown resource", "https://evil.example/mcp"],
    ["a resource on this host under another path", "/admin"],
    ["a resource with a fragment", "https://other.example/mcp#x"],
    ["a relative resource", "mcp"],
    ["a non-http resource", "urn:example:mcp"],
  ])("redirects back with invalid_target for %s", async (_name, resource) => {
    const server = await startServer({ resources: [OTHER] });
    const clientId = await registerPublic(server.base);
    const { challenge } = await pkce();
    const target = resource === "/admin" ? `${server.base}/admin` : resource;
    const response = await fetch(
      authorizeUrl(server, { clientId, challenge, resource: target, state: "s1" }),
      { redirect: "manual" },
    );
    expectErrorRedirect(response, server, { error: "invalid_target", state: "s1" });
    expect(server.store.written(KEYS.pending)).toBe(0);
  });

  it("asks which resource when the server serves several and none is named", async () => {
    const server = await startServer({ resources: [OTHER] });
    const clientId = await registerPublic(server.base);
    const { challenge } = await pkce();
    const url = new URL(authorizeUrl(server, { clientId, challenge, state: "s1" }));
    url.searchParams.delete("resource");
    expectErrorRedirect(await fetch(url, { redirect: "manual" }), server, {
      error: "invalid_target",
      state: "s1",
    });
  });
});

describe("resource at /token", () => {
  it("refuses a token request naming another resource; the code is not spent", async () => {
    const server = await startServer({ resources: [OTHER] });
    const flow = await codeFlow(server);
    for (const resource of [OTHER, "https://evil.example/mcp", `${server.base}/mcp/admin`]) {
      await expectOAuthError(await redeem(server, flow, { resource }), 400, "invalid_target");
    }
    expect(server.store.written(KEYS.refresh)).toBe(0);
    const tokens = await tokensOf(await redeem(server, flow, { resource: server.mcp }));
    expect(await mcpStatus(server, tokens.access_token)).toBe(200);
    await expectOAuthError(await redeem(server, flow), 400, "invalid_grant");
  });

  it("binds the granted resource into the audience", async () => {
    const server = await startServer({ resources: [OTHER] });
    const flow = await codeFlow(server, { resource: OTHER });
    const tokens = await tokensOf(await redeem(server, flow));
    const payload = JSON.parse(
      Buffer.from(tokens.access_token.split(".")[1]!, "base64url").toString(),
    ) as { aud: string };
    expect(payload.aud).toBe(OTHER);
    // Valid, but not for this endpoint.
    expect(await mcpStatus(server, tokens.access_token)).toBe(401);
  });

  it("refuses client_credentials for an unknown resource and issues nothing", async () => {
    const server = await startServer({ clients: [machineClient()] });
    const { clientId, secret } = MACHINE;
    const response = await postForm(
      `${server.base}/token`,
      { grant_type: "client_credentials", resource: "https://evil.example/mcp" },
      { authorization: basic(clientId, secret) },
    );
    await expectOAuthError(response, 400, "invalid_target");
    const ok = await postForm(
      `${server.base}/token`,
      { grant_type: "client_credentials", resource: server.mcp },
      { authorization: basic(clientId, secret) },
    );
    const tokens = await tokensOf(ok);
    expect(tokens.refresh_token).toBeUndefined();
    expect(await mcpStatus(server, tokens.access_token)).toBe(200);
  });
});
