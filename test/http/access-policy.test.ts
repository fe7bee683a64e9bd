/**
 * Access policy and rate limits over Streamable HTTP on loopback, in both eras (issue 13).
 * Callers carry signed JWTs from a third-party issuer with different claims (roles, tenant),
 * verified by `jwksVerifier` as in production. `canAccess` filters lists and answers what a
 * caller may not access as not found; `rateLimit` refuses with -32029 and a retry hint.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  type AuthInfo,
  ErrorCode,
  McpServer,
  mcpApp,
  type RateLimitOptions,
  rateLimit,
} from "../../src/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { manualClock } from "../helpers/clock.ts";
import { listen } from "../helpers/http.ts";
import { AUDIENCE, type JwtIssuer, startJwtIssuer } from "../helpers/jwt.ts";
import { errorOf, modernCall, modernPost, resultOf } from "./modern-support.ts";
import {
  initializeRequest,
  type Json,
  messagesOf,
  post,
  SseReader,
  sessionHeaders,
} from "./support.ts";

let idp: JwtIssuer;
let adminToken: string;
let viewerToken: string;
beforeAll(async () => {
  idp = await startJwtIssuer();
  adminToken = await idp.sign({ sub: "ada", roles: ["admin"], tenant: "acme" });
  viewerToken = await idp.sign({ sub: "vic", roles: ["viewer"], tenant: "globex" });
});

const isAdmin = (auth: AuthInfo) =>
  Array.isArray(auth.claims?.roles) && auth.claims.roles.includes("admin");

async function serve(mcp: McpServer): Promise<string> {
  const app = mcpApp(mcp, {
    path: "/mcp",
    auth: { issuer: idp.issuer, verify: idp.verify, audience: AUDIENCE },
  });
  return `${await listen(app)}/mcp`;
}

function policyServer() {
  const mcp = new McpServer({ name: "policy", version: "1.0.0" });
  const ran: string[] = [];
  mcp.tool("echo", {}, () => "echo");
  mcp.tool("reset", { canAccess: isAdmin }, () => {
    ran.push("reset");
    return "reset done";
  });
  // Needs a scope no token here holds: hidden, it must not answer 403 and so betray itself.
  mcp.tool("purge", { canAccess: isAdmin, scopes: ["admin:purge"] }, () => {
    ran.push("purge");
    return "purged";
  });
  mcp.resource("config://public", {}, () => "public");
  mcp.resource("config://secret", { canAccess: isAdmin }, () => {
    ran.push("secret");
    return "secret";
  });
  mcp.resource(
    "acme://docs/{name}",
    {
      canAccess: async (auth) => auth.claims?.tenant === "acme",
      list: () => [{ uri: "acme://docs/plan", name: "plan" }],
    },
    ({ name }) => `doc ${name}`,
  );
  mcp.prompt("greet", {}, () => "hello");
  mcp.prompt("audit", { canAccess: isAdmin }, () => "audit");
  return { mcp, ran };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A 2025-11-25 session opened with a token; `send` posts one request on it and reads the reply. */
async function session(url: string, token: string) {
  const opened = await post(url, initializeRequest(), bearer(token));
  expect(opened.status).toBe(200);
  const id = opened.headers.get("mcp-session-id")!;
  await opened.text();
  const headers = { ...sessionHeaders(id), ...bearer(token) };
  await (await post(url, { jsonrpc: "2.0", method: "notifications/initialized" }, headers)).text();
  let next = 1;
  return async (method: string, params: Json = {}) => {
    const response = await post(url, { jsonrpc: "2.0", id: next++, method, params }, headers);
    const messages = (await messagesOf(response)) as Json[];
    return { status: response.status, message: messages.at(-1) ?? {} };
  };
}

const modern = (url: string, token: string) => {
  let next = 1;
  return (method: string, params: Json = {}) =>
    modernCall(url, next++, method, params, { headers: bearer(token) });
};

const names = (items: unknown) => (items as { name: string }[]).map((item) => item.name);
const uris = (items: unknown) =>
  (items as { uri?: string; uriTemplate?: string }[]).map((item) => item.uri ?? item.uriTemplate);

describe("canAccess over HTTP, 2025-11-25", () => {
  it("filters every list by the token's claims", async () => {
    const { mcp } = policyServer();
    const url = await serve(mcp);
    const admin = await session(url, adminToken);
    const viewer = await session(url, viewerToken);
    const list = async (send: typeof admin, method: string, key: string) =>
      ((await send(method)).message.result as Json)[key];

    // The admin lacks admin:purge: scopes still narrow its list as before.
    expect(names(await list(admin, "tools/list", "tools"))).toEqual(["echo", "reset"]);
    expect(names(await list(viewer, "tools/list", "tools"))).toEqual(["echo"]);
    expect(uris(await list(admin, "resources/list", "resources"))).toEqual([
      "config://public",
      "config://secret",
      "acme://docs/plan",
    ]);
    expect(uris(await list(viewer, "resources/list", "resources"))).toEqual(["config://public"]);
    expect(uris(await list(admin, "resources/templates/list", "resourceTemplates"))).toEqual([
      "acme://docs/{name}",
    ]);
    expect(await list(viewer, "resources/templates/list", "resourceTemplates")).toEqual([]);
    expect(names(await list(admin, "prompts/list", "prompts"))).toEqual(["greet", "audit"]);
    expect(names(await list(viewer, "prompts/list", "prompts"))).toEqual(["greet"]);
  });

  it("answers a call to what the caller may not access as not found, and runs nothing", async () => {
    const { mcp, ran } = policyServer();
    const url = await serve(mcp);
    const viewer = await session(url, viewerToken);
    const hidden = await viewer("tools/call", { name: "reset", arguments: {} });
    expect(hidden.status).toBe(200);
    expect(hidden.message.error).toEqual({
      code: ErrorCode.InvalidParams,
      message: "Unknown tool: reset",
    });
    expect((await viewer("prompts/get", { name: "audit" })).message.error).toEqual({
      code: ErrorCode.InvalidParams,
      message: "Unknown prompt: audit",
    });
    expect((await viewer("resources/read", { uri: "config://secret" })).message.error).toEqual({
      code: ErrorCode.ResourceNotFound,
      message: "Resource not found: config://secret",
      data: { uri: "config://secret" },
    });
    expect(
      (await viewer("resources/read", { uri: "acme://docs/plan" })).message.error,
    ).toMatchObject({ code: ErrorCode.ResourceNotFound });
    expect(ran).toEqual([]);

    const admin = await session(url, adminToken);
    expect((await admin("tools/call", { name: "reset" })).message.result).toEqual({
      content: [{ type: "text", text: "reset done" }],
    });
    expect(ran).toEqual(["reset"]);
  });

  it("answers a hidden tool whose scopes the caller lacks as not found, never with a 403 naming them", async () => {
    const { mcp, ran } = policyServer();
    const url = await serve(mcp);
    const viewer = await session(url, viewerToken);
    const refused = await viewer("tools/call", { name: "purge" });
    expect(refused.status).toBe(200);
    expect(refused.message.error).toEqual({
      code: ErrorCode.InvalidParams,
      message: "Unknown tool: purge",
    });
    // One the caller may access but lacks the scope for still gets the step-up challenge.
    const admin = await session(url, adminToken);
    const stepUp = await post(
      url,
      { jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "purge" } },
      { ...bearer(adminToken), "mcp-protocol-version": "2025-11-25" },
    );
    expect(stepUp.status).toBe(403);
    expect(stepUp.headers.get("www-authenticate")).toContain('scope="admin:purge"');
    await admin("ping");
    expect(ran).toEqual([]);
  });
});

describe("canAccess over HTTP, 2026-07-28", () => {
  it("filters lists and answers what the caller may not access as not found", async () => {
    const { mcp, ran } = policyServer();
    const url = await serve(mcp);
    const admin = modern(url, adminToken);
    const viewer = modern(url, viewerToken);
    expect(names(resultOf(await admin("tools/list")).tools)).toEqual(["echo", "reset"]);
    expect(names(resultOf(await viewer("tools/list")).tools)).toEqual(["echo"]);
    expect(uris(resultOf(await viewer("resources/list")).resources)).toEqual(["config://public"]);
    expect(resultOf(await viewer("resources/templates/list")).resourceTemplates).toEqual([]);
    expect(names(resultOf(await viewer("prompts/list")).prompts)).toEqual(["greet"]);
    expect(names(resultOf(await admin("prompts/list")).prompts)).toEqual(["greet", "audit"]);

    const hidden = await viewer("tools/call", { name: "reset", arguments: {} });
    expect(hidden.status).toBe(200);
    expect(errorOf(hidden)).toEqual({
      code: ErrorCode.InvalidParams,
      message: "Unknown tool: reset",
    });
    const purge = await viewer("tools/call", { name: "purge", arguments: {} });
    expect(purge.status).toBe(200);
    expect(errorOf(purge)).toEqual({
      code: ErrorCode.InvalidParams,
      message: "Unknown tool: purge",
    });
    expect(errorOf(await viewer("resources/read", { uri: "config://secret" }))).toEqual({
      code: ErrorCode.InvalidParams,
      message: "Resource not found: config://secret",
      data: { uri: "config://secret" },
    });
    expect(errorOf(await viewer("prompts/get", { name: "audit" }))).toEqual({
      code: ErrorCode.InvalidParams,
      message: "Unknown prompt: audit",
    });
    expect(ran).toEqual([]);
    expect(resultOf(await admin("resources/read", { uri: "config://secret" })).contents).toEqual([
      { uri: "config://secret", text: "secret" },
    ]);
  });
});

describe("subscriptions/listen over HTTP, 2026-07-28", () => {
  it("accepts a hidden resource's URI like any other but never tells of its changes", async () => {
    const { mcp } = policyServer();
    const url = await serve(mcp);
    const watched = ["config://secret", "config://public"];
    const open = async (token: string, id: number) => {
      const response = await modernPost(
        url,
        id,
        "subscriptions/listen",
        { notifications: { resourceSubscriptions: watched } },
        { headers: bearer(token) },
      );
      expect(response.status).toBe(200);
      const reader = new SseReader(response);
      return { reader, ack: await reader.message() };
    };
    const viewer = await open(viewerToken, 1);
    const admin = await open(adminToken, 1);
    expect(viewer.ack).toEqual(admin.ack);
    mcp.resourceUpdated("config://secret");
    mcp.resourceUpdated("config://public");
    expect(((await admin.reader.message()).params as Json).uri).toBe("config://secret");
    expect(((await admin.reader.message()).params as Json).uri).toBe("config://public");
    expect(((await viewer.reader.message()).params as Json).uri).toBe("config://public");
    await viewer.reader.cancel();
    await admin.reader.cancel();
  });
});

function limitedServer(options: Omit<RateLimitOptions, "store">) {
  const mcp = new McpServer({ name: "limited", version: "1.0.0" });
  let runs = 0;
  mcp.tool("search", {}, () => {
    runs++;
    return "found";
  });
  mcp.tool("export", {}, () => {
    runs++;
    return "exported";
  });
  mcp.use(rateLimit({ store: memoryStore(), ...options }));
  return { mcp, runs: () => runs };
}

/** A whole minute: each window starts on it. */
const START = Date.UTC(2026, 0, 1, 12, 0, 0);

describe("rateLimit over HTTP", () => {
  it("2025-11-25: refuses after N calls with data.retryAfterSeconds, resets after the window", async () => {
    const clock = manualClock(START);
    const { mcp, runs } = limitedServer({
      clock: clock.now,
      perSubject: { limit: 3, windowSeconds: 60 },
      perTool: { export: { limit: 1, windowSeconds: 60 } },
    });
    const url = await serve(mcp);
    // initialize counts too: two calls left in this window.
    const viewer = await session(url, viewerToken);
    expect((await viewer("tools/call", { name: "search" })).message.result).toBeDefined();
    expect((await viewer("tools/call", { name: "export" })).message.result).toBeDefined();
    clock.advance(20_000);
    const refused = await viewer("tools/call", { name: "search" });
    expect(refused.status).toBe(200);
    expect(refused.message.error).toEqual({
      code: -32029,
      message: "Rate limit exceeded: at most 3 requests per 60 s; retry in 40 s",
      data: { retryAfterSeconds: 40, scope: "subject", limit: 3, windowSeconds: 60 },
    });
    // Another subject has its own budget, and its per-tool one is apart from it.
    const admin = await session(url, adminToken);
    expect((await admin("tools/call", { name: "export" })).message.result).toBeDefined();
    expect((await admin("tools/call", { name: "export" })).message.error).toMatchObject({
      code: -32029,
      data: { scope: "tool", tool: "export", retryAfterSeconds: 40 },
    });
    clock.advance(40_000);
    expect((await viewer("tools/call", { name: "search" })).message.result).toBeDefined();
    expect(runs()).toBe(4);
  });

  it("2026-07-28: refuses after N calls with data.retryAfterSeconds, resets after the window", async () => {
    const clock = manualClock(START);
    const { mcp, runs } = limitedServer({
      clock: clock.now,
      perSubject: { limit: 10, windowSeconds: 60 },
      perTool: { export: { limit: 2, windowSeconds: 10 } },
    });
    const url = await serve(mcp);
    const viewer = modern(url, viewerToken);
    resultOf(await viewer("tools/call", { name: "export", arguments: {} }));
    resultOf(await viewer("tools/call", { name: "export", arguments: {} }));
    clock.advance(2_500);
    const refused = await viewer("tools/call", { name: "export", arguments: {} });
    expect(refused.status).toBe(200);
    expect(errorOf(refused)).toEqual({
      code: -32029,
      message: 'Rate limit exceeded: at most 2 calls of tool "export" per 10 s; retry in 8 s',
      data: { retryAfterSeconds: 8, scope: "tool", limit: 2, windowSeconds: 10, tool: "export" },
    });
    // The caller's overall budget still has room for other tools.
    resultOf(await viewer("tools/call", { name: "search", arguments: {} }));
    clock.advance(7_500);
    resultOf(await viewer("tools/call", { name: "export", arguments: {} }));
    expect(runs()).toBe(4);
  });
});
