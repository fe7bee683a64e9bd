/** Our client against the official SDK's server (McpServer on its Web-standard transport). */
import { McpServer as SdkServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type McpClient, type Progress, toLlmContent } from "../../src/client/index.ts";
import type { LogMessage } from "../../src/client/types.ts";
import { listen } from "../helpers/http.ts";
import { client, collect, getStreamOpen, recordingFetch, until } from "./support.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

function sdkServer(): SdkServer {
  const server = new SdkServer(
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
  server.registerResource("readme", "sdk://readme", { mimeType: "text/plain" }, async (uri) => ({
    contents: [{ uri: uri.href, text: "SDK readme" }],
  }));
  server.registerPrompt("hello", { argsSchema: { name: z.string() } }, ({ name }) => ({
    messages: [{ role: "user", content: { type: "text", text: `Hello ${name}` } }],
  }));
  return server;
}

/** A stateful SDK server: one session, one transport, on Hono. */
async function statefulSdk(): Promise<{ url: string; server: SdkServer }> {
  const server = sdkServer();
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: () => crypto.randomUUID(),
  });
  await server.connect(transport);
  const app = new Hono();
  app.all("/mcp", (c) => transport.handleRequest(c.req.raw));
  return { url: `${await listen(app)}/mcp`, server };
}

/** A stateless SDK server: a fresh server and transport per request, JSON replies. */
async function statelessSdk(): Promise<string> {
  const app = new Hono();
  app.all("/mcp", async (c) => {
    const server = sdkServer();
    // No sessionIdGenerator: the SDK's stateless mode.
    const transport = new WebStandardStreamableHTTPServerTransport({ enableJsonResponse: true });
    await server.connect(transport);
    return transport.handleRequest(c.req.raw);
  });
  return `${await listen(app)}/mcp`;
}

describe("against the official SDK server, stateful", () => {
  it("initializes, lists and calls tools with progress and logs, reads, gets prompts", async () => {
    const { url } = await statefulSdk();
    const logs: LogMessage[] = [];
    const { client: c, warnings } = client({ onLog: (log) => logs.push(log), strict: true });
    await c.connect(url);
    open.push(c);
    expect(c.serverInfo).toMatchObject({ name: "sdk-server", version: "9.9.9" });
    expect(c.protocolVersion).toBe("2025-11-25");
    expect(c.sessionId).toMatch(/\S/);

    const tools = await collect(c.tools());
    expect(tools.map((tool) => tool.name)).toEqual(["echo", "add", "count"]);
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

  it("hears list_changed on its GET stream and DELETEs the session on close", async () => {
    const { url, server } = await statefulSdk();
    let changed = 0;
    const recorder = recordingFetch();
    const { client: c } = client({ onToolsChanged: () => changed++ });
    await c.connect(url, { fetch: recorder.fetch });
    await until(() => getStreamOpen(recorder.calls));
    server.registerTool("late", {}, async () => ({ content: [] }));
    await until(() => changed === 1);
    await c.close();
    expect(recorder.calls.at(-1)).toMatchObject({ method: "DELETE", status: 200 });
  });
});

describe("against the official SDK server, stateless with JSON replies", () => {
  it("lists and calls tools", async () => {
    const url = await statelessSdk();
    const { client: c, warnings } = client({ strict: true });
    await c.connect(url);
    open.push(c);
    expect(c.sessionId).toBeUndefined();
    expect((await c.listTools()).tools.map((tool) => tool.name)).toEqual(["echo", "add", "count"]);
    expect((await c.callTool("add", { a: 1, b: 2 })).structuredContent).toEqual({ sum: 3 });
    expect((await c.callTool("echo", { text: "json" })).content).toEqual([
      { type: "text", text: "sdk echo: json" },
    ]);
    expect(warnings).toEqual([]);
  });
});
