import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  ErrorCode,
  LATEST_VERSION,
  McpServer,
  mcpApp,
  Peer,
  SESSION_ERA_VERSIONS,
  type ServerEvent,
} from "../../src/index.ts";
import { listen, messagesOf, openSession, post } from "../helpers/http.ts";
import { call, error, exchange, microtask, result } from "./support.ts";

const VERSION = "2025-11-25";

function headers(session: string): Record<string, string> {
  return { "mcp-session-id": session, "mcp-protocol-version": VERSION };
}

function request(id: number, method: string, params?: Record<string, unknown>) {
  return params === undefined
    ? { jsonrpc: "2.0", id, method }
    : { jsonrpc: "2.0", id, method, params };
}

/** The messages of one POST reply; the last one is the response. */
async function exchangeOverHttp(
  url: string,
  session: string | undefined,
  message: unknown,
): Promise<{ status: number; messages: Record<string, unknown>[] }> {
  const response = await post(url, message, session ? headers(session) : {});
  return {
    status: response.status,
    messages: (await messagesOf(response)) as Record<string, unknown>[],
  };
}

describe("initialize", () => {
  it("negotiates the version and reports server info, instructions and capabilities", async () => {
    const mcp = new McpServer({
      name: "srv",
      version: "2.0.0",
      title: "Server",
      websiteUrl: "https://example.com",
      instructions: "Use the tools.",
    });
    const url = `${await listen(mcpApp(mcp, { sessions: true }))}/mcp`;
    const reply = await exchangeOverHttp(url, undefined, {
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "c", version: "1" },
      },
    });
    expect(reply.status).toBe(200);
    expect(reply.messages).toEqual([
      {
        jsonrpc: "2.0",
        id: 0,
        result: {
          protocolVersion: "2025-06-18",
          capabilities: { logging: {} },
          serverInfo: {
            name: "srv",
            version: "2.0.0",
            title: "Server",
            websiteUrl: "https://example.com",
          },
          instructions: "Use the tools.",
        },
      },
    ]);
  });

  it("answers an unknown protocol version with the newest session-era one it speaks", async () => {
    const mcp = new McpServer({ name: "srv", version: "1" });
    const answer = await result(mcp, "initialize", { protocolVersion: "1999-01-01" });
    // initialize belongs to the 2025 revisions: 2026-07-28 is never negotiated through it.
    expect(answer.protocolVersion).toBe(SESSION_ERA_VERSIONS[0]);
    expect(LATEST_VERSION).toBe("2026-07-28");
    const limited = new McpServer({ name: "s", version: "1", protocolVersions: ["2025-06-18"] });
    expect(
      (await result(limited, "initialize", { protocolVersion: "2025-11-25" })).protocolVersion,
    ).toBe("2025-06-18");
  });

  it("records the client on its peer for handlers to see", async () => {
    const mcp = new McpServer({ name: "srv", version: "1" });
    let seen: unknown;
    mcp.tool("who", {}, (_args, ctx) => {
      seen = ctx.client;
      return "ok";
    });
    const peer = new Peer(VERSION, "s1");
    const via = exchange(peer);
    await result(
      mcp,
      "initialize",
      {
        protocolVersion: "2025-06-18",
        capabilities: { sampling: {} },
        clientInfo: { name: "client", version: "9" },
      },
      via,
    );
    await result(mcp, "tools/call", { name: "who" }, via);
    expect(seen).toEqual({
      info: { name: "client", version: "9" },
      capabilities: { sampling: {} },
      protocolVersion: "2025-06-18",
    });
  });
});

describe("capabilities", () => {
  it("offer only logging on an empty server", () => {
    expect(new McpServer({ name: "s", version: "1" }).capabilities()).toEqual({ logging: {} });
  });

  it("reflect what is registered", () => {
    const mcp = new McpServer({ name: "s", version: "1" });
    mcp.tool("t", {}, () => "");
    expect(mcp.capabilities()).toEqual({ logging: {}, tools: { listChanged: true } });
    mcp.resource("fixed://a", {}, () => "");
    expect(mcp.capabilities()).toMatchObject({
      resources: { subscribe: true, listChanged: true },
    });
    mcp.prompt("p", {}, () => "");
    expect(mcp.capabilities()).toEqual({
      logging: {},
      tools: { listChanged: true },
      resources: { subscribe: true, listChanged: true },
      prompts: { listChanged: true },
    });
  });

  it("offer resources for a template alone", () => {
    const mcp = new McpServer({ name: "s", version: "1" });
    mcp.resource("notes://{id}", {}, () => "");
    expect(mcp.capabilities()).toEqual({
      logging: {},
      resources: { subscribe: true, listChanged: true },
    });
  });

  it("offer completions only when a prompt or template has a completer", () => {
    const prompts = new McpServer({ name: "s", version: "1" });
    prompts.prompt("p", { complete: { a: () => [] } }, () => "");
    expect(prompts.capabilities()).toHaveProperty("completions", {});
    const templates = new McpServer({ name: "s", version: "1" });
    templates.resource("notes://{id}", { complete: { id: () => [] } }, () => "");
    expect(templates.capabilities()).toHaveProperty("completions", {});
    const none = new McpServer({ name: "s", version: "1" });
    none.prompt("p", {}, () => "");
    none.resource("notes://{id}", {}, () => "");
    expect(none.capabilities()).not.toHaveProperty("completions");
  });

  it("drop a list once its last item is removed", () => {
    const mcp = new McpServer({ name: "s", version: "1" });
    mcp.tool("t", {}, () => "").remove();
    expect(mcp.capabilities()).toEqual({ logging: {} });
  });
});

describe("dispatch", () => {
  it("answers ping with an empty result", async () => {
    expect(await call(new McpServer({ name: "s", version: "1" }), "ping")).toEqual({
      jsonrpc: "2.0",
      id: expect.any(Number),
      result: {},
    });
  });

  it("answers an unknown method, even an inherited name, with -32601", async () => {
    const mcp = new McpServer({ name: "s", version: "1" });
    expect(await error(mcp, "tools/unknown")).toEqual({
      code: ErrorCode.MethodNotFound,
      message: "Method not found: tools/unknown",
    });
    expect((await error(mcp, "constructor")).code).toBe(ErrorCode.MethodNotFound);
    expect((await error(mcp, "toString")).code).toBe(ErrorCode.MethodNotFound);
  });

  it("keeps the request id on the response", async () => {
    const mcp = new McpServer({ name: "s", version: "1" });
    const response = await mcp.dispatch({ jsonrpc: "2.0", id: "abc", method: "ping" }, exchange());
    expect(response).toEqual({ jsonrpc: "2.0", id: "abc", result: {} });
  });

  it("shares ctx.app between handlers", async () => {
    const mcp = new McpServer({ name: "s", version: "1" });
    mcp.tool("inc", {}, (_args, ctx) => {
      const next = ((ctx.app.get("n") as number | undefined) ?? 0) + 1;
      ctx.app.set("n", next);
      return String(next);
    });
    await result(mcp, "tools/call", { name: "inc" });
    expect(await result(mcp, "tools/call", { name: "inc" })).toEqual({
      content: [{ type: "text", text: "2" }],
    });
    expect(mcp.state.get("n")).toBe(2);
  });
});

describe("logging", () => {
  it("answers an invalid level with -32602", async () => {
    const mcp = new McpServer({ name: "s", version: "1" });
    for (const level of ["verbose", "", 3, undefined]) {
      const failed = await error(mcp, "logging/setLevel", level === undefined ? {} : { level });
      expect(failed.code).toBe(ErrorCode.InvalidParams);
    }
  });

  it("records a valid level on the peer", async () => {
    const mcp = new McpServer({ name: "s", version: "1" });
    const peer = new Peer(VERSION, "s1");
    expect(await result(mcp, "logging/setLevel", { level: "error" }, exchange(peer))).toEqual({});
    expect(peer.logLevel).toBe("error");
  });

  it("sends only messages at or above the session's level, over HTTP", async () => {
    const mcp = new McpServer({ name: "s", version: "1" });
    mcp.tool("chatty", {}, (_args, ctx) => {
      ctx.log.debug("d");
      ctx.log.info({ detail: 1 }, "component");
      ctx.log.warning("w");
      ctx.log.emergency("e");
      return "done";
    });
    const url = `${await listen(mcpApp(mcp, { sessions: true }))}/mcp`;
    const session = await openSession(url);
    const before = await exchangeOverHttp(
      url,
      session,
      request(1, "tools/call", { name: "chatty" }),
    );
    expect(before.messages.filter((m) => m.method === "notifications/message")).toEqual([
      { jsonrpc: "2.0", method: "notifications/message", params: { level: "debug", data: "d" } },
      {
        jsonrpc: "2.0",
        method: "notifications/message",
        params: { level: "info", logger: "component", data: { detail: 1 } },
      },
      { jsonrpc: "2.0", method: "notifications/message", params: { level: "warning", data: "w" } },
      {
        jsonrpc: "2.0",
        method: "notifications/message",
        params: { level: "emergency", data: "e" },
      },
    ]);
    const set = await exchangeOverHttp(
      url,
      session,
      request(2, "logging/setLevel", { level: "warning" }),
    );
    expect(set.messages).toEqual([{ jsonrpc: "2.0", id: 2, result: {} }]);
    const after = await exchangeOverHttp(
      url,
      session,
      request(3, "tools/call", { name: "chatty" }),
    );
    const levels = after.messages
      .filter((m) => m.method === "notifications/message")
      .map((m) => (m.params as { level: string }).level);
    expect(levels).toEqual(["warning", "emergency"]);
    expect(after.messages.at(-1)).toMatchObject({ id: 3, result: { content: [{ text: "done" }] } });
  });

  it("answers an invalid level over HTTP with a JSON-RPC error", async () => {
    const mcp = new McpServer({ name: "s", version: "1" });
    const url = `${await listen(mcpApp(mcp))}/mcp`;
    const reply = await exchangeOverHttp(
      url,
      undefined,
      request(5, "logging/setLevel", { level: "loud" }),
    );
    expect(reply.messages).toEqual([
      {
        jsonrpc: "2.0",
        id: 5,
        error: { code: ErrorCode.InvalidParams, message: "Invalid params: unknown logging level" },
      },
    ]);
  });
});

describe("progress", () => {
  function progressServer(): McpServer {
    const mcp = new McpServer({ name: "s", version: "1" });
    mcp.tool("work", { input: z.object({ steps: z.number().int() }) }, async ({ steps }, ctx) => {
      for (let i = 1; i <= steps; i++) await ctx.progress(i, steps, `step ${i}`);
      return "worked";
    });
    return mcp;
  }

  it("sends progress notifications with the client's token, in order, before the result", async () => {
    const url = `${await listen(mcpApp(progressServer()))}/mcp`;
    const reply = await exchangeOverHttp(
      url,
      undefined,
      request(7, "tools/call", {
        name: "work",
        arguments: { steps: 3 },
        _meta: { progressToken: "tok" },
      }),
    );
    expect(reply.messages).toEqual([
      ...[1, 2, 3].map((i) => ({
        jsonrpc: "2.0",
        method: "notifications/progress",
        params: { progressToken: "tok", progress: i, total: 3, message: `step ${i}` },
      })),
      { jsonrpc: "2.0", id: 7, result: { content: [{ type: "text", text: "worked" }] } },
    ]);
  });

  it("sends none when the client did not ask", async () => {
    const via = exchange();
    await result(progressServer(), "tools/call", { name: "work", arguments: { steps: 2 } }, via);
    expect(via.notifications).toEqual([]);
  });

  it("accepts a numeric token", async () => {
    const via = exchange();
    await result(
      progressServer(),
      "tools/call",
      { name: "work", arguments: { steps: 1 }, _meta: { progressToken: 9 } },
      via,
    );
    expect(via.notifications).toEqual([
      {
        jsonrpc: "2.0",
        method: "notifications/progress",
        params: { progressToken: 9, progress: 1, total: 1, message: "step 1" },
      },
    ]);
  });
});

describe("cancellation", () => {
  it("notifications/cancelled aborts the handler's signal with the reason", async () => {
    let reason: unknown;
    const mcp = new McpServer({ name: "s", version: "1" });
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    mcp.tool("wait", {}, (_args, ctx) => {
      started();
      return new Promise((_resolve, reject) => {
        ctx.signal.addEventListener("abort", () => {
          reason = ctx.signal.reason;
          reject(ctx.signal.reason);
        });
      });
    });
    const peer = new Peer(VERSION, "s1");
    const pending = mcp.dispatch(
      { jsonrpc: "2.0", id: 41, method: "tools/call", params: { name: "wait" } },
      exchange(peer),
    );
    await running;
    expect(peer.inflight?.has(41)).toBe(true);
    mcp.receive(
      {
        jsonrpc: "2.0",
        method: "notifications/cancelled",
        params: { requestId: 41, reason: "user stopped" },
      },
      peer,
    );
    // The handler saw the reason; the client, having cancelled, is sent no response at all.
    expect(await pending).toBeUndefined();
    expect(reason).toMatchObject({
      code: ErrorCode.RequestTimeout,
      message: "Request cancelled: user stopped",
    });
    expect(peer.inflight?.has(41)).toBe(false);
  });

  it("notifications/initialized marks the peer", () => {
    const mcp = new McpServer({ name: "s", version: "1" });
    const peer = new Peer(VERSION, "s1");
    mcp.receive({ jsonrpc: "2.0", method: "notifications/initialized" }, peer);
    expect(peer.initialized).toBe(true);
  });
});

describe("client features from handlers", () => {
  it("refuse elicitation the client did not declare, as a JSON-RPC error", async () => {
    const mcp = new McpServer({ name: "s", version: "1" });
    mcp.tool("ask", {}, async (_args, ctx) => {
      const answer = await ctx.elicit({ message: "Name?", schema: z.object({ name: z.string() }) });
      return answer.action;
    });
    const peer = new Peer(VERSION, "s1");
    const via = exchange(peer);
    await result(mcp, "initialize", { protocolVersion: VERSION, capabilities: {} }, via);
    const failed = await error(mcp, "tools/call", { name: "ask" }, via);
    expect(failed.code).toBe(ErrorCode.InvalidRequest);
    expect(failed.message).toContain("form elicitation");
  });

  it("send elicitation/create with the schema as JSON Schema, and check the answer", async () => {
    const mcp = new McpServer({ name: "s", version: "1" });
    mcp.tool("ask", {}, async (_args, ctx) => {
      const answer = await ctx.elicit({
        message: "Age?",
        schema: z.object({ age: z.number().int() }),
      });
      return answer.action === "accept" ? `age ${answer.content.age}` : answer.action;
    });
    const sent: unknown[] = [];
    let reply: Record<string, unknown> = { action: "accept", content: { age: 30 } };
    const peer = new Peer(VERSION, "s1");
    const via = {
      ...exchange(peer),
      request: async (method: string, params: Record<string, unknown>) => {
        sent.push({ method, params });
        return reply;
      },
    };
    await result(
      mcp,
      "initialize",
      { protocolVersion: VERSION, capabilities: { elicitation: {} } },
      via,
    );
    expect(await result(mcp, "tools/call", { name: "ask" }, via)).toEqual({
      content: [{ type: "text", text: "age 30" }],
    });
    expect(sent).toEqual([
      {
        method: "elicitation/create",
        params: {
          message: "Age?",
          mode: "form",
          requestedSchema: {
            type: "object",
            properties: { age: expect.objectContaining({ type: "integer" }) },
            required: ["age"],
            additionalProperties: false,
          },
        },
      },
    ]);
    reply = { action: "accept", content: { age: "thirty" } };
    const invalid = await error(mcp, "tools/call", { name: "ask" }, via);
    expect(invalid.code).toBe(ErrorCode.InvalidParams);
    reply = { action: "decline" };
    expect(await result(mcp, "tools/call", { name: "ask" }, via)).toEqual({
      content: [{ type: "text", text: "decline" }],
    });
  });
});

describe("list_changed", () => {
  function watched(): { mcp: McpServer; events: ServerEvent[] } {
    const mcp = new McpServer({ name: "s", version: "1" });
    const events: ServerEvent[] = [];
    mcp.listen((event) => events.push(event));
    return { mcp, events };
  }

  it("fires once per list for a burst of changes, after the current task", async () => {
    const { mcp, events } = watched();
    const tool = mcp.tool("a", {}, () => "");
    tool.update({ description: "x" });
    tool.disable();
    tool.enable();
    mcp.tool("b", {}, () => "").remove();
    expect(events).toEqual([]);
    await microtask();
    expect(events).toEqual([{ type: "list_changed", list: "tools" }]);
  });

  it("coalesces resources and templates into one resources event", async () => {
    const { mcp, events } = watched();
    mcp.resource("fixed://a", {}, () => "");
    mcp.resource("notes://{id}", {}, () => "").disable();
    await microtask();
    expect(events).toEqual([{ type: "list_changed", list: "resources" }]);
  });

  it("fires once for each list touched in a burst", async () => {
    const { mcp, events } = watched();
    mcp.tool("t", {}, () => "");
    mcp.prompt("p", {}, () => "");
    mcp.resource("fixed://a", {}, () => "");
    mcp.tool("t2", {}, () => "");
    await microtask();
    expect(events).toHaveLength(3);
    expect(new Set(events.map((e) => (e.type === "list_changed" ? e.list : e.type)))).toEqual(
      new Set(["tools", "prompts", "resources"]),
    );
  });

  it("fires again for a later burst", async () => {
    const { mcp, events } = watched();
    const prompt = mcp.prompt("p", {}, () => "");
    await microtask();
    prompt.update({ description: "new" });
    await microtask();
    prompt.remove();
    await microtask();
    expect(events).toEqual([
      { type: "list_changed", list: "prompts" },
      { type: "list_changed", list: "prompts" },
      { type: "list_changed", list: "prompts" },
    ]);
  });

  it("stops after the listener unsubscribes", async () => {
    const mcp = new McpServer({ name: "s", version: "1" });
    const events: ServerEvent[] = [];
    const stop = mcp.listen((event) => events.push(event));
    mcp.tool("a", {}, () => "");
    await microtask();
    stop();
    mcp.tool("b", {}, () => "");
    await microtask();
    expect(events).toHaveLength(1);
  });

  it("reaches a session's GET stream over HTTP", async () => {
    const mcp = new McpServer({ name: "s", version: "1" });
    mcp.tool("first", {}, () => "");
    const url = `${await listen(mcpApp(mcp, { sessions: true }))}/mcp`;
    const session = await openSession(url);
    const stream = await fetch(url, {
      headers: { accept: "text/event-stream", ...headers(session) },
    });
    expect(stream.status).toBe(200);
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    mcp.tool("second", {}, () => "");
    let text = "";
    while (!text.includes("list_changed")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    await reader.cancel();
    expect(text).toContain('"method":"notifications/tools/list_changed"');
    const listed = await exchangeOverHttp(url, session, request(9, "tools/list"));
    expect(listed.messages.at(-1)).toMatchObject({
      result: { tools: [{ name: "first" }, { name: "second" }] },
    });
  });
});

describe("stateless HTTP", () => {
  it("serves tools/list and tools/call without a session", async () => {
    const mcp = new McpServer({ name: "s", version: "1" });
    mcp.tool("echo", { input: z.object({ text: z.string() }) }, ({ text }) => text);
    const url = `${await listen(mcpApp(mcp))}/mcp`;
    const listed = await exchangeOverHttp(url, undefined, request(1, "tools/list"));
    expect(listed.status).toBe(200);
    expect(listed.messages).toEqual([
      { jsonrpc: "2.0", id: 1, result: { tools: [expect.objectContaining({ name: "echo" })] } },
    ]);
    const called = await exchangeOverHttp(
      url,
      undefined,
      request(2, "tools/call", { name: "echo", arguments: { text: "hi" } }),
    );
    expect(called.messages).toEqual([
      { jsonrpc: "2.0", id: 2, result: { content: [{ type: "text", text: "hi" }] } },
    ]);
    const unknown = await exchangeOverHttp(
      url,
      undefined,
      request(3, "tools/call", { name: "nope" }),
    );
    expect(unknown.messages).toEqual([
      { jsonrpc: "2.0", id: 3, error: { code: -32602, message: "Unknown tool: nope" } },
    ]);
  });

  it("answers ping over HTTP", async () => {
    const url = `${await listen(mcpApp(new McpServer({ name: "s", version: "1" })))}/mcp`;
    expect((await exchangeOverHttp(url, undefined, request(4, "ping"))).messages).toEqual([
      { jsonrpc: "2.0", id: 4, result: {} },
    ]);
  });
});
