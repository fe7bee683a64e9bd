// The official SDK's Web-standard Streamable HTTP transport mounted on Hono, the way the
// SDK's own examples do it (honoWebStandardStreamableHttp / simpleStreamableHttp):
//  - stateless: a fresh McpServer + transport per request (sessionIdGenerator undefined)
//  - stateful:  one McpServer + transport per session, kept in a Map by Mcp-Session-Id
// BENCH_MODE=stateless|stateful, BENCH_RESPONSE=json|sse (enableJsonResponse).
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { Hono } from "hono";
import { z } from "zod";
import { benchMode, startBenchServer } from "./_common.ts";

const { stateful, json } = benchMode();

function buildServer(): McpServer {
  const server = new McpServer({ name: "bench", version: "1.0.0" });
  server.registerTool(
    "echo",
    { description: "Echo", inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: "text", text }] }),
  );
  return server;
}

const app = new Hono();

if (!stateful) {
  app.all("/mcp", async (c) => {
    const transport = new WebStandardStreamableHTTPServerTransport({ enableJsonResponse: json });
    const server = buildServer();
    await server.connect(transport);
    return transport.handleRequest(c.req.raw);
  });
} else {
  const transports = new Map<string, WebStandardStreamableHTTPServerTransport>();
  app.all("/mcp", async (c) => {
    const sessionId = c.req.header("mcp-session-id");
    if (sessionId) {
      const transport = transports.get(sessionId);
      if (!transport) {
        return c.json(
          { jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null },
          404,
        );
      }
      return transport.handleRequest(c.req.raw);
    }
    // No session header: only an initialize request can start a session (the transport
    // itself rejects anything else with 400, and an unregistered transport is dropped).
    const transport: WebStandardStreamableHTTPServerTransport =
      new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => crypto.randomUUID(),
        enableJsonResponse: json,
        onsessioninitialized: (id) => {
          transports.set(id, transport);
        },
        onsessionclosed: (id) => {
          transports.delete(id);
        },
      });
    transport.onclose = () => {
      if (transport.sessionId) transports.delete(transport.sessionId);
    };
    await buildServer().connect(transport);
    return transport.handleRequest(c.req.raw);
  });
}

startBenchServer(`sdk-${stateful ? "stateful" : "stateless"}-${json ? "json" : "sse"}`, app.fetch);
