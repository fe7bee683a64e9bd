/**
 * The on-behalf-of hop (RFC 8693) between two real Portcullis MCP servers over loopback: a
 * tool of server A calls server B as the signed-in user, with the user's token exchanged at
 * A's authorization server for one narrowed to B. B checks it with A's published keys (and
 * introspection, so revocation reaches it), enforces audience and scopes, and sees the actor.
 */
import { Hono } from "hono";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import * as z from "zod";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import {
  AuthorizationError,
  type Authorizer,
  exchangeToken,
  inMemoryTransport,
  McpClient,
  onBehalfOf,
} from "../../src/client/index.ts";
import { jwksVerifier, McpServer, mcpApp, ToolError } from "../../src/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { type Deferred, deferred } from "../helpers/async.ts";
import { manualClock } from "../helpers/clock.ts";
import { initializeRequest, listen, post } from "../helpers/http.ts";
import { authorizeWithDevLogin } from "../helpers/oauth.ts";

const SECRET = "a-secret-long-enough-for-a-configured-client";
const clock = manualClock();
let baseA: string;
let baseB: string;
const mcpA = () => `${baseA}/mcp`;
const mcpB = () => `${baseB}/mcp`;
/** Held by the next `ask_b` call before it exchanges, while the test changes the world. */
let gate: Deferred<void> | undefined;
let entered: Deferred<void> | undefined;

/** Server B: reports who called, and writes only with notes:write. */
function serverB(): McpServer {
  const mcp = new McpServer({ name: "b", version: "1.0.0" });
  mcp.tool("whoami", { scopes: ["notes:read"] }, async (_args, ctx) => ({
    content: [
      {
        type: "text",
        text: JSON.stringify({
          subject: ctx.auth?.subject,
          clientId: ctx.auth?.clientId,
          scopes: ctx.auth?.scopes,
          act: ctx.auth?.claims?.act,
          kind: ctx.auth?.kind,
        }),
      },
    ],
  }));
  mcp.tool("write_note", { scopes: ["notes:write"] }, async () => ({
    content: [{ type: "text", text: "written" }],
  }));
  return mcp;
}

/** Server A: its tool calls B as the user. */
function serverA(): McpServer {
  const mcp = new McpServer({ name: "a", version: "1.0.0" });
  mcp.tool(
    "ask_b",
    {
      input: z.object({
        tool: z.string().default("whoami"),
        scope: z.string().optional(),
        resource: z.string().optional(),
        clientId: z.string().default("notes-server"),
      }),
      scopes: ["notes:read"],
    },
    async ({ tool, scope, resource, clientId }, ctx) => {
      if (gate) {
        entered?.resolve();
        await gate.promise;
      }
      const client = new McpClient({ name: "a-to-b", version: "1.0.0" });
      const authorizer = onBehalfOf(ctx, {
        issuer: baseA,
        clientId,
        clientSecret: SECRET,
        resource: resource ?? mcpB(),
        ...(scope === undefined ? {} : { scope }),
        allowInsecureRequests: true,
      });
      try {
        await client.connect(resource ?? mcpB(), { authorizer });
        const result = await client.callTool(tool, {});
        const first = result.content[0];
        return { content: [{ type: "text", text: first?.type === "text" ? first.text : "" }] };
      } catch (error) {
        // What the user should read: B (or the exchange) said no, and why.
        if (error instanceof AuthorizationError) {
          throw new ToolError(`Server B cannot be called as you: ${error.message}`);
        }
        throw new ToolError(`Server B refused: ${(error as Error).message}`);
      } finally {
        await client.close();
      }
    },
  );
  return mcp;
}

beforeAll(async () => {
  // Both origins are known only once both listen: each front hands over to its app later.
  let appA: Hono | undefined;
  let appB: Hono | undefined;
  const frontA = new Hono();
  frontA.all("*", (c) => appA!.fetch(c.req.raw, c.env));
  const frontB = new Hono();
  frontB.all("*", (c) => appB!.fetch(c.req.raw, c.env));
  baseA = await listen(frontA);
  baseB = await listen(frontB);
  const service = (id: string) => ({
    client_id: id,
    client_secret: SECRET,
    grant_types: [],
    redirect_uris: [],
  });
  const as = authorizationServer({
    store: memoryStore({ clock: clock.now }),
    login: devLogin(),
    clock: clock.now,
    scopes: ["notes:read", "notes:write", "files:read"],
    resources: [mcpB()],
    clients: [{ ...service("notes-server"), introspection: [mcpB()] }, service("stranger-server")],
    tokenExchange: { allow: { "notes-server": [mcpB()] } },
  });
  appA = mcpApp(serverA(), { path: "/mcp", auth: as });
  appB = mcpApp(serverB(), {
    path: "/mcp",
    auth: {
      issuer: baseA,
      audience: mcpB(),
      verify: jwksVerifier({
        issuer: baseA,
        allowInsecureRequests: true,
        clock: clock.now,
        requireJwtAccessTokenType: true,
        // B asks A whether each token is still active: a revoked grant stops at B too.
        revocation: { clientId: "notes-server", clientSecret: SECRET, cacheSeconds: 0 },
      }),
    },
  });
});

const open: McpClient[] = [];
afterEach(async () => {
  gate = undefined;
  entered = undefined;
  await Promise.all(open.splice(0).map((client) => client.close()));
});

interface User {
  token: string;
  clientId: string;
  client: McpClient;
}

/** The user signs in to A (dev login, consent) and connects to A with the token. */
async function user(scope = "notes:read notes:write"): Promise<User> {
  const authorized = await authorizeWithDevLogin(baseA, { scope, resource: mcpA() });
  const response = await fetch(`${baseA}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: authorized.code,
      code_verifier: authorized.verifier,
      redirect_uri: authorized.redirectUri,
      client_id: authorized.clientId,
    }),
  });
  expect(response.status).toBe(200);
  const { access_token: token } = (await response.json()) as { access_token: string };
  const authorizer: Authorizer = {
    headers: async () => ({ authorization: `Bearer ${token}` }),
    onUnauthorized: async () => false,
    onForbidden: async () => false,
  };
  const client = new McpClient({ name: "user-agent", version: "1.0.0" });
  open.push(client);
  await client.connect(mcpA(), { authorizer });
  return { token, clientId: authorized.clientId, client };
}

async function askB(
  client: McpClient,
  args: Record<string, string> = {},
): Promise<{ text: string; isError: boolean }> {
  const result = await client.callTool("ask_b", args);
  const first = result.content[0];
  return { text: first?.type === "text" ? first.text : "", isError: result.isError === true };
}

describe("A calls B as the user, with an exchanged token", () => {
  it("B sees the user, A as the actor, and only the scopes A asked for", async () => {
    const { client } = await user();
    const { text, isError } = await askB(client, { scope: "notes:read" });
    expect(isError, text).toBe(false);
    expect(JSON.parse(text)).toEqual({
      subject: "alice",
      clientId: "notes-server",
      scopes: ["notes:read"],
      act: { sub: "notes-server" },
      kind: "user",
    });
  });

  it("B enforces the narrowed scopes: a read-only token cannot write", async () => {
    const { client } = await user();
    const allowed = await askB(client, { tool: "write_note" });
    expect(allowed).toEqual({ text: "written", isError: false });
    const narrowed = await askB(client, { tool: "write_note", scope: "notes:read" });
    expect(narrowed.isError).toBe(true);
    expect(narrowed.text).toMatch(/Server B refused: .*(403|insufficient_scope)/);
  });

  it("B enforces the audience: the user's own token for A is refused there, and back", async () => {
    const { token } = await user();
    const atB = await post(mcpB(), initializeRequest(), { authorization: `Bearer ${token}` });
    expect(atB.status).toBe(401);
    expect(atB.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("a refused exchange reads clearly in A's tool result", async () => {
    const { client } = await user("notes:read");
    const cases: [Record<string, string>, RegExp][] = [
      [{ scope: "notes:read files:read" }, /refused: invalid_scope/],
      [{ resource: mcpA() }, /refused: invalid_target/],
      [{ clientId: "stranger-server" }, /refused: unauthorized_client/],
    ];
    for (const [args, message] of cases) {
      const { text, isError } = await askB(client, args);
      expect(isError, text).toBe(true);
      expect(text).toMatch(/^Server B cannot be called as you: The token exchange was refused/);
      expect(text).toMatch(message);
    }
  });

  it("a grant revoked mid-call cannot be exchanged", async () => {
    const { client, token, clientId } = await user();
    gate = deferred();
    entered = deferred();
    const pending = askB(client);
    await entered.promise;
    const revoked = await fetch(`${baseA}/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token, client_id: clientId }),
    });
    expect(revoked.status).toBe(200);
    gate.resolve();
    const { text, isError } = await pending;
    expect(isError).toBe(true);
    expect(text).toMatch(/refused: invalid_grant/);
  });

  it("an exchanged token stops working at B once the user's grant is revoked", async () => {
    const { token, clientId } = await user();
    const response = await fetch(`${baseA}/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${btoa(`notes-server:${SECRET}`)}`,
      },
      body: new URLSearchParams({
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token: token,
        subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
        resource: mcpB(),
      }),
    });
    const { access_token: exchanged } = (await response.json()) as { access_token: string };
    const before = await post(mcpB(), initializeRequest(), {
      authorization: `Bearer ${exchanged}`,
    });
    expect(before.status).toBe(200);
    // B's token is refused at A: its audience is B.
    const atA = await post(mcpA(), initializeRequest(), { authorization: `Bearer ${exchanged}` });
    expect(atA.status).toBe(401);
    await fetch(`${baseA}/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token, client_id: clientId }),
    });
    const after = await post(mcpB(), initializeRequest(), { authorization: `Bearer ${exchanged}` });
    expect(after.status).toBe(401);
  });
});

describe("the client helpers' own rules", () => {
  /** What onBehalfOf's authorizer for B answers, in a tool run in memory, when asked for `target`. */
  async function onBehalfOfCode(target: string): Promise<string> {
    const server = new McpServer({ name: "in-memory", version: "1.0.0" });
    server.tool("go", {}, async (_args, ctx) => {
      const authorizer = onBehalfOf(ctx, {
        issuer: baseA,
        clientId: "notes-server",
        clientSecret: SECRET,
        resource: mcpB(),
        allowInsecureRequests: true,
      });
      try {
        await authorizer.headers(new URL(target));
        return "sent";
      } catch (error) {
        return (error as AuthorizationError).code;
      }
    });
    const local = new McpClient({ name: "local", version: "1.0.0" });
    open.push(local);
    await local.connect(inMemoryTransport(server));
    const first = (await local.callTool("go", {})).content[0];
    return first?.type === "text" ? first.text : "";
  }

  it("onBehalfOf sends the exchanged token only to its resource", async () => {
    // An authorizer for B asked for headers to another server refuses, before any exchange.
    // In memory there is no caller's token either: the mismatch is found first.
    expect(await onBehalfOfCode(mcpA())).toBe("ERR_SERVER_MISMATCH");
  });

  it("onBehalfOf without a caller's token refuses before any request", async () => {
    expect(await onBehalfOfCode(mcpB())).toBe("ERR_NO_SUBJECT_TOKEN");
  });

  it("exchangeToken reports the server's error code, and discovers the token endpoint", async () => {
    const { token } = await user();
    const ok = await exchangeToken({
      issuer: baseA,
      clientId: "notes-server",
      clientSecret: SECRET,
      subjectToken: token,
      resource: mcpB(),
      scope: ["notes:read"],
      allowInsecureRequests: true,
    });
    expect(ok).toMatchObject({
      tokenType: "bearer",
      scope: "notes:read",
      issuedTokenType: "urn:ietf:params:oauth:token-type:access_token",
    });
    const refusal = await exchangeToken({
      issuer: baseA,
      tokenEndpoint: `${baseA}/token`,
      clientId: "notes-server",
      clientSecret: "wrong",
      subjectToken: token,
      resource: mcpB(),
      allowInsecureRequests: true,
    }).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(AuthorizationError);
    expect(refusal).toMatchObject({
      code: "ERR_TOKEN_REQUEST_FAILED",
      oauthError: "invalid_client",
    });
    const insecure = await exchangeToken({
      issuer: baseA,
      clientId: "notes-server",
      clientSecret: SECRET,
      subjectToken: token,
      resource: mcpB(),
    }).catch((error: unknown) => error);
    expect(insecure).toMatchObject({ code: "ERR_METADATA_NOT_FOUND" });
  });
});
