import { env, exports } from "cloudflare:workers";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { McpClient, streamableHttp } from "../../src/client/index.ts";
import { authorizeWithDevLogin, form } from "../helpers/oauth.ts";

// The gateway Worker (test/workers/gateway-worker.ts) in this workerd instance, in front of the
// MCP server Worker "mcp-upstream" (test/workers/upstream-worker.ts) behind a service binding.
const base = "http://localhost";
const mcp = `${base}/mcp`;
const gatewayWorker = (exports as unknown as { GatewayWorker: Fetcher }).GatewayWorker;
const send = (input: string, init?: RequestInit) => gatewayWorker.fetch(input, init);
const upstream = (env as unknown as { UPSTREAM: Fetcher }).UPSTREAM;

interface Seen {
  calls: string[];
  authorization: string[];
  identity: string[];
  routed: string[];
}

/** What reached the upstream Worker so far (read from it, not from the gateway). */
async function seen(): Promise<Seen> {
  return (await (await upstream.fetch("https://mcp-upstream.internal/seen")).json()) as Seen;
}

async function signIn(user: string, scope?: string): Promise<{ token: string; scope: string }> {
  const authorized = await authorizeWithDevLogin(base, {
    fetch: send,
    user,
    resource: mcp,
    ...(scope !== undefined && { scope }),
  });
  const response = await send(
    `${base}/token`,
    form({
      grant_type: "authorization_code",
      code: authorized.code,
      code_verifier: authorized.verifier,
      client_id: authorized.clientId,
      redirect_uri: authorized.redirectUri,
      resource: mcp,
    }),
  );
  expect(response.status).toBe(200);
  const body = (await response.json()) as { access_token: string; scope?: string };
  return { token: body.access_token, scope: body.scope ?? "" };
}

/** Our client, over Streamable HTTP to the gateway Worker, with a bearer token. */
async function connect(token: string): Promise<McpClient> {
  const client = new McpClient({ name: "workers-gateway-test", version: "1.0.0" });
  await client.connect(
    streamableHttp(mcp, {
      fetch: send as typeof fetch,
      headers: { authorization: `Bearer ${token}` },
    }),
  );
  return client;
}

/** A raw 2026-07-28 tools/call (no session needed), to see the HTTP status and challenge. */
function callRaw(name: string, args: Record<string, string>, token?: string): Promise<Response> {
  return send(mcp, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      "mcp-name": name,
      ...(token && { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: {
        name,
        arguments: args,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1.0.0" },
          "io.modelcontextprotocol/clientCapabilities": {},
        },
      },
    }),
  });
}

const textOf = (result: { content?: unknown }) =>
  (result.content as { type: string; text: string }[])[0]?.text;

describe("the gateway on Workers", () => {
  it("refuses callers without a valid token, and the upstream never hears of them", async () => {
    const tag = crypto.randomUUID();
    const anonymous = await callRaw("notes_echo", { text: tag });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toContain(
      `resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`,
    );
    const forged = await callRaw("notes_echo", { text: tag }, "not.a.jwt");
    expect(forged.status).toBe(401);
    expect(forged.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect((await seen()).calls).not.toContain(`echo:${tag}`);

    const prm = (await (await send(`${base}/.well-known/oauth-protected-resource/mcp`)).json()) as {
      resource: string;
      authorization_servers: string[];
    };
    expect(prm).toMatchObject({ resource: mcp, authorization_servers: [base] });
  });

  it("signs a user in, lists and calls a forwarded tool; the token stays at the gateway", async () => {
    const { token } = await signIn("alice");
    expect(decodeJwt(token)).toMatchObject({ iss: base, aud: mcp, sub: "alice" });
    const client = await connect(token);
    const tools = (await client.listTools()).tools.map((tool) => tool.name);
    expect(tools).toEqual(expect.arrayContaining(["notes_echo", "mine_echo"]));

    const tag = crypto.randomUUID();
    const result = await client.callTool("notes_echo", { text: tag });
    expect(textOf(result)).toBe(`echo: ${tag}`);
    const upstreamSaw = await seen();
    expect(upstreamSaw.calls).toContain(`echo:${tag}`);
    // The MCP spec forbids token passthrough: nothing the caller sent as Authorization went on.
    expect(upstreamSaw.authorization).toEqual([]);
    await client.close();
  });

  it("asks for a tool's scope (403 insufficient_scope) and forwards once it is granted", async () => {
    const plain = await signIn("alice");
    expect(plain.scope.split(" ")).not.toContain("notes:delete");
    const tag = crypto.randomUUID();
    const refused = await callRaw("notes_delete_note", { id: tag }, plain.token);
    expect(refused.status).toBe(403);
    const challenge = refused.headers.get("www-authenticate") ?? "";
    expect(challenge).toContain('error="insufficient_scope"');
    expect(challenge).toContain("notes:delete");
    expect((await seen()).calls).not.toContain(`delete_note:${tag}`);

    const granted = await signIn("alice", "notes:delete");
    expect(granted.scope.split(" ")).toContain("notes:delete");
    const client = await connect(granted.token);
    expect(textOf(await client.callTool("notes_delete_note", { id: tag }))).toBe(`deleted ${tag}`);
    expect((await seen()).calls).toContain(`delete_note:${tag}`);
    await client.close();
  });

  it("opens one upstream connection per user, each carrying only its own subject", async () => {
    const before = (await seen()).identity.length;
    const alice = await connect((await signIn("alice")).token);
    const bob = await connect((await signIn("bob")).token);
    const tag = crypto.randomUUID();
    expect(textOf(await alice.callTool("mine_echo", { text: `a-${tag}` }))).toBe(`echo: a-${tag}`);
    expect(textOf(await bob.callTool("mine_echo", { text: `b-${tag}` }))).toBe(`echo: b-${tag}`);
    expect(textOf(await alice.callTool("mine_echo", { text: `a2-${tag}` }))).toBe(
      `echo: a2-${tag}`,
    );
    const upstreamSaw = await seen();
    expect(new Set(upstreamSaw.identity.slice(before))).toEqual(new Set(["alice", "bob"]));
    // Each call went upstream with its own caller's subject, and only that one.
    const mine = upstreamSaw.routed.filter((entry) => entry.includes(tag));
    expect(mine).toEqual([
      `alice|echo|{"text":"a-${tag}"}`,
      `bob|echo|{"text":"b-${tag}"}`,
      `alice|echo|{"text":"a2-${tag}"}`,
    ]);
    expect(upstreamSaw.authorization).toEqual([]);
    await alice.close();
    await bob.close();
  });
});

describe("the gateway in a Durable Object", () => {
  const namespace = (env as unknown as { GATEWAY_OBJECT: DurableObjectNamespace }).GATEWAY_OBJECT;
  const object = namespace.get(namespace.idFromName("gateway"));
  const toObject = (input: string, init?: RequestInit) => object.fetch(input, init);

  it("is protected like the Worker: no token, 401", async () => {
    const refused = await toObject(mcp, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toContain("resource_metadata=");
  });

  for (const protocolVersion of ["2026-07-28", "2025-11-25"] as const) {
    it(`carries the upstream's elicitation to a ${protocolVersion} caller and back`, async () => {
      const { token } = await signIn("alice");
      const asked: string[] = [];
      const client = new McpClient({
        name: "workers-gateway-test",
        version: "1.0.0",
        protocolVersion,
        handlers: {
          elicitation: (request) => {
            asked.push(String(request.message));
            return { action: "accept", content: { name: "Ada" } };
          },
        },
      });
      await client.connect(
        streamableHttp(mcp, {
          fetch: toObject as typeof fetch,
          headers: { authorization: `Bearer ${token}` },
        }),
      );
      expect(textOf(await client.callTool("notes_greet", {}))).toBe("hello Ada");
      expect(asked).toEqual(["Your name?"]);
      expect((await seen()).calls).toContain("greet:accept");
      await client.close();
    });
  }
});
