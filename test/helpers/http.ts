import type { Hono } from "hono";
import { afterAll } from "vitest";
import { type RunningServer, serve } from "../../src/node/index.ts";

const running: RunningServer[] = [];

afterAll(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});

/** Serves an app on 127.0.0.1 at a free port for this test file; closed after the file. */
export async function listen(
  app: Hono,
  options: { allowedHosts?: string[] } = {},
): Promise<string> {
  const server = await serve(app, { port: 0, hostname: "127.0.0.1", ...options });
  running.push(server);
  return server.url;
}

export const MCP_HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
};

/** Posts one JSON-RPC message (or raw text) to an endpoint. */
export function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { ...MCP_HEADERS, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** The JSON-RPC messages in an SSE body, in order (events without data are skipped). */
export function sseMessages(text: string): unknown[] {
  const messages: unknown[] = [];
  for (const block of text.split("\n\n")) {
    const data = block
      .split("\n")
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(5).trimStart())
      .join("\n");
    if (data) messages.push(JSON.parse(data));
  }
  return messages;
}

/** Reads a reply as its JSON-RPC messages, whether it came as JSON or SSE. */
export async function messagesOf(response: Response): Promise<unknown[]> {
  const text = await response.text();
  if (response.headers.get("content-type")?.includes("text/event-stream")) return sseMessages(text);
  const json: unknown = JSON.parse(text);
  return Array.isArray(json) ? json : [json];
}

export const initializeRequest = (protocolVersion = "2025-11-25", capabilities = {}) => ({
  jsonrpc: "2.0",
  id: 0,
  method: "initialize",
  params: { protocolVersion, capabilities, clientInfo: { name: "test", version: "1.0.0" } },
});

/** Opens a session and returns its id (sends notifications/initialized too). */
export async function openSession(
  url: string,
  protocolVersion = "2025-11-25",
  capabilities = {},
): Promise<string> {
  const response = await post(url, initializeRequest(protocolVersion, capabilities));
  const id = response.headers.get("mcp-session-id");
  await response.text();
  if (!id) throw new Error(`no session id (status ${response.status})`);
  const headers = { "mcp-session-id": id, "mcp-protocol-version": protocolVersion };
  await (await post(url, { jsonrpc: "2.0", method: "notifications/initialized" }, headers)).text();
  return id;
}
