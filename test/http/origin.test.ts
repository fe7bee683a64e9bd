/** Origin and Host checks: browsers on other sites and DNS rebinding get 403. */
import { beforeAll, describe, expect, it } from "vitest";
import { McpServer, mcpApp } from "../../src/index.ts";
import { listen } from "../helpers/http.ts";
import {
  expectServes,
  initSession,
  type Json,
  MCP_HEADERS,
  messagesOf,
  openGet,
  ping,
  post,
  rawRequest,
  sessionHeaders,
  start,
} from "./support.ts";

function server(): McpServer {
  return new McpServer({ name: "origin", version: "1.0.0" });
}

let url: string;
let port: string;

beforeAll(async () => {
  url = await start(server(), { sessions: true });
  port = new URL(url).port;
});

async function forbidden(response: Response): Promise<void> {
  expect(response.status).toBe(403);
  expect(response.headers.get("content-type")).toContain("application/json");
  const body = (await response.json()) as Json;
  expect(body).toMatchObject({
    jsonrpc: "2.0",
    id: null,
    error: { code: expect.any(Number), message: expect.stringMatching(/forbidden/i) },
  });
}

describe("Origin", () => {
  it.each([
    "http://evil.example",
    "https://evil.example",
    "null",
    "http://127.0.0.1.evil.example",
    "http://localhost.evil.example",
    "not a url",
  ])("refuses Origin %s with 403 and a JSON-RPC error", async (origin) => {
    await forbidden(await post(url, ping(), { origin }));
    const { id } = await initSession(url);
    await expectServes(url, sessionHeaders(id));
  });

  it("checks Origin before anything else, on every method", async () => {
    const origin = "http://evil.example";
    const { id } = await initSession(url);
    // Refused as foreign even where the request would fail for other reasons.
    await forbidden(await post(url, "{", { origin, "content-type": "text/plain" }));
    await forbidden(await post(url, ping(), { origin, ...sessionHeaders(id) }));
    await forbidden(await openGet(url, id, { origin }));
    await forbidden(
      await fetch(url, { method: "DELETE", headers: { origin, ...sessionHeaders(id) } }),
    );
    // The refused DELETE did not end the session.
    await expectServes(url, sessionHeaders(id));
  });

  it("refuses a foreign Origin on initialize, so no session is made for it", async () => {
    const response = await post(
      url,
      { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25" } },
      { origin: "http://evil.example" },
    );
    expect(response.headers.get("mcp-session-id")).toBeNull();
    await forbidden(response);
  });

  it.each([
    ["its own origin", () => `http://127.0.0.1:${port}`],
    ["localhost on its port", () => `http://localhost:${port}`],
    ["IPv6 loopback", () => `http://[::1]:${port}`],
  ])("accepts %s", async (_label, origin) => {
    const { id } = await initSession(url);
    const response = await post(url, ping(9), { origin: origin(), ...sessionHeaders(id) });
    expect(response.status).toBe(200);
    expect(await messagesOf(response)).toEqual([{ jsonrpc: "2.0", id: 9, result: {} }]);
  });

  it("refuses a page served from another loopback port (another local program)", async () => {
    const { id } = await initSession(url);
    const response = await post(url, ping(9), {
      origin: "http://localhost:5173",
      ...sessionHeaders(id),
    });
    await forbidden(response);
    await expectServes(url, sessionHeaders(id));
  });

  it("accepts requests without Origin (non-browser clients)", async () => {
    await expectServes(url, sessionHeaders((await initSession(url)).id));
  });
});

describe("allowedOrigins", () => {
  it("admits exactly the listed origins", async () => {
    const allowed = await start(server(), { allowedOrigins: ["https://app.example"] });
    const ok = await post(allowed, ping(1), { origin: "https://app.example" });
    expect(ok.status).toBe(200);
    expect(await messagesOf(ok)).toEqual([{ jsonrpc: "2.0", id: 1, result: {} }]);
    for (const origin of [
      "http://app.example",
      "https://app.example.evil",
      "https://evil.example",
      "https://app.example:8443",
    ]) {
      await forbidden(await post(allowed, ping(), { origin }));
    }
    // The endpoint's own loopback origin is still fine.
    const own = await post(allowed, ping(2), {
      origin: `http://localhost:${new URL(allowed).port}`,
    });
    expect(own.status).toBe(200);
    await own.text();
  });

  it('admits any origin with "*"', async () => {
    const open = await start(server(), { allowedOrigins: ["*"] });
    const response = await post(open, ping(1), { origin: "https://anywhere.example" });
    expect(response.status).toBe(200);
    await response.text();
  });
});

describe("Host", () => {
  it("is refused with 403 by serve() when it is not a loopback name", async () => {
    for (const host of ["evil.example.com", `evil.example.com:${port}`, "127.0.0.1.nip.io"]) {
      const response = await rawRequest(url, {
        headers: { ...MCP_HEADERS, host },
        chunks: [JSON.stringify(ping())],
      });
      expect(response.status).toBe(403);
      expect(JSON.parse(response.body)).toMatchObject({
        jsonrpc: "2.0",
        id: null,
        error: { message: expect.stringMatching(/host/i) },
      });
    }
    await expectServes(url, sessionHeaders((await initSession(url)).id));
  });

  it("is accepted when it is a loopback name", async () => {
    const stateless = await start(server());
    const statelessPort = new URL(stateless).port;
    for (const host of [`localhost:${statelessPort}`, `127.0.0.1:${statelessPort}`, "localhost"]) {
      const response = await rawRequest(stateless, {
        headers: { ...MCP_HEADERS, host },
        chunks: [JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })],
      });
      expect(response.status).toBe(202);
    }
  });

  it("follows serve()'s allowedHosts when given", async () => {
    const base = await listen(mcpApp(server()), { allowedHosts: ["mcp.example.com"] });
    const target = `${base}/mcp`;
    const ok = await rawRequest(target, {
      headers: { ...MCP_HEADERS, host: "mcp.example.com" },
      chunks: [JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })],
    });
    expect(ok.status).toBe(202);
    const refused = await rawRequest(target, {
      headers: { ...MCP_HEADERS, host: "other.example.com" },
      chunks: [JSON.stringify(ping())],
    });
    expect(refused.status).toBe(403);
  });

  it("is checked by the transport too with its allowedHosts option", async () => {
    const target = await start(server(), { allowedHosts: ["localhost"] });
    const targetPort = new URL(target).port;
    const refused = await rawRequest(target, {
      headers: { ...MCP_HEADERS, host: `127.0.0.1:${targetPort}` },
      chunks: [JSON.stringify(ping())],
    });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({ jsonrpc: "2.0", id: null });
    const ok = await rawRequest(target, {
      headers: { ...MCP_HEADERS, host: `localhost:${targetPort}` },
      chunks: [JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })],
    });
    expect(ok.status).toBe(202);
  });
});
