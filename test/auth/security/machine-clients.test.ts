/**
 * Tokens without a user (issue 10, point 1). Only clients the operator configured may use
 * client_credentials, only for the scopes configured for them; registered and metadata
 * document clients never can. The MCP endpoint tells a client acting for itself from a user
 * (`ctx.auth.kind`), and what needs a user behind the call (the default) refuses the client
 * with 401 `insufficient_user_authentication` (RFC 9470) in both eras, tasks included, and
 * lists show the client only what it may use.
 */

import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type AuthorizationServerOptions,
  authorizationServer,
  type ConfiguredClient,
  devLogin,
} from "../../../src/auth/index.ts";
import { McpServer, mcpApp } from "../../../src/index.ts";
import { sha256 } from "../../../src/util/crypto.ts";
import { listen, messagesOf, post } from "../../helpers/http.ts";
import { modernCall, modernPost } from "../../http/modern-support.ts";
import {
  basic,
  expectOAuthError,
  KEYS,
  MACHINE,
  machineClient,
  postForm,
  publicDns,
  REDIRECT_URI,
  recordingStore,
  register,
  registerConfidential,
  type TestServer,
  tokenFlow,
  tokensOf,
} from "./support.ts";

type Json = Record<string, unknown>;

/** What the handlers ran, so a refusal can be shown to have run nothing. */
const ran: string[] = [];

function machinesServer(): McpServer {
  const mcp = new McpServer({ name: "machines", version: "1.0.0" });
  const notes: string[] = [];
  mcp.tool(
    "write_note",
    { input: z.object({ text: z.string() }), scopes: ["notes:write"] },
    ({ text }) => {
      ran.push("write_note");
      notes.push(text);
      return "saved";
    },
  );
  mcp.tool("read_notes", { scopes: ["notes:read"] }, () => {
    ran.push("read_notes");
    return notes.join("\n");
  });
  mcp.tool("report", { taskSupport: "optional" }, () => {
    ran.push("report");
    return "report";
  });
  mcp.tool("long_report", { taskSupport: "required" }, () => {
    ran.push("long_report");
    return "long report";
  });
  mcp.tool("health", { scopes: ["notes:read"], userRequired: false }, () => {
    ran.push("health");
    return "ok";
  });
  mcp.tool("sync", { scopes: ["notes:write"], userRequired: false }, () => {
    ran.push("sync");
    return "synced";
  });
  mcp.tool("whoami", { userRequired: false }, (_args, ctx) => ({
    kind: ctx.auth?.kind,
    subject: ctx.auth?.subject,
  }));
  mcp.resource("notes://all", {}, () => {
    ran.push("notes://all");
    return "every note";
  });
  mcp.resource(
    "notes://{id}",
    {
      list: () => [{ uri: "notes://1", name: "note 1" }],
      complete: { id: () => ["1", "2"] },
    },
    ({ id }) => {
      ran.push(`notes://${id}`);
      return `note ${id}`;
    },
  );
  mcp.resource("status://server", { userRequired: false }, () => "up");
  mcp.prompt(
    "summarize",
    { args: z.object({ topic: z.string() }), complete: { topic: () => ["work"] } },
    ({ topic }) => {
      ran.push("summarize");
      return `Summarize ${topic}`;
    },
  );
  mcp.prompt("checkup", { userRequired: false }, () => "Check the server");
  return mcp;
}

async function startMachines(options: Partial<AuthorizationServerOptions> = {}) {
  const store = recordingStore();
  const as = authorizationServer({
    store,
    login: devLogin(),
    scopes: ["notes:read", "notes:write"],
    clients: [machineClient()],
    ...options,
  });
  const mcp = machinesServer();
  const app = mcpApp(mcp, { path: "/mcp", sessions: true, auth: as });
  const base = await listen(app);
  const server: TestServer = { base, mcp: `${base}/mcp`, store, as };
  return { server, mcp };
}

function clientCredentials(
  server: TestServer,
  values: Record<string, string> = {},
  headers: Record<string, string> = { authorization: basic(MACHINE.clientId, MACHINE.secret) },
) {
  return postForm(`${server.base}/token`, { grant_type: "client_credentials", ...values }, headers);
}

/** A 2025-11-25 session for a token: its headers for later requests. */
async function session(server: TestServer, token: string, version = "2025-11-25") {
  const authorization = `Bearer ${token}`;
  const response = await post(
    server.mcp,
    {
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: version,
        capabilities: {},
        clientInfo: { name: "t", version: "1" },
      },
    },
    { authorization },
  );
  expect(response.status).toBe(200);
  await response.text();
  const headers = {
    authorization,
    "mcp-session-id": response.headers.get("mcp-session-id")!,
    "mcp-protocol-version": version,
  };
  await (
    await post(server.mcp, { jsonrpc: "2.0", method: "notifications/initialized" }, headers)
  ).text();
  return headers;
}

async function request(
  server: TestServer,
  headers: Record<string, string>,
  method: string,
  params: Json = {},
): Promise<{ status: number; challenge: string; body: Json }> {
  const response = await post(server.mcp, { jsonrpc: "2.0", id: 1, method, params }, headers);
  const challenge = response.headers.get("www-authenticate") ?? "";
  if (response.status !== 200) {
    return { status: response.status, challenge, body: (await response.json()) as Json };
  }
  const messages = (await messagesOf(response)) as Json[];
  return { status: 200, challenge, body: messages.at(-1)! };
}

function expectUserRequired(
  reply: { status: number; challenge: string; body: Json },
  server: TestServer,
): void {
  expect(reply.status, JSON.stringify(reply.body)).toBe(401);
  expect(reply.challenge).toMatch(/^Bearer /);
  expect(reply.challenge).toContain('error="insufficient_user_authentication"');
  expect(reply.challenge).toContain(
    `resource_metadata="${server.base}/.well-known/oauth-protected-resource/mcp"`,
  );
  expect(reply.body).toMatchObject({ error: "insufficient_user_authentication" });
  expect(reply.body).not.toHaveProperty("result");
}

const names = (reply: { body: Json }, key: string, field = "name") =>
  ((reply.body.result as Json)[key] as Json[]).map((item) => item[field]);

describe("who may use client_credentials", () => {
  it("refuses every way of registering for it, and stores nothing", async () => {
    const { server } = await startMachines();
    const { publicKey } = await generateKeyPair("ES256");
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: "k1" }] };
    for (const metadata of [
      { grant_types: ["client_credentials"], redirect_uris: [] },
      { grant_types: ["client_credentials"], token_endpoint_auth_method: "client_secret_post" },
      { grant_types: ["client_credentials"], token_endpoint_auth_method: "private_key_jwt", jwks },
      { grant_types: ["authorization_code", "client_credentials"] },
      { grant_types: ["client_credentials", "client_credentials"] },
      { grant_types: ["client_credentials"], client_id: MACHINE.clientId },
    ]) {
      const body = await expectOAuthError(
        await register(server.base, { redirect_uris: [REDIRECT_URI], ...metadata }),
        400,
        "invalid_client_metadata",
      );
      expect(body.error_description).toMatch(/client_credentials/);
    }
    expect(server.store.written(KEYS.client)).toBe(0);
  });

  it("refuses registered clients at /token, whatever their stored record says", async () => {
    const { server } = await startMachines();
    const registered = await registerConfidential(server.base);
    const post = await registerConfidential(server.base, {
      token_endpoint_auth_method: "client_secret_post",
    });
    // A record that claims the grant anyway (written before the rule, or by hand).
    const secret = "a-legacy-secret-of-sufficient-length-0123456";
    await server.store.set(`${KEYS.client}legacy`, {
      client_id: "legacy",
      secret_hash: await sha256(secret),
      client_secret_expires_at: 0,
      redirect_uris: [],
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: ["client_credentials"],
      response_types: ["code"],
      application_type: "web",
      scope: "notes:read notes:write",
      source: "registered",
    });
    const writes = server.store.writes.length;
    for (const attempt of [
      () => clientCredentials(server, {}, { authorization: basic("legacy", secret) }),
      () =>
        clientCredentials(
          server,
          {},
          { authorization: basic(registered.clientId, registered.secret) },
        ),
      () =>
        clientCredentials(
          server,
          { scope: "notes:write" },
          {
            authorization: basic(registered.clientId, registered.secret),
          },
        ),
      () => clientCredentials(server, { client_id: post.clientId, client_secret: post.secret }, {}),
    ]) {
      const body = await expectOAuthError(await attempt(), 400, "unauthorized_client");
      expect(body).not.toHaveProperty("access_token");
    }
    // Only the rate limit counted: no token, grant or client was written.
    expect(server.store.writes.slice(writes).every((key) => key.startsWith("as:rl:"))).toBe(true);
  });

  it("refuses a metadata document that asks for it, and a document client at /token", async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" }] };
    const asking = "https://client.example/machine.json";
    const plain = "https://client.example/agent.json";
    const documents: Record<string, Json> = {
      [asking]: {
        client_id: asking,
        redirect_uris: [REDIRECT_URI],
        grant_types: ["authorization_code", "client_credentials"],
        token_endpoint_auth_method: "private_key_jwt",
        jwks,
      },
      [plain]: {
        client_id: plain,
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: "private_key_jwt",
        jwks,
      },
    };
    const fetchDocument: typeof fetch = async (input) => {
      const url = input instanceof Request ? input.url : String(input);
      const document = documents[url];
      return document
        ? new Response(JSON.stringify(document), {
            headers: { "content-type": "application/json" },
          })
        : new Response("not found", { status: 404 });
    };
    const { server } = await startMachines({
      metadataDocuments: { fetch: fetchDocument, resolveHost: publicDns },
    });
    const assertion = (clientId: string) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ jti: crypto.randomUUID() })
        .setProtectedHeader({ alg: "ES256", kid: "k1" })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(`${server.base}/token`)
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(privateKey);
    };
    const withAssertion = async (clientId: string) =>
      clientCredentials(
        server,
        {
          client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
          client_assertion: await assertion(clientId),
        },
        {},
      );
    const refused = await expectOAuthError(await withAssertion(asking), 401, "invalid_client");
    expect(refused.error_description).toMatch(/client_credentials/);
    // Authenticated by its own key, still not configured for the grant.
    await expectOAuthError(await withAssertion(plain), 400, "unauthorized_client");
    expect(server.store.written("as:cimd:")).toBe(1);
  });

  it("refuses a configured client that is not configured for it", async () => {
    const secret = "a-web-client-secret-of-sufficient-length-01";
    const { server } = await startMachines({
      clients: [
        machineClient(),
        { client_id: "web", client_secret: secret, redirect_uris: [REDIRECT_URI] },
      ],
    });
    await expectOAuthError(
      await clientCredentials(server, {}, { authorization: basic("web", secret) }),
      400,
      "unauthorized_client",
    );
  });
});

describe("the scopes of a configured machine client", () => {
  it("grants what is configured when asked for nothing, or for a part of it", async () => {
    const { server } = await startMachines({
      clients: [machineClient({ scope: "notes:read notes:write" })],
    });
    for (const [asked, granted] of [
      [undefined, "notes:read notes:write"],
      ["", "notes:read notes:write"],
      ["notes:read", "notes:read"],
      ["notes:write notes:read", "notes:write notes:read"],
    ] as const) {
      const tokens = await tokensOf(
        await clientCredentials(server, asked === undefined ? {} : { scope: asked }),
      );
      expect(tokens.scope).toBe(granted);
      expect(tokens.refresh_token).toBeUndefined();
      const claims = decodeJwt(tokens.access_token);
      expect(claims).toMatchObject({
        sub: MACHINE.clientId,
        client_id: MACHINE.clientId,
        scope: granted,
        gty: "client_credentials",
      });
    }
    expect(server.store.written(KEYS.refresh)).toBe(0);
  });

  it("refuses any scope beyond the configured ones with invalid_scope, issuing nothing", async () => {
    const { server } = await startMachines();
    const writes = server.store.writes.length;
    for (const scope of [
      "notes:write",
      "notes:read notes:write",
      "offline_access",
      "admin",
      "notes:read notes:read2",
    ]) {
      const body = await expectOAuthError(
        await clientCredentials(server, { scope }),
        400,
        "invalid_scope",
      );
      expect(body).not.toHaveProperty("access_token");
    }
    expect(server.store.writes.slice(writes).every((key) => key.startsWith("as:rl:"))).toBe(true);
  });

  it("gives a client configured without scopes a token with none, and nothing more", async () => {
    const { scope: _scope, ...bare } = machineClient();
    const { server } = await startMachines({ clients: [bare] });
    const tokens = await tokensOf(await clientCredentials(server));
    expect(tokens.scope).toBeUndefined();
    expect(decodeJwt(tokens.access_token).scope).toBe("");
    await expectOAuthError(
      await clientCredentials(server, { scope: "notes:read" }),
      400,
      "invalid_scope",
    );
  });

  it("refuses mistakes in configured clients when the server is constructed", () => {
    const base = { store: recordingStore(), login: devLogin() };
    const mistakes: ConfiguredClient[][] = [
      [machineClient({ token_endpoint_auth_method: "none" })],
      [{ ...machineClient(), client_secret: "" }],
      [{ client_id: "p", redirect_uris: [], token_endpoint_auth_method: "client_secret_post" }],
      [{ client_id: "", redirect_uris: [] }],
      [machineClient({ redirect_uris: ["http://evil.example/cb"] })],
      [machineClient({ scope: "bad\u0000scope" })],
    ];
    for (const clients of mistakes) {
      expect(() => authorizationServer({ ...base, clients })).toThrow(TypeError);
    }
  });
});

describe("a client acting for itself at the MCP endpoint (2025-11-25)", () => {
  let server: TestServer;
  let machine: Record<string, string>;
  let user: Record<string, string>;

  beforeAll(async () => {
    ({ server } = await startMachines());
    const { access_token } = await tokensOf(await clientCredentials(server));
    machine = await session(server, access_token);
    const flow = await tokenFlow(server, { scope: "notes:read notes:write" });
    user = await session(server, flow.tokens.access_token);
  });

  it("says which kind of caller it is in ctx.auth", async () => {
    const asMachine = await request(server, machine, "tools/call", { name: "whoami" });
    const text = (reply: { body: Json }) =>
      JSON.parse(((reply.body.result as Json).content as { text: string }[])[0]!.text) as Json;
    expect(text(asMachine)).toEqual({ kind: "client", subject: MACHINE.clientId });
    const asUser = await request(server, user, "tools/call", { name: "whoami" });
    expect(text(asUser)).toEqual({ kind: "user", subject: "alice" });
  });

  it("lists only what the client may use", async () => {
    expect(names(await request(server, machine, "tools/list"), "tools")).toEqual([
      "health",
      "whoami",
    ]);
    expect(names(await request(server, machine, "resources/list"), "resources", "uri")).toEqual([
      "status://server",
    ]);
    expect(
      names(await request(server, machine, "resources/templates/list"), "resourceTemplates"),
    ).toEqual([]);
    expect(names(await request(server, machine, "prompts/list"), "prompts")).toEqual(["checkup"]);
    // The user sees it all, template members included.
    expect(names(await request(server, user, "tools/list"), "tools")).toHaveLength(7);
    expect(names(await request(server, user, "resources/list"), "resources", "uri")).toEqual([
      "notes://all",
      "status://server",
      "notes://1",
    ]);
  });

  it("refuses what needs a user with 401 insufficient_user_authentication, running nothing", async () => {
    ran.length = 0;
    for (const [method, params] of [
      ["tools/call", { name: "read_notes" }],
      ["tools/call", { name: "write_note", arguments: { text: "by a robot" } }],
      ["tools/call", { name: "report", task: {} }],
      ["tools/call", { name: "long_report", task: { ttl: 60_000 } }],
      ["resources/read", { uri: "notes://all" }],
      ["resources/read", { uri: "notes://1" }],
      ["resources/subscribe", { uri: "notes://2" }],
      ["prompts/get", { name: "summarize", arguments: { topic: "x" } }],
      [
        "completion/complete",
        { ref: { type: "ref/prompt", name: "summarize" }, argument: { name: "topic", value: "w" } },
      ],
      [
        "completion/complete",
        { ref: { type: "ref/resource", uri: "notes://{id}" }, argument: { name: "id", value: "" } },
      ],
    ] as const) {
      expectUserRequired(await request(server, machine, method, params), server);
    }
    expect(ran).toEqual([]);
    // No task was created for the client either.
    const tasks = await request(server, machine, "tasks/list");
    expect((tasks.body.result as Json).tasks).toEqual([]);
  });

  it("lets the client use what is open to it, within its scopes", async () => {
    ran.length = 0;
    const health = await request(server, machine, "tools/call", { name: "health" });
    expect((health.body.result as Json).isError).toBeUndefined();
    expect(
      (await request(server, machine, "resources/read", { uri: "status://server" })).status,
    ).toBe(200);
    expect((await request(server, machine, "prompts/get", { name: "checkup" })).status).toBe(200);
    // Open to clients, but its scope is not the client's: the usual step-up answer.
    const sync = await request(server, machine, "tools/call", { name: "sync" });
    expect(sync.status).toBe(403);
    expect(sync.challenge).toContain('error="insufficient_scope"');
    expect(ran).toEqual(["health"]);
  });

  it("lets a user with the scopes do all of it", async () => {
    ran.length = 0;
    const write = await request(server, user, "tools/call", {
      name: "write_note",
      arguments: { text: "by alice" },
    });
    expect(write.status).toBe(200);
    expect((await request(server, user, "resources/read", { uri: "notes://all" })).status).toBe(
      200,
    );
    expect(ran).toEqual(["write_note", "notes://all"]);
  });

  it("refuses a 2025-03-26 batch with one request that needs a user, running none of it", async () => {
    const { access_token } = await tokensOf(await clientCredentials(server));
    const headers = await session(server, access_token, "2025-03-26");
    ran.length = 0;
    const response = await post(
      server.mcp,
      [
        { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "health" } },
        { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "read_notes" } },
      ],
      headers,
    );
    expectUserRequired(
      {
        status: response.status,
        challenge: response.headers.get("www-authenticate") ?? "",
        body: (await response.json()) as Json,
      },
      server,
    );
    expect(ran).toEqual([]);
  });
});

describe("a client acting for itself at the MCP endpoint (2026-07-28)", () => {
  it("lists, refuses and serves as in the session era", async () => {
    const { server } = await startMachines();
    const { access_token } = await tokensOf(await clientCredentials(server));
    const headers = { authorization: `Bearer ${access_token}` };
    const capabilities = { extensions: { "io.modelcontextprotocol/tasks": {} } };
    const listed = await modernCall(server.mcp, 1, "tools/list", {}, { headers });
    expect(((listed.response.result as Json).tools as Json[]).map((t) => t.name)).toEqual([
      "health",
      "whoami",
    ]);
    ran.length = 0;
    for (const [method, params] of [
      ["tools/call", { name: "write_note", arguments: { text: "x" } }],
      ["tools/call", { name: "long_report", arguments: {} }],
      ["resources/read", { uri: "notes://1" }],
      ["prompts/get", { name: "summarize", arguments: { topic: "x" } }],
    ] as const) {
      const response = await modernPost(server.mcp, 2, method, params, { headers, capabilities });
      expectUserRequired(
        {
          status: response.status,
          challenge: response.headers.get("www-authenticate") ?? "",
          body: (await response.json()) as Json,
        },
        server,
      );
    }
    expect(ran).toEqual([]);
    const health = await modernCall(
      server.mcp,
      3,
      "tools/call",
      { name: "health", arguments: {} },
      {
        headers,
      },
    );
    expect(health.status).toBe(200);
    expect(ran).toEqual(["health"]);
  });

  it("serves a user everything its scopes allow", async () => {
    const { server } = await startMachines();
    const flow = await tokenFlow(server, { scope: "notes:read notes:write" });
    const headers = { authorization: `Bearer ${flow.tokens.access_token}` };
    const call = await modernCall(
      server.mcp,
      1,
      "tools/call",
      { name: "write_note", arguments: { text: "by alice" } },
      { headers },
    );
    expect(call.status).toBe(200);
    expect((call.response.result as Json).isError).toBeUndefined();
  });
});
