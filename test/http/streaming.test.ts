/** SSE replies to POST: headers, progress and logs before the result, errors, keep-alive. */
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type LoggingLevel, McpServer, ToolError } from "../../src/index.ts";
import {
  deferred,
  initSession,
  type Json,
  messagesOf,
  post,
  SseReader,
  sessionHeaders,
  start,
  toolCall,
} from "./support.ts";

/** RFC 5424 severities, least severe first, as MCP orders them. */
const LOGGING_LEVELS: LoggingLevel[] = [
  "debug",
  "info",
  "notice",
  "warning",
  "error",
  "critical",
  "alert",
  "emergency",
];

const release = { chatty: deferred(), silent: deferred() };

function server(): McpServer {
  const mcp = new McpServer({ name: "streaming", version: "1.0.0" });
  mcp.tool("steps", { input: z.object({ n: z.number().int() }) }, async ({ n }, ctx) => {
    for (let i = 1; i <= n; i++) {
      await ctx.progress(i, n, `step ${i}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return `did ${n} steps`;
  });
  mcp.tool("all_levels", {}, async (_args, ctx) => {
    for (const level of LOGGING_LEVELS) {
      ctx.log[level](`at ${level}`, "levels");
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    return "logged";
  });
  mcp.tool("boom", {}, () => {
    throw new ToolError("the handler blew up");
  });
  mcp.tool("typed", { input: z.object({ count: z.number().min(1) }) }, ({ count }) => `${count}`);
  mcp.tool("chatty_then_wait", {}, async (_args, ctx) => {
    ctx.log.info("started");
    await release.chatty.promise;
    return "finished";
  });
  mcp.tool("silent_wait", {}, async () => {
    await release.silent.promise;
    return "finished quietly";
  });
  return mcp;
}

let url: string;
let stateful: string;

beforeAll(async () => {
  url = await start(server(), { keepAliveMs: 50 });
  stateful = await start(server(), { sessions: true });
});

async function call(
  target: string,
  name: string,
  args: Json = {},
  meta?: Json,
  headers: Record<string, string> = {},
): Promise<Json[]> {
  const response = await post(target, toolCall(1, name, args, meta), headers);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/event-stream");
  return (await messagesOf(response)) as Json[];
}

describe("SSE replies", () => {
  it("carries the SSE headers that keep proxies from buffering", async () => {
    const response = await post(url, toolCall(1, "steps", { n: 1 }));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    expect(response.headers.get("x-accel-buffering")).toBe("no");
    expect(response.headers.get("cache-control")).toContain("no-cache");
    await response.text();
  });

  it("sends progress notifications with the client's token before the result", async () => {
    const messages = await call(url, "steps", { n: 3 }, { progressToken: "tok-1" });
    expect(messages.map((m) => m.method ?? "result")).toEqual([
      "notifications/progress",
      "notifications/progress",
      "notifications/progress",
      "result",
    ]);
    expect(messages.slice(0, 3).map((m) => m.params)).toEqual([
      { progressToken: "tok-1", progress: 1, total: 3, message: "step 1" },
      { progressToken: "tok-1", progress: 2, total: 3, message: "step 2" },
      { progressToken: "tok-1", progress: 3, total: 3, message: "step 3" },
    ]);
    expect(messages[3]).toMatchObject({ id: 1, result: { content: [{ text: "did 3 steps" }] } });
  });

  it("keeps a numeric progress token as a number", async () => {
    const messages = await call(url, "steps", { n: 1 }, { progressToken: 99 });
    expect(messages[0]).toMatchObject({ params: { progressToken: 99, progress: 1 } });
  });

  it("sends no progress when the client gave no token", async () => {
    const messages = await call(url, "steps", { n: 2 });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ id: 1, result: { content: [{ text: "did 2 steps" }] } });
  });

  it("sends log messages before the result, every level by default", async () => {
    const messages = await call(url, "all_levels");
    const logs = messages.filter((m) => m.method === "notifications/message");
    expect(logs.map((m) => (m.params as Json).level)).toEqual([...LOGGING_LEVELS]);
    expect(logs[0]!.params).toEqual({ level: "debug", logger: "levels", data: "at debug" });
    expect(messages.at(-1)).toMatchObject({ id: 1, result: { content: [{ text: "logged" }] } });
  });

  it("filters logs below the level set with logging/setLevel", async () => {
    const { id } = await initSession(stateful);
    const headers = sessionHeaders(id);
    const set = await post(
      stateful,
      { jsonrpc: "2.0", id: 5, method: "logging/setLevel", params: { level: "warning" } },
      headers,
    );
    expect(await messagesOf(set)).toEqual([{ jsonrpc: "2.0", id: 5, result: {} }]);
    const messages = await call(stateful, "all_levels", {}, undefined, headers);
    const levels = messages
      .filter((m) => m.method === "notifications/message")
      .map((m) => (m.params as Json).level);
    expect(levels).toEqual(["warning", "error", "critical", "alert", "emergency"]);
    expect(messages.at(-1)).toMatchObject({ result: { content: [{ text: "logged" }] } });
  });

  it("refuses an unknown logging level with -32602", async () => {
    const { id } = await initSession(stateful);
    const response = await post(
      stateful,
      { jsonrpc: "2.0", id: 6, method: "logging/setLevel", params: { level: "loud" } },
      sessionHeaders(id),
    );
    expect(response.status).toBe(200);
    expect(await messagesOf(response)).toMatchObject([{ id: 6, error: { code: -32602 } }]);
  });

  it("ends the stream after the final response", async () => {
    const reader = new SseReader(
      await post(url, toolCall(1, "steps", { n: 2 }, { progressToken: 1 })),
    );
    const messages = await reader.messages();
    expect(messages.at(-1)).toMatchObject({ id: 1, result: {} });
    expect(reader.ended).toBe(true);
  });
});

describe("tool failures", () => {
  it("turns a handler that throws into an isError result", async () => {
    const messages = await call(url, "boom");
    expect(messages).toEqual([
      {
        jsonrpc: "2.0",
        id: 1,
        result: { content: [{ type: "text", text: "the handler blew up" }], isError: true },
      },
    ]);
  });

  it.each([
    ["a wrong type", { count: "three" }],
    ["a value out of range", { count: 0 }],
    ["a missing argument", {}],
  ])("turns invalid arguments (%s) into an isError result", async (_label, args) => {
    const messages = await call(url, "typed", args);
    expect(messages).toHaveLength(1);
    const result = messages[0]!.result as { isError: boolean; content: { text: string }[] };
    expect(result.isError).toBe(true);
    expect(result.content[0]!.text).toContain('Invalid arguments for tool "typed"');
  });

  it("answers an unknown tool with -32602", async () => {
    const messages = await call(url, "no_such_tool");
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ id: 1, error: { code: -32602 } });
    expect((messages[0]!.error as Json).message).toContain("no_such_tool");
  });

  it("answers non-object arguments with -32602", async () => {
    const response = await post(url, {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "typed", arguments: [1] },
    });
    expect(await messagesOf(response)).toMatchObject([{ id: 1, error: { code: -32602 } }]);
  });
});

describe("keep-alive", () => {
  it("sends comment lines on a long-running stream", async () => {
    const reader = new SseReader(await post(url, toolCall(1, "chatty_then_wait")));
    expect(await reader.message()).toMatchObject({ method: "notifications/message" });
    expect(await reader.comment()).toBe(true);
    expect(reader.raw.split("\n").some((line) => line.startsWith(":"))).toBe(true);
    release.chatty.resolve();
    const rest = await reader.messages();
    expect(rest.at(-1)).toMatchObject({ id: 1, result: { content: [{ text: "finished" }] } });
  });

  it("sends comment lines while a tool works without saying anything", async () => {
    const response = await post(url, toolCall(1, "silent_wait"));
    expect(response.status).toBe(200);
    const reader = new SseReader(response);
    expect(await reader.comment()).toBe(true);
    release.silent.resolve();
    const rest = await reader.messages();
    expect(rest).toEqual([
      { jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text: "finished quietly" }] } },
    ]);
  });
});
