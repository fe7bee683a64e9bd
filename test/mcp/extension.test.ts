/**
 * The extension seam (SEP-2133): an extension declared under capabilities.extensions in both
 * eras, its methods and notifications answered through the middleware, its rewrite of tool
 * definitions, and the client's view of it. Real server on loopback, our client against it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { McpClient } from "../../src/client/index.ts";
import { ErrorCode, McpError, McpServer, mcpApp } from "../../src/index.ts";
import { until } from "../helpers/async.ts";
import { listen, MCP_HEADERS } from "../helpers/http.ts";

const SYNC = "com.example/notes-sync";

function server() {
  const mcp = new McpServer({ name: "ext", version: "1.0.0" });
  const pings: string[] = [];
  const seen: string[] = [];
  mcp.tool("add_note", { description: "Adds a note" }, () => "ok");
  mcp.extension(SYNC, {
    settings: (offer) => ({ mode: "push", era: offer.era }),
    methods: {
      "notes/sync": (params, _ctx, exchange) => {
        if (typeof params.since !== "number") {
          throw new McpError(ErrorCode.InvalidParams, "Invalid params: since must be a number");
        }
        const declared = exchange.peer.clientCapabilities?.extensions as
          | Record<string, unknown>
          | undefined;
        return { synced: params.since + 1, clientDeclared: declared?.[SYNC] ?? null };
      },
      "notes/stream": { handler: () => ({ streaming: true }), eras: ["stateless"] },
    },
    notifications: {
      "notifications/notes/ping": (params) => pings.push(String(params.from)),
    },
    middleware: async (ctx, next) => {
      seen.push(ctx.method);
      if (ctx.method === "notes/sync" && ctx.params.forbidden === true) {
        throw new McpError(ErrorCode.InvalidRequest, "Sync refused by policy");
      }
      return next();
    },
    tool: (definition) => ({ ...definition, _meta: { [SYNC]: { syncable: true } } }),
  });
  return { mcp, pings, seen };
}

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function connect(url: string, protocolVersion: string, declare = true) {
  const client = new McpClient({
    name: "ext-client",
    version: "1.0.0",
    protocolVersion,
    ...(declare ? { extensions: { [SYNC]: { batch: 10 } } } : {}),
  });
  await client.connect(url);
  open.push(client);
  return client;
}

describe.each([
  ["2026-07-28", "stateless"],
  ["2025-11-25", "session"],
])("an extension in %s", (version, era) => {
  it("is declared with its settings, answers its method, and sees the client's declaration", async () => {
    const { mcp, seen } = server();
    // 2025 sessions remember the client's capabilities from initialize.
    const url = `${await listen(mcpApp(mcp, { sessions: true }))}/mcp`;
    const client = await connect(url, version);
    expect(client.extension(SYNC)).toEqual({ mode: "push", era });
    expect(Object.keys(client.extensions)).toEqual([SYNC]);
    const result = await client.request("notes/sync", { since: 41 });
    expect(result.synced).toBe(42);
    expect(result.clientDeclared).toEqual({ batch: 10 });
    expect(seen).toContain("notes/sync");
    const tools = await client.listTools();
    expect(tools.tools[0]?._meta).toEqual({ [SYNC]: { syncable: true } });
  });

  it("refuses bad params and what its middleware refuses, spec-shaped", async () => {
    const { mcp } = server();
    const url = `${await listen(mcpApp(mcp))}/mcp`;
    const client = await connect(url, version);
    await expect(client.request("notes/sync", { since: "yesterday" })).rejects.toMatchObject({
      code: ErrorCode.InvalidParams,
    });
    await expect(client.request("notes/sync", { since: 1, forbidden: true })).rejects.toMatchObject(
      { code: ErrorCode.InvalidRequest, message: "Sync refused by policy" },
    );
  });

  it("has a method only in the era it names", async () => {
    const { mcp } = server();
    const url = `${await listen(mcpApp(mcp))}/mcp`;
    const client = await connect(url, version);
    const call = client.request("notes/stream");
    if (era === "stateless") await expect(call).resolves.toMatchObject({ streaming: true });
    else await expect(call).rejects.toMatchObject({ code: ErrorCode.MethodNotFound });
  });
});

describe("extension notifications", () => {
  it("delivers a client notification to the extension that takes it (2025 session)", async () => {
    const { mcp, pings } = server();
    const url = `${await listen(mcpApp(mcp, { sessions: true }))}/mcp`;
    const client = await connect(url, "2025-11-25");
    await client.notify("notifications/notes/ping", { from: "client" });
    await until(() => pings.length > 0);
    expect(pings).toEqual(["client"]);
  });

  it("ignores an unknown notification and changes nothing (2026-07-28)", async () => {
    const { mcp, pings } = server();
    const url = `${await listen(mcpApp(mcp))}/mcp`;
    const response = await fetch(url, {
      method: "POST",
      headers: {
        ...MCP_HEADERS,
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "notifications/notes/other",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        method: "notifications/notes/other",
        params: { _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28" } },
      }),
    });
    expect(response.status).toBe(202);
    expect(pings).toEqual([]);
  });
});

describe("the client's view", () => {
  it("is empty for a server without extensions, and an undeclared id reads undefined", async () => {
    const mcp = new McpServer({ name: "plain", version: "1.0.0" });
    mcp.tool("t", {}, () => "ok");
    const url = `${await listen(mcpApp(mcp))}/mcp`;
    const client = await connect(url, "2026-07-28", false);
    expect(client.extensions).toEqual({});
    expect(client.extension(SYNC)).toBeUndefined();
  });

  it("leaves out an extension whose settings function declines the caller", async () => {
    const mcp = new McpServer({ name: "gated", version: "1.0.0" });
    mcp.extension("com.example/private", {
      settings: (offer) => (offer.authenticated ? {} : undefined),
    });
    mcp.extension("com.example/open");
    const url = `${await listen(mcpApp(mcp))}/mcp`;
    const client = await connect(url, "2026-07-28", false);
    expect(client.extensions).toEqual({ "com.example/open": {} });
  });
});

describe("registration is checked at once", () => {
  it.each([
    ["no vendor prefix", "notes-sync"],
    ["an empty name", "com.example/"],
    ["a space", "com.example/notes sync"],
  ])("refuses an id with %s", (_label, id) => {
    const mcp = new McpServer({ name: "x", version: "1.0.0" });
    expect(() => mcp.extension(id)).toThrow(TypeError);
  });

  it("refuses a second registration and a method the server already answers", () => {
    const mcp = new McpServer({ name: "x", version: "1.0.0" });
    mcp.extension(SYNC, { methods: { "notes/sync": () => ({}) } });
    expect(() => mcp.extension(SYNC)).toThrow(/already registered/);
    expect(() =>
      mcp.extension("com.example/other", { methods: { "notes/sync": () => ({}) } }),
    ).toThrow(/already answered/);
    expect(() =>
      mcp.extension("com.example/core", { methods: { "tools/list": () => ({}) } }),
    ).toThrow(/already answered/);
    // tasks is an extension too: its methods are taken.
    expect(() =>
      mcp.extension("com.example/tasks2", { methods: { "tasks/get": () => ({}) } }),
    ).toThrow(/already answered/);
  });
});
