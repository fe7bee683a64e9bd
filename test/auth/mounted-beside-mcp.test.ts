/**
 * The authorization server mounted on the same Hono app as the MCP endpoint (mcpApp with the
 * built-in server, or app.route("/", as.app) next to mcpRoute): its own steps — request log,
 * readiness and the login provider's check — run on its paths only, never on /mcp.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { authorizationServer, devLogin } from "../../src/auth/index.ts";
import { McpServer, mcpApp, mcpRoute } from "../../src/index.ts";
import { memoryStore } from "../../src/storage/index.ts";
import { listen, messagesOf, post } from "../helpers/http.ts";
import { capturingLogger, type LogLine } from "../helpers/log.ts";

const ping = { jsonrpc: "2.0", id: 1, method: "ping" };

function mcpServer(): McpServer {
  const server = new McpServer({ name: "mounted", version: "1.0.0" });
  server.tool("echo", { description: "echo" }, () => ({ content: [] }));
  return server;
}

const requestLines = (lines: LogLine[], path: string) =>
  lines.filter((line) => line.message === "request" && line.fields.path === path);

describe("the authorization server beside /mcp", () => {
  it("mcpApp with the built-in server: a /mcp request is logged once, by the endpoint", async () => {
    const logger = capturingLogger();
    const as = authorizationServer({ store: memoryStore(), login: devLogin(), logger });
    const base = await listen(mcpApp(mcpServer(), { auth: as, logger }));

    const refused = await post(`${base}/mcp`, ping);
    expect(refused.status).toBe(401);
    await refused.text();
    // One line, the endpoint's (it names the JSON-RPC method); the AS's own log has none.
    expect(requestLines(logger.lines, "/mcp")).toEqual([
      expect.objectContaining({ fields: expect.objectContaining({ rpc_method: "ping" }) }),
    ]);

    // The authorization server still logs its own paths, each once.
    const metadata = await fetch(`${base}/.well-known/oauth-authorization-server`);
    expect(metadata.status).toBe(200);
    await metadata.text();
    expect(requestLines(logger.lines, "/.well-known/oauth-authorization-server")).toHaveLength(1);
    const token = await fetch(`${base}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=authorization_code&code=nope",
    });
    expect(token.status).toBeGreaterThanOrEqual(400);
    await token.text();
    expect(requestLines(logger.lines, "/token")).toHaveLength(1);
  });

  it("app.route('/', as.app) next to mcpRoute: /mcp never passes the AS's steps", async () => {
    const asLogger = capturingLogger();
    const mcpLogger = capturingLogger();
    const as = authorizationServer({ store: memoryStore(), login: devLogin(), logger: asLogger });
    const app = new Hono();
    app.route("/", as.app);
    app.route("/mcp", mcpRoute(mcpServer(), { logger: mcpLogger }));
    const base = await listen(app);

    const answered = await post(`${base}/mcp`, ping);
    expect(answered.status).toBe(200);
    expect(await messagesOf(answered)).toEqual([{ jsonrpc: "2.0", id: 1, result: {} }]);
    expect(requestLines(mcpLogger.lines, "/mcp")).toHaveLength(1);
    expect(asLogger.lines.filter((line) => line.fields.path === "/mcp")).toEqual([]);

    const jwks = await fetch(`${base}/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    await jwks.text();
    expect(requestLines(asLogger.lines, "/.well-known/jwks.json")).toHaveLength(1);
  });

  it("a login provider that refuses to run fails the AS's endpoints, not /mcp", async () => {
    // As on Workers: app.fetch with no connection details and no configured issuer, where
    // devLogin refuses. Before, that refusal ran on /mcp too and turned every call into a 500.
    const logger = capturingLogger();
    const as = authorizationServer({ store: memoryStore(), login: devLogin(), logger });
    const app = mcpApp(mcpServer(), { auth: as, logger });
    const authorize = await app.fetch(new Request("http://localhost:8787/authorize?x=1"));
    expect(authorize.status).toBe(500);
    await authorize.text();

    const mcp = await app.fetch(
      new Request("http://localhost:8787/mcp", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body: JSON.stringify(ping),
      }),
    );
    // The bearer check answers: no token, 401 with its challenge.
    expect(mcp.status).toBe(401);
    expect(mcp.headers.get("www-authenticate")).toMatch(/^Bearer /);
    await mcp.text();
    // Nor the resource server's own metadata, which is not the authorization server's path.
    const resource = await app.fetch(
      new Request("http://localhost:8787/.well-known/oauth-protected-resource/mcp"),
    );
    expect(resource.status).toBe(200);
    expect(await resource.json()).toMatchObject({ resource: "http://localhost:8787/mcp" });
    const serverErrors = logger.at("error").filter((line) => line.message === "server error");
    expect(serverErrors).toHaveLength(1);
  });
});
