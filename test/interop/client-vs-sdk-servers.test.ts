/**
 * Our McpClient against the official SDK's servers, on Hono over loopback:
 * - v1 (`@modelcontextprotocol/sdk` 1.x): McpServer on WebStandardStreamableHTTPServerTransport,
 *   stateful (sessions, GET stream) and stateless (a server per request), speaking 2025-11-25;
 *   elicitation is a server-to-client request on the call's SSE stream.
 * - v2 (`@modelcontextprotocol/server` 2.x): `createMcpHandler`, speaking 2026-07-28 (elicitation
 *   by multi round-trip requests) with its stateless 2025 fallback, and McpServer on its own
 *   Web-standard transport with sessions (2025-11-25; the same handler's input request is
 *   then a server-to-client request, through the SDK's shim).
 */

import { McpServer as V1Server } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport as V1Transport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { ElicitResultSchema } from "@modelcontextprotocol/sdk/types.js";
import {
  acceptedContent,
  createMcpHandler,
  inputRequired,
  McpServer as V2Server,
  WebStandardStreamableHTTPServerTransport as V2Transport,
} from "@modelcontextprotocol/server";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type ElicitationRequest,
  type McpClient,
  type McpClientOptions,
  type Progress,
  toLlmContent,
} from "../../src/client/index.ts";
import type { LogMessage } from "../../src/client/types.ts";
import { client, collect, getStreamOpen, methodsOf, recordingFetch } from "../client/support.ts";
import { until } from "../helpers/async.ts";
import { listen } from "../helpers/http.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

/** An elicitation handler that answers "yes" and records what it was asked. */
function yes() {
  const asked: ElicitationRequest[] = [];
  const handlers: McpClientOptions["handlers"] = {
    elicitation: (request) => {
      asked.push(request);
      return { action: "accept", content: { confirm: true } };
    },
  };
  return { asked, handlers };
}

async function connected(
  url: string,
  options: Partial<McpClientOptions> = {},
  fetcher?: typeof fetch,
) {
  const made = client(options);
  await made.client.connect(url, fetcher ? { fetch: fetcher } : {});
  open.push(made.client);
  return made;
}

// v1

function v1Server(): V1Server {
  const server = new V1Server(
    { name: "sdk-server", version: "9.9.9" },
    { capabilities: { logging: {} } },
  );
  server.registerTool(
    "echo",
    { description: "Echoes text", inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: "text", text: `sdk echo: ${text}` }] }),
  );
  server.registerTool(
    "add",
    {
      inputSchema: { a: z.number(), b: z.number() },
      outputSchema: { sum: z.number() },
    },
    async ({ a, b }) => ({
      content: [{ type: "text", text: String(a + b) }],
      structuredContent: { sum: a + b },
    }),
  );
  server.registerTool("count", { inputSchema: { to: z.number() } }, async ({ to }, extra) => {
    const token = extra._meta?.progressToken;
    for (let i = 1; i <= to; i++) {
      if (token !== undefined) {
        await extra.sendNotification({
          method: "notifications/progress",
          params: { progressToken: token, progress: i, total: to },
        });
      }
    }
    await server.sendLoggingMessage({ level: "info", data: "counted" }, extra.sessionId);
    return { content: [{ type: "text", text: `counted to ${to}` }] };
  });
  server.registerTool("delete", { inputSchema: { path: z.string() } }, async ({ path }, extra) => {
    // Related to the call, so it travels on the call's own SSE stream.
    const answer = await extra.sendRequest(
      {
        method: "elicitation/create",
        params: {
          message: `Delete ${path}?`,
          requestedSchema: {
            type: "object",
            properties: { confirm: { type: "boolean" } },
            required: ["confirm"],
          },
        },
      },
      ElicitResultSchema,
    );
    const confirmed = answer.action === "accept" && answer.content?.confirm === true;
    return { content: [{ type: "text", text: confirmed ? `deleted ${path}` : `kept ${path}` }] };
  });
  server.registerResource("readme", "sdk://readme", { mimeType: "text/plain" }, async (uri) => ({
    contents: [{ uri: uri.href, text: "SDK readme" }],
  }));
  server.registerPrompt("hello", { argsSchema: { name: z.string() } }, ({ name }) => ({
    messages: [{ role: "user", content: { type: "text", text: `Hello ${name}` } }],
  }));
  return server;
}

/** A stateful v1 server: one session, one transport, on Hono. */
async function statefulV1(): Promise<{ url: string; server: V1Server }> {
  const server = v1Server();
  const transport = new V1Transport({ sessionIdGenerator: () => crypto.randomUUID() });
  await server.connect(transport);
  const app = new Hono();
  app.all("/mcp", (c) => transport.handleRequest(c.req.raw));
  return { url: `${await listen(app)}/mcp`, server };
}

/** A stateless v1 server: a fresh server and transport per request (no sessionIdGenerator). */
async function statelessV1(options: { json: boolean }): Promise<string> {
  const app = new Hono();
  app.all("/mcp", async (c) => {
    const server = v1Server();
    const transport = new V1Transport({ enableJsonResponse: options.json });
    await server.connect(transport);
    return transport.handleRequest(c.req.raw);
  });
  return `${await listen(app)}/mcp`;
}

describe("v1 SDK server, stateful", () => {
  it("initializes, lists and calls tools with progress and logs, reads, gets prompts", async () => {
    const { url } = await statefulV1();
    const logs: LogMessage[] = [];
    const { client: c, warnings } = await connected(url, {
      onLog: (log) => logs.push(log),
      strict: true,
    });
    expect(c.serverInfo).toMatchObject({ name: "sdk-server", version: "9.9.9" });
    expect(c.protocolVersion).toBe("2025-11-25");
    expect(c.sessionId).toMatch(/\S/);

    const tools = await collect(c.tools());
    expect(tools.map((tool) => tool.name)).toEqual(["echo", "add", "count", "delete"]);
    expect(tools[0]!.inputSchema).toMatchObject({ properties: { text: { type: "string" } } });

    expect((await c.callTool("echo", { text: "hi" })).content).toEqual([
      { type: "text", text: "sdk echo: hi" },
    ]);
    const added = await c.callTool("add", { a: 2, b: 40 });
    expect(added.structuredContent).toEqual({ sum: 42 });
    expect(toLlmContent(added)).toEqual([
      { type: "text", text: "42" },
      { type: "text", text: '{"sum":42}' },
    ]);

    const progress: Progress[] = [];
    const counted = await c.callTool("count", { to: 3 }, { onProgress: (p) => progress.push(p) });
    expect(counted.content).toEqual([{ type: "text", text: "counted to 3" }]);
    expect(progress).toEqual([
      { progress: 1, total: 3 },
      { progress: 2, total: 3 },
      { progress: 3, total: 3 },
    ]);
    await until(() => logs.length > 0);
    expect(logs[0]).toMatchObject({ level: "info", data: "counted" });

    expect((await c.readResource("sdk://readme")).contents).toEqual([
      { uri: "sdk://readme", text: "SDK readme" },
    ]);
    expect((await c.getPrompt("hello", { name: "SDK" })).messages).toEqual([
      { role: "user", content: { type: "text", text: "Hello SDK" } },
    ]);
    await c.ping();
    expect(warnings).toEqual([]);
  });

  it("answers the server's elicitation request with our handler", async () => {
    const { url } = await statefulV1();
    const { asked, handlers } = yes();
    const { client: c, warnings } = await connected(url, { handlers, strict: true });
    const result = await c.callTool("delete", { path: "/tmp/x" });
    expect(result.content).toEqual([{ type: "text", text: "deleted /tmp/x" }]);
    expect(asked).toEqual([expect.objectContaining({ mode: "form", message: "Delete /tmp/x?" })]);
    expect(warnings).toEqual([]);
  });

  it("hears list_changed on its GET stream and DELETEs the session on close", async () => {
    const { url, server } = await statefulV1();
    let changed = 0;
    const recorder = recordingFetch();
    const c = client({ onToolsChanged: () => changed++ }).client;
    await c.connect(url, { fetch: recorder.fetch });
    await until(() => getStreamOpen(recorder.calls));
    server.registerTool("late", {}, async () => ({ content: [] }));
    await until(() => changed === 1);
    await c.close();
    expect(recorder.calls.at(-1)).toMatchObject({ method: "DELETE", status: 200 });
  });
});

describe("v1 SDK server, stateless", () => {
  it("lists and calls tools with JSON replies", async () => {
    const { client: c, warnings } = await connected(await statelessV1({ json: true }), {
      strict: true,
    });
    expect(c.sessionId).toBeUndefined();
    expect((await c.listTools()).tools.map((tool) => tool.name)).toEqual([
      "echo",
      "add",
      "count",
      "delete",
    ]);
    expect((await c.callTool("add", { a: 1, b: 2 })).structuredContent).toEqual({ sum: 3 });
    expect((await c.callTool("echo", { text: "json" })).content).toEqual([
      { type: "text", text: "sdk echo: json" },
    ]);
    expect(warnings).toEqual([]);
  });

  it("receives progress on the call's SSE reply", async () => {
    const { client: c } = await connected(await statelessV1({ json: false }));
    const progress: Progress[] = [];
    const counted = await c.callTool("count", { to: 2 }, { onProgress: (p) => progress.push(p) });
    expect(counted.content).toEqual([{ type: "text", text: "counted to 2" }]);
    expect(progress).toEqual([
      { progress: 1, total: 2 },
      { progress: 2, total: 2 },
    ]);
  });
});

// v2

function v2Server(): V2Server {
  const server = new V2Server({ name: "sdk-v2-server", version: "2.4.0" });
  server.registerTool(
    "echo",
    { description: "Echoes text", inputSchema: z.object({ text: z.string() }) },
    async ({ text }) => ({ content: [{ type: "text", text: `v2 echo: ${text}` }] }),
  );
  server.registerTool(
    "add",
    {
      inputSchema: z.object({ a: z.number(), b: z.number() }),
      outputSchema: z.object({ sum: z.number() }),
    },
    async ({ a, b }) => ({
      content: [{ type: "text", text: String(a + b) }],
      structuredContent: { sum: a + b },
    }),
  );
  server.registerTool(
    "count",
    { inputSchema: z.object({ to: z.number() }) },
    async ({ to }, ctx) => {
      const token = ctx.mcpReq._meta?.progressToken;
      for (let i = 1; i <= to; i++) {
        if (token !== undefined) {
          await ctx.mcpReq.notify({
            method: "notifications/progress",
            params: { progressToken: token, progress: i, total: to },
          });
        }
      }
      return { content: [{ type: "text", text: `counted to ${to}` }] };
    },
  );
  const confirmation = z.object({ confirm: z.boolean() });
  // Written once for both eras: an input request the client answers (2026-07-28), or that
  // the SDK turns into a server-to-client request (2025 sessions).
  server.registerTool(
    "delete",
    { inputSchema: z.object({ path: z.string() }) },
    async ({ path }, ctx) => {
      const answer = acceptedContent(ctx.mcpReq.inputResponses, "confirm", confirmation);
      if (answer === undefined) {
        return inputRequired({
          inputRequests: {
            confirm: inputRequired.elicit({
              message: `Delete ${path}?`,
              requestedSchema: confirmation,
            }),
          },
        });
      }
      return {
        content: [{ type: "text", text: answer.confirm ? `deleted ${path}` : `kept ${path}` }],
      };
    },
  );
  return server;
}

/** `createMcpHandler`: 2026-07-28, with the stateless 2025 fallback. */
async function handlerV2() {
  const handler = createMcpHandler(() => v2Server());
  const app = new Hono();
  app.all("/mcp", (c) => handler.fetch(c.req.raw));
  return { url: `${await listen(app)}/mcp`, handler };
}

/** A v2 McpServer with sessions on the SDK's Web-standard transport (2025 revisions). */
async function statefulV2(): Promise<string> {
  const server = v2Server();
  const transport = new V2Transport({ sessionIdGenerator: () => crypto.randomUUID() });
  await server.connect(transport);
  const app = new Hono();
  app.all("/mcp", (c) => transport.handleRequest(c.req.raw));
  return `${await listen(app)}/mcp`;
}

describe("v2 SDK server, createMcpHandler (2026-07-28)", () => {
  it("is found by server/discover, lists and calls tools", async () => {
    const { url } = await handlerV2();
    const recorder = recordingFetch();
    const { client: c, warnings } = await connected(url, { strict: true }, recorder.fetch);
    expect(c.protocolVersion).toBe("2026-07-28");
    expect(c.serverInfo).toMatchObject({ name: "sdk-v2-server", version: "2.4.0" });
    expect(c.sessionId).toBeUndefined();
    expect(methodsOf(recorder.calls)).toEqual(["server/discover"]);

    const tools = await collect(c.tools());
    expect(tools.map((tool) => tool.name)).toEqual(["echo", "add", "count", "delete"]);
    expect((await c.callTool("echo", { text: "hi" })).content).toEqual([
      { type: "text", text: "v2 echo: hi" },
    ]);
    expect((await c.callTool("add", { a: 40, b: 2 })).structuredContent).toEqual({ sum: 42 });
    expect(warnings).toEqual([]);
  });

  it("answers the multi round-trip elicitation with our handler, unseen by the caller", async () => {
    const { url } = await handlerV2();
    const recorder = recordingFetch();
    const { asked, handlers } = yes();
    const { client: c, warnings } = await connected(
      url,
      { handlers, strict: true },
      recorder.fetch,
    );
    const result = await c.callTool("delete", { path: "/tmp/y" });
    expect(result.content).toEqual([{ type: "text", text: "deleted /tmp/y" }]);
    expect(asked).toEqual([expect.objectContaining({ mode: "form", message: "Delete /tmp/y?" })]);
    // Two rounds of the same call: no server-to-client request in this era.
    expect(methodsOf(recorder.calls).filter((method) => method === "tools/call")).toHaveLength(2);
    expect(warnings).toEqual([]);
  });

  it("receives progress on the call's SSE reply", async () => {
    const { url } = await handlerV2();
    const { client: c } = await connected(url);
    const progress: Progress[] = [];
    const counted = await c.callTool("count", { to: 3 }, { onProgress: (p) => progress.push(p) });
    expect(counted.content).toEqual([{ type: "text", text: "counted to 3" }]);
    expect(progress).toEqual([
      { progress: 1, total: 3 },
      { progress: 2, total: 3 },
      { progress: 3, total: 3 },
    ]);
  });

  it("hears tools/list_changed on the subscriptions/listen stream", async () => {
    const { url, handler } = await handlerV2();
    let changed = 0;
    const { client: c } = await connected(url, { onToolsChanged: () => changed++ });
    expect(c.protocolVersion).toBe("2026-07-28");
    handler.notify.toolsChanged();
    await until(() => changed === 1);
  });

  it("serves a client told to speak 2025-11-25 through its stateless fallback", async () => {
    const { url } = await handlerV2();
    const { client: c, warnings } = await connected(url, {
      protocolVersion: "2025-11-25",
      strict: true,
    });
    expect(c.protocolVersion).toBe("2025-11-25");
    expect(c.sessionId).toBeUndefined();
    expect((await c.listTools()).tools.map((tool) => tool.name)).toContain("add");
    expect((await c.callTool("add", { a: 1, b: 2 })).structuredContent).toEqual({ sum: 3 });
    const progress: Progress[] = [];
    await c.callTool("count", { to: 2 }, { onProgress: (p) => progress.push(p) });
    expect(progress).toEqual([
      { progress: 1, total: 2 },
      { progress: 2, total: 2 },
    ]);
    expect(warnings).toEqual([]);
  });
});

describe("v2 SDK server with sessions (2025-11-25)", () => {
  it("falls back from the discover probe to initialize, and lists and calls tools", async () => {
    const url = await statefulV2();
    const recorder = recordingFetch();
    const { client: c, warnings } = await connected(url, { strict: true }, recorder.fetch);
    expect(c.protocolVersion).toBe("2025-11-25");
    expect(c.sessionId).toMatch(/\S/);
    expect(methodsOf(recorder.calls).slice(0, 2)).toEqual(["server/discover", "initialize"]);
    expect((await c.callTool("echo", { text: "session" })).content).toEqual([
      { type: "text", text: "v2 echo: session" },
    ]);
    const progress: Progress[] = [];
    await c.callTool("count", { to: 2 }, { onProgress: (p) => progress.push(p) });
    expect(progress).toEqual([
      { progress: 1, total: 2 },
      { progress: 2, total: 2 },
    ]);
    expect(warnings).toEqual([]);
  });

  it("answers the SDK's server-to-client elicitation with our handler", async () => {
    const url = await statefulV2();
    const { asked, handlers } = yes();
    const { client: c, warnings } = await connected(url, { handlers, strict: true });
    const result = await c.callTool("delete", { path: "/tmp/z" });
    expect(result.content).toEqual([{ type: "text", text: "deleted /tmp/z" }]);
    expect(asked).toEqual([expect.objectContaining({ mode: "form", message: "Delete /tmp/z?" })]);
    expect(warnings).toEqual([]);
  });
});
