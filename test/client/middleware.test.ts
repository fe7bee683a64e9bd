/**
 * McpClient.use: a middleware around every request the client sends, handshake included, in
 * both eras; it may add `_meta` entries and HTTP headers and sees the outcome.
 */
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { McpClient, type OutgoingRequestInfo } from "../../src/client/index.ts";
import { ErrorCode, McpError, McpServer, mcpApp } from "../../src/index.ts";
import { listen } from "../helpers/http.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((client) => client.close()));
});

function server() {
  const seen: { method: string; tag: unknown; header: string | undefined }[] = [];
  const mcp = new McpServer({ name: "seen", version: "1.0.0" });
  mcp.tool("echo", { input: z.object({ text: z.string() }) }, ({ text }) => text);
  mcp.tool("fails", {}, () => {
    throw new McpError(ErrorCode.InvalidParams, "no");
  });
  mcp.use((ctx, next) => {
    seen.push({ method: ctx.method, tag: ctx.meta?.tag, header: ctx.http?.req.header("x-tag") });
    return next();
  });
  return { mcp, seen };
}

describe.each([
  { era: "2025", version: "2025-11-25", first: "initialize" },
  { era: "2026-07-28", version: "2026-07-28", first: "server/discover" },
])("McpClient.use, $era", ({ version, first }) => {
  it("wraps every request, adds _meta and headers, and sees results and errors", async () => {
    const { mcp, seen } = server();
    const url = `${await listen(mcpApp(mcp, { sessions: true }))}/mcp`;
    const client = new McpClient({ name: "agent", version: "1.0.0", protocolVersion: version });
    open.push(client);
    const outcomes: string[] = [];
    const requests: OutgoingRequestInfo[] = [];
    client.use(async (request, next) => {
      requests.push(request);
      request.params._meta = { ...(request.params._meta as object), tag: "t1" };
      request.headers["x-tag"] = "h1";
      try {
        const result = await next();
        outcomes.push(`${request.method} ok ${String(request.id)}`);
        return result;
      } catch (error) {
        outcomes.push(`${request.method} failed`);
        throw error;
      }
    });
    await client.connect(url);
    await client.callTool("echo", { text: "x" });
    await expect(client.callTool("fails", {})).rejects.toThrow("no");

    expect(requests[0]?.method).toBe(first);
    expect(requests[0]?.url?.href).toBe(url);
    const call = requests.find((request) => request.method === "tools/call")!;
    expect(call.protocolVersion).toBe(version);
    expect(outcomes).toContain(`tools/call ok ${String(call.id)}`);
    expect(outcomes).toContain("tools/call failed");
    const echo = seen.find((entry) => entry.method === "tools/call")!;
    expect(echo).toEqual({ method: "tools/call", tag: "t1", header: "h1" });
    expect(seen.every((entry) => entry.tag === "t1" && entry.header === "h1")).toBe(true);
  });

  it("refuses a middleware that calls next() twice", async () => {
    const { mcp } = server();
    const url = `${await listen(mcpApp(mcp, { sessions: true }))}/mcp`;
    const client = new McpClient({ name: "agent", version: "1.0.0", protocolVersion: version });
    open.push(client);
    await client.connect(url);
    client.use(async (_request, next) => {
      await next();
      return next();
    });
    await expect(client.callTool("echo", { text: "x" })).rejects.toThrow("next() twice");
  });
});
