/**
 * Requests in 2026-07-28: tool arguments mirrored into Mcp-Param-* headers as the tool's
 * inputSchema asks (and invalid definitions left out), the log level as per-request opt-in,
 * and cancellation by closing the request's own stream.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { LogMessage, McpClient, Progress } from "../../src/client/index.ts";
import { McpServer } from "../../src/index.ts";
import { deferred, until } from "../helpers/async.ts";
import {
  bodyOf,
  client,
  discoverResult,
  type FetchCall,
  fakeServer,
  type Json,
  methodsOf,
  recordingFetch,
  richServer,
  serve,
} from "./support.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function connect(url: string, options: Parameters<typeof client>[0] = {}) {
  const recorder = recordingFetch();
  const made = client(options);
  await made.client.connect(url, { fetch: recorder.fetch });
  open.push(made.client);
  return { ...made, calls: recorder.calls };
}

const encoded = (text: string) => `=?base64?${Buffer.from(text, "utf8").toString("base64")}?=`;

/** The Mcp-Param-* headers of a recorded request. */
function paramHeaders(call: FetchCall): Record<string, string> {
  return Object.fromEntries([...call.headers].filter(([name]) => name.startsWith("mcp-param-")));
}

function sqlServer(): McpServer {
  const mcp = new McpServer({ name: "sql", version: "1.0.0" });
  mcp.tool(
    "execute_sql",
    {
      input: {
        type: "object",
        properties: {
          region: { type: "string", "x-mcp-header": "Region" },
          query: { type: "string" },
          options: {
            type: "object",
            properties: {
              dryRun: { type: "boolean", "x-mcp-header": "Dry-Run" },
              limit: { type: "integer", "x-mcp-header": "Limit" },
            },
          },
        },
        required: ["region", "query"],
      },
    },
    (args) => `ran in ${String(args.region)}`,
  );
  return mcp;
}

describe("x-mcp-header", () => {
  it("mirrors annotated arguments into Mcp-Param-* headers, which the server checks", async () => {
    const { client: c, calls } = await connect(await serve(sqlServer()));
    await c.listTools();
    const result = await c.callTool("execute_sql", {
      region: "us-west1",
      query: "SELECT 1",
      options: { dryRun: true, limit: 42 },
    });
    expect(result.content).toEqual([{ type: "text", text: "ran in us-west1" }]);
    expect(paramHeaders(calls.at(-1)!)).toEqual({
      "mcp-param-region": "us-west1",
      "mcp-param-dry-run": "true",
      "mcp-param-limit": "42",
    });
  });

  it("encodes values that cannot travel plain, and leaves out absent ones", async () => {
    const { client: c, calls } = await connect(await serve(sqlServer()));
    await c.listTools();
    const result = await c.callTool("execute_sql", { region: " Zürich ", query: "SELECT 1" });
    expect(result.isError).toBeFalsy();
    expect(paramHeaders(calls.at(-1)!)).toEqual({ "mcp-param-region": encoded(" Zürich ") });
  });

  it("a call before the tool was listed is refused, listed, and sent again with the headers", async () => {
    const { client: c, calls } = await connect(await serve(sqlServer()));
    const result = await c.callTool("execute_sql", { region: "eu-north1", query: "SELECT 1" });
    expect(result.content).toEqual([{ type: "text", text: "ran in eu-north1" }]);
    expect(methodsOf(calls)).toEqual(["server/discover", "tools/call", "tools/list", "tools/call"]);
    expect(calls[1]!.status).toBe(400);
    expect(paramHeaders(calls.at(-1)!)).toEqual({ "mcp-param-region": "eu-north1" });
  });

  const tools = [
    { name: "good", inputSchema: { type: "object", properties: { a: { type: "string" } } } },
    {
      name: "number_header",
      inputSchema: { type: "object", properties: { n: { type: "number", "x-mcp-header": "N" } } },
    },
    {
      name: "in_items",
      inputSchema: {
        type: "object",
        properties: {
          list: { type: "array", items: { type: "string", "x-mcp-header": "Item" } },
        },
      },
    },
    {
      name: "twice",
      inputSchema: {
        type: "object",
        properties: {
          a: { type: "string", "x-mcp-header": "Same" },
          b: { type: "string", "x-mcp-header": "same" },
        },
      },
    },
    {
      name: "not_a_token",
      inputSchema: {
        type: "object",
        properties: { a: { type: "string", "x-mcp-header": "Bad Header" } },
      },
    },
    {
      name: "in_one_of",
      inputSchema: {
        type: "object",
        oneOf: [{ properties: { a: { type: "string", "x-mcp-header": "A" } } }],
      },
    },
  ];

  it("leaves out tool definitions whose annotations break the rules, with a warning each", async () => {
    const fake = await fakeServer((request) => {
      if (request.method === "server/discover") return discoverResult();
      if (request.method === "tools/list") return { resultType: "complete", tools };
      return undefined;
    });
    const { client: c, warnings } = client();
    await c.connect(fake.url);
    open.push(c);
    const listed = await c.listTools();
    expect(listed.tools.map((tool) => tool.name)).toEqual(["good"]);
    expect(warnings.map((warning) => warning.code)).toEqual(Array(5).fill("invalid_tool"));
    expect(warnings.map((warning) => warning.message.match(/"(\w+)"/)?.[1])).toEqual([
      "number_header",
      "in_items",
      "twice",
      "not_a_token",
      "in_one_of",
    ]);
  });

  it("in 2025 revisions, where no header mirrors anything, the same definitions are kept", async () => {
    const fake = await fakeServer((request) =>
      request.method === "tools/list" ? { tools } : undefined,
    );
    const { client: c, warnings } = client();
    await c.connect(fake.url);
    open.push(c);
    expect(c.protocolVersion).toBe("2025-11-25");
    expect((await c.listTools()).tools).toHaveLength(tools.length);
    expect(warnings).toEqual([]);
  });
});

describe("logging", () => {
  it("sends no log messages until a level is set, then only those at or above it", async () => {
    const { mcp } = richServer();
    const logs: LogMessage[] = [];
    const { client: c, calls } = await connect(await serve(mcp), {
      onLog: (message) => logs.push(message),
    });
    await c.callTool("log");
    // Log messages come on the call's own stream, before its result: none came.
    expect(logs).toEqual([]);
    expect((bodyOf(calls.at(-1)!).params as Json)._meta).not.toHaveProperty(
      "io.modelcontextprotocol/logLevel",
    );

    await c.setLoggingLevel("info");
    // The level is the client's to keep: setting it sends nothing.
    expect(methodsOf(calls)).toEqual(["server/discover", "tools/call"]);
    await c.callTool("log");
    expect(logs).toEqual([{ level: "info", logger: "rich", data: { said: "info line" } }]);
    expect((bodyOf(calls.at(-1)!).params as Json)._meta).toMatchObject({
      "io.modelcontextprotocol/logLevel": "info",
    });
  });
});

describe("cancellation", () => {
  it("aborting a call closes its stream, which the server takes as the cancellation", async () => {
    const { mcp, seen } = richServer();
    const { client: c, calls } = await connect(await serve(mcp));
    const controller = new AbortController();
    const updates: Progress[] = [];
    const call = c.callTool(
      "wait",
      {},
      { signal: controller.signal, onProgress: (progress) => updates.push(progress) },
    );
    // The reply stream is open once its first progress update came.
    await until(() => updates.length > 0);
    expect(updates).toEqual([{ progress: 0, total: 1, message: "waiting" }]);
    controller.abort(new Error("user gave up"));
    await expect(call).rejects.toThrow("user gave up");
    await expect(seen.aborted.promise).resolves.toMatch(/\S/);
    // No notifications/cancelled: 2026-07-28 HTTP has no client notifications.
    expect(methodsOf(calls)).toEqual(["server/discover", "tools/call"]);
    await expect(c.callTool("echo", { text: "still here" })).resolves.toMatchObject({
      content: [{ type: "text", text: "echo: still here" }],
    });
  });

  it("a time limit cancels the same way", async () => {
    const { mcp, seen } = richServer();
    const { client: c, calls } = await connect(await serve(mcp));
    await expect(c.callTool("wait", {}, { timeoutMs: 200 })).rejects.toMatchObject({
      code: "ERR_TIMEOUT",
    });
    await seen.aborted.promise;
    expect(methodsOf(calls)).toEqual(["server/discover", "tools/call"]);
  });
});

describe("roots", () => {
  it("rootsChanged sends nothing: 2026-07-28 servers ask for roots when they need them", async () => {
    const { mcp } = richServer();
    const roots = deferred();
    const { client: c, calls } = await connect(await serve(mcp), {
      handlers: {
        roots: () => {
          roots.resolve();
          return [{ uri: "file:///now" }];
        },
      },
    });
    await c.rootsChanged();
    expect(methodsOf(calls)).toEqual(["server/discover"]);
    expect((await c.callTool("roots")).content).toEqual([{ type: "text", text: "file:///now" }]);
    await roots.promise;
  });
});

describe("replies", () => {
  it("a request accepted with 202 and no reply fails at once: there is no other channel", async () => {
    const fake = await fakeServer((request) => {
      if (request.method === "server/discover") return discoverResult();
      if (request.method === "tools/call") return new Response(null, { status: 202 });
      return undefined;
    });
    const { client: c } = client();
    await c.connect(fake.url);
    open.push(c);
    await expect(c.callTool("silent", {}, { timeoutMs: 60_000 })).rejects.toMatchObject({
      name: "TransportError",
      code: "ERR_STREAM_ENDED",
      status: 202,
    });
  });
});
