import { describe, expect, it } from "vitest";
import { z } from "zod";
import { McpServer, mcpApp } from "../../src/index.ts";
import { listen, messagesOf } from "../helpers/http.ts";

const VERSION = "2026-07-28";

function meta(
  capabilities: Record<string, unknown> = { elicitation: {} },
  extra: Record<string, unknown> = {},
) {
  return {
    "io.modelcontextprotocol/protocolVersion": VERSION,
    "io.modelcontextprotocol/clientCapabilities": capabilities,
    "io.modelcontextprotocol/clientInfo": { name: "modern-test", version: "1" },
    ...extra,
  };
}

/** Sends one 2026-07-28 request with the headers the revision requires (overridable). */
async function send(
  url: string,
  id: number,
  method: string,
  params: Record<string, unknown>,
  headers: Record<string, string | undefined> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const name = (params.name ?? params.uri) as string | undefined;
  const all: Record<string, string | undefined> = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": VERSION,
    "mcp-method": method,
    ...(name === undefined ? {} : { "mcp-name": name }),
    ...headers,
  };
  const response = await fetch(url, {
    method: "POST",
    headers: Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >,
    body: JSON.stringify({ jsonrpc: "2.0", id, method, params: { _meta: meta(), ...params } }),
  });
  const messages = await messagesOf(response);
  return { status: response.status, body: messages.at(-1) as Record<string, unknown> };
}

function server() {
  const mcp = new McpServer({ name: "modern", version: "1.0.0", instructions: "be kind" });
  mcp.tool(
    "ask",
    { description: "asks twice", input: z.object({ topic: z.string() }) },
    async ({ topic }, ctx) => {
      const first = await ctx.elicit({
        message: `name for ${topic}?`,
        schema: z.object({ name: z.string() }),
      });
      const second = await ctx.elicit({ message: "age?", schema: z.object({ age: z.number() }) });
      return `${topic}: ${first.content?.name} is ${second.content?.age}`;
    },
  );
  mcp.tool("plain", { description: "no input needed" }, () => "done");
  mcp.resource("test://missing-ok", { description: "x" }, () => "x");
  return mcp;
}

describe("2026-07-28 over Streamable HTTP", () => {
  it("answers server/discover with versions, capabilities, identity and cache hints", async () => {
    const url = `${await listen(mcpApp(server()))}/mcp`;
    const { status, body } = await send(url, 1, "server/discover", {});
    expect(status).toBe(200);
    const result = body.result as Record<string, unknown>;
    expect(result.supportedVersions).toEqual([
      "2026-07-28",
      "2025-11-25",
      "2025-06-18",
      "2025-03-26",
    ]);
    expect(result.resultType).toBe("complete");
    expect(result.instructions).toBe("be kind");
    expect(result._meta).toEqual({
      "io.modelcontextprotocol/serverInfo": { name: "modern", version: "1.0.0" },
    });
    expect(result).toMatchObject({ ttlMs: 0, cacheScope: "public" });
  });

  it("runs a tool that needs two inputs over three stateless rounds", async () => {
    const url = `${await listen(mcpApp(server()))}/mcp`;
    const first = await send(url, 1, "tools/call", { name: "ask", arguments: { topic: "cats" } });
    const round1 = first.body.result as Record<string, unknown>;
    expect(round1.resultType).toBe("input_required");
    expect(Object.values(round1.inputRequests as object)).toEqual([
      {
        method: "elicitation/create",
        params: expect.objectContaining({ message: "name for cats?", mode: "form" }),
      },
    ]);
    const key1 = Object.keys(round1.inputRequests as object)[0]!;
    const second = await send(url, 2, "tools/call", {
      name: "ask",
      arguments: { topic: "cats" },
      inputResponses: { [key1]: { action: "accept", content: { name: "Tom" } } },
      requestState: round1.requestState,
    });
    const round2 = second.body.result as Record<string, unknown>;
    expect(round2.resultType).toBe("input_required");
    const key2 = Object.keys(round2.inputRequests as object)[0]!;
    expect(key2).not.toBe(key1);
    const third = await send(url, 3, "tools/call", {
      name: "ask",
      arguments: { topic: "cats" },
      inputResponses: { [key2]: { action: "accept", content: { age: 3 } } },
      requestState: round2.requestState,
    });
    expect(third.body.result).toMatchObject({
      resultType: "complete",
      content: [{ type: "text", text: "cats: Tom is 3" }],
    });
  });

  it("refuses requestState replayed into another request, altered, or with other arguments", async () => {
    const url = `${await listen(mcpApp(server()))}/mcp`;
    const first = await send(url, 1, "tools/call", { name: "ask", arguments: { topic: "cats" } });
    const state = (first.body.result as { requestState: string }).requestState;
    const answers = { "input-0": { action: "accept", content: { name: "Tom" } } };
    const otherArgs = await send(url, 2, "tools/call", {
      name: "ask",
      arguments: { topic: "dogs" },
      inputResponses: answers,
      requestState: state,
    });
    expect(otherArgs.body.error).toMatchObject({
      code: -32602,
      message: expect.stringContaining("another request"),
    });
    const altered = `${state.slice(0, -4)}AAAA`;
    const forged = await send(url, 3, "tools/call", {
      name: "ask",
      arguments: { topic: "cats" },
      inputResponses: answers,
      requestState: altered,
    });
    expect(forged.body.error).toMatchObject({ code: -32602 });
    const otherServer = `${await listen(mcpApp(server()))}/mcp`;
    const elsewhere = await send(otherServer, 4, "tools/call", {
      name: "ask",
      arguments: { topic: "cats" },
      inputResponses: answers,
      requestState: state,
    });
    expect(elsewhere.body.error).toMatchObject({ code: -32602 });
  });

  it("completes a retry on another instance that shares the secret", async () => {
    const secret = "a-shared-secret-of-at-least-32-characters!";
    const make = () => {
      const mcp = new McpServer({ name: "twin", version: "1", secret });
      mcp.tool("greet", { description: "asks a name" }, async (_args, ctx) => {
        const answer = await ctx.elicit({
          message: "name?",
          schema: z.object({ name: z.string() }),
        });
        return `hello ${answer.content?.name}`;
      });
      return mcpApp(mcp);
    };
    const a = `${await listen(make())}/mcp`;
    const b = `${await listen(make())}/mcp`;
    const first = await send(a, 1, "tools/call", { name: "greet", arguments: {} });
    const round = first.body.result as {
      requestState: string;
      inputRequests: Record<string, unknown>;
    };
    const key = Object.keys(round.inputRequests)[0]!;
    const done = await send(b, 2, "tools/call", {
      name: "greet",
      arguments: {},
      inputResponses: { [key]: { action: "accept", content: { name: "Ada" } } },
      requestState: round.requestState,
    });
    expect(done.body.result).toMatchObject({
      resultType: "complete",
      content: [{ text: "hello Ada" }],
    });
  });

  it("enforces the header rules with 400 HeaderMismatch", async () => {
    const url = `${await listen(mcpApp(server()))}/mcp`;
    for (const headers of [
      { "mcp-method": "tools/list" },
      { "mcp-method": undefined },
      { "mcp-name": "other" },
      { "mcp-name": undefined },
      { "mcp-protocol-version": "2025-11-25" },
    ]) {
      const { status, body } = await send(
        url,
        1,
        "tools/call",
        { name: "plain", arguments: {} },
        headers,
      );
      expect(status, JSON.stringify(headers)).toBe(400);
      expect(body.error).toMatchObject({ code: -32020 });
    }
    const encoded = await send(
      url,
      2,
      "tools/call",
      { name: "plain", arguments: {} },
      { "mcp-name": `=?base64?${btoa("plain")}?=` },
    );
    expect(encoded.body.result).toMatchObject({ content: [{ text: "done" }] });
  });

  it("checks Mcp-Name against the field each named method mirrors", async () => {
    const url = `${await listen(mcpApp(server()))}/mcp`;
    const cases: [string, Record<string, unknown>, Record<string, string | undefined>][] = [
      ["resources/read", { uri: "test://a" }, { "mcp-name": "test://b" }],
      ["prompts/get", { name: "greet" }, { "mcp-name": "other" }],
      ["tasks/get", { taskId: "t-1" }, { "mcp-name": "t-2" }],
      ["tasks/cancel", { taskId: "t-1" }, { "mcp-name": undefined }],
      // A value that is not a valid header value never matches, even a field that is absent.
      ["tasks/get", {}, { "mcp-name": "=?base64?not base64?=" }],
      ["tasks/update", {}, { "mcp-name": "caf\u00e9" }],
    ];
    for (const [method, params, headers] of cases) {
      const { status, body } = await send(url, 3, method, params, headers);
      expect(status, `${method} ${JSON.stringify(headers)}`).toBe(400);
      expect(body.error).toMatchObject({ code: -32020 });
    }
  });

  it("answers an unsupported version with 400 and the versions it speaks", async () => {
    const url = `${await listen(mcpApp(server()))}/mcp`;
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2099-01-01",
        "mcp-method": "tools/list",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/list",
        params: { _meta: { ...meta(), "io.modelcontextprotocol/protocolVersion": "2099-01-01" } },
      }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: {
        code: -32022,
        data: { supported: expect.arrayContaining(["2026-07-28"]), requested: "2099-01-01" },
      },
    });
  });

  it("treats the 2025-only methods as unknown (404, -32601)", async () => {
    const url = `${await listen(mcpApp(server()))}/mcp`;
    for (const method of [
      "ping",
      "logging/setLevel",
      "resources/subscribe",
      "initialize",
      "no/such",
    ]) {
      const { status, body } = await send(url, 1, method, {});
      expect(status, method).toBe(404);
      expect(body.error).toMatchObject({ code: -32601 });
    }
  });

  it("uses -32602 for a missing resource and the 2025 revisions keep -32002", async () => {
    const url = `${await listen(mcpApp(server()))}/mcp`;
    const { body } = await send(url, 1, "resources/read", { uri: "test://nope" });
    expect(body.error).toMatchObject({ code: -32602 });
  });

  it("refuses an elicitation the client did not declare with -32021", async () => {
    const url = `${await listen(mcpApp(server()))}/mcp`;
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": VERSION,
        "mcp-method": "tools/call",
        "mcp-name": "ask",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: { name: "ask", arguments: { topic: "x" }, _meta: meta({}) },
      }),
    });
    expect(response.status).toBe(400);
    // The error names the capability that was missing, as a ClientCapabilities object.
    expect(await messagesOf(response)).toMatchObject([
      { error: { code: -32021, data: { requiredCapabilities: { elicitation: { form: {} } } } } },
    ]);
  });
});

describe("a server that offers only 2026-07-28", () => {
  it("refuses initialize with the versions it speaks", async () => {
    const mcp = new McpServer({
      name: "only-modern",
      version: "1",
      protocolVersions: ["2026-07-28"],
    });
    const url = `${await listen(mcpApp(mcp))}/mcp`;
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: {
          protocolVersion: "2025-11-25",
          capabilities: {},
          clientInfo: { name: "old", version: "1" },
        },
      }),
    });
    expect(await messagesOf(response)).toMatchObject([
      {
        id: 0,
        error: { code: -32022, data: { supported: ["2026-07-28"], requested: "2025-11-25" } },
      },
    ]);
    expect(response.headers.get("mcp-session-id")).toBeNull();
  });
});
