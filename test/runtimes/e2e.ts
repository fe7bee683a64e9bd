import { expect } from "vitest";
import { MCP_HEADERS, messagesOf } from "../helpers/http.ts";
import { authorizeWithDevLogin, form } from "../helpers/oauth.ts";

interface JsonRpcReply {
  result?: Record<string, unknown>;
  error?: unknown;
}

async function reply(response: Response): Promise<JsonRpcReply> {
  expect(response.status).toBe(200);
  const messages = (await messagesOf(response)) as (JsonRpcReply & { id?: unknown })[];
  const found = messages.find((message) => message.id !== undefined);
  expect(found).toBeDefined();
  return found!;
}

/**
 * What a client does with a protected MCP server it has never seen: discover the resource
 * and authorization server metadata from the 401, register, authorize through the dev login
 * form and consent, exchange the code, then call tools. The same check for every runtime.
 */
export async function endToEndCheck(mcpUrl: string): Promise<void> {
  const unauthenticated = await fetch(mcpUrl, {
    method: "POST",
    headers: MCP_HEADERS,
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
  });
  expect(unauthenticated.status).toBe(401);
  const challenge = unauthenticated.headers.get("www-authenticate") ?? "";
  const prmUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
  expect(prmUrl).toBeDefined();

  const prm = (await (await fetch(prmUrl!)).json()) as {
    resource: string;
    authorization_servers: string[];
  };
  expect(prm.resource).toBe(mcpUrl);
  const issuer = prm.authorization_servers[0]!;
  const metadata = (await (
    await fetch(`${issuer}/.well-known/oauth-authorization-server`)
  ).json()) as { issuer: string; token_endpoint: string; registration_endpoint: string };
  expect(metadata.issuer).toBe(issuer);
  expect(metadata.registration_endpoint).toBe(`${issuer}/register`);

  const grant = await authorizeWithDevLogin(issuer, {
    scope: "notes:read notes:write",
    resource: prm.resource,
  });
  const tokenResponse = await fetch(
    metadata.token_endpoint,
    form({
      grant_type: "authorization_code",
      code: grant.code,
      code_verifier: grant.verifier,
      client_id: grant.clientId,
      redirect_uri: grant.redirectUri,
      resource: prm.resource,
    }),
  );
  expect(tokenResponse.status).toBe(200);
  const { access_token: token } = (await tokenResponse.json()) as { access_token: string };

  const headers = { ...MCP_HEADERS, authorization: `Bearer ${token}` };
  const init = await fetch(mcpUrl, {
    method: "POST",
    headers,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "runtime-check", version: "1.0.0" },
      },
    }),
  });
  const session = init.headers.get("mcp-session-id");
  expect((await reply(init)).result).toMatchObject({ serverInfo: { name: "notes" } });
  const sessionHeaders = {
    ...headers,
    "mcp-protocol-version": "2025-11-25",
    ...(session ? { "mcp-session-id": session } : {}),
  };
  await (
    await fetch(mcpUrl, {
      method: "POST",
      headers: sessionHeaders,
      body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
    })
  ).text();

  const call = async (id: number, name: string, args: Record<string, unknown>) =>
    reply(
      await fetch(mcpUrl, {
        method: "POST",
        headers: sessionHeaders,
        body: JSON.stringify({
          jsonrpc: "2.0",
          id,
          method: "tools/call",
          params: { name, arguments: args },
        }),
      }),
    );
  const added = await call(1, "add_note", { text: "hello from the runtime check" });
  expect(added.result).toMatchObject({ structuredContent: { id: expect.any(String) } });
  expect(added.result?.isError).not.toBe(true);
  const listed = await call(2, "list_notes", {});
  expect(JSON.stringify(listed.result)).toContain("hello from the runtime check");
}
