/**
 * Interop with the official SDK clients on ONE server instance: the v2 client
 * (`@modelcontextprotocol/client` 2.x, speaking 2026-07-28: elicitation through multi
 * round-trip requests) and the v1 client (`@modelcontextprotocol/sdk` 1.x, speaking
 * 2025-11-25: elicitation as a server-to-client request on the SSE stream).
 */
import {
  Client as ClientV2,
  type McpSubscription,
  StreamableHTTPClientTransport as TransportV2,
} from "@modelcontextprotocol/client";
import { Client as ClientV1 } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as TransportV1 } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { McpServer, StreamableHttpTransport } from "../../src/index.ts";
import { until } from "../helpers/async.ts";
import { listen } from "../helpers/http.ts";

interface Seen {
  method: string | undefined;
  protocolVersion: string | undefined;
  /** What the POST body carried: a request's method, or "response" for a client's reply. */
  body: string;
  inputResponses: boolean;
}

function buildServer() {
  const mcp = new McpServer({ name: "interop-v2", version: "2.0.0", instructions: "Both eras." });
  mcp.tool(
    "ask_name",
    { description: "Asks the user for a name", input: z.object({ greeting: z.string() }) },
    async ({ greeting }, ctx) => {
      const answer = await ctx.elicit({
        message: "What is your name?",
        schema: z.object({ name: z.string() }),
      });
      const who = answer.action === "accept" ? answer.content.name : `(${answer.action})`;
      return `${greeting}, ${who}! [${ctx.client.protocolVersion}]`;
    },
  );
  mcp.tool(
    "regional",
    {
      description: "Mirrors its region into a header",
      input: {
        type: "object",
        properties: { region: { type: "string", "x-mcp-header": "Region" } },
        required: ["region"],
      },
    },
    (args, ctx) => `region ${String(args.region)} via ${ctx.c?.req.header("mcp-param-region")}`,
  );
  mcp.tool("work", { input: z.object({ steps: z.number() }) }, async ({ steps }, ctx) => {
    for (let i = 1; i <= steps; i++) await ctx.progress(i, steps);
    ctx.log.info("worked", "suite");
    return `did ${steps}`;
  });
  mcp.resource("notes://readme", { name: "readme", cache: { ttlMs: 1000 } }, () => "# Read me");
  mcp.prompt("hello", { description: "says hello" }, () => "hello");
  return mcp;
}

/** One server instance behind the transport, recording what each POST carried. */
async function serve(mcp: McpServer) {
  const transport = new StreamableHttpTransport(mcp, { sessions: true, keepAliveMs: 0 });
  const seen: Seen[] = [];
  const app = new Hono();
  app.use(async (c, next) => {
    if (c.req.method === "POST") {
      const body = (await c.req.raw.clone().json()) as Record<string, unknown>;
      const params = (body.params ?? {}) as Record<string, unknown>;
      seen.push({
        method: c.req.header("mcp-method"),
        protocolVersion: c.req.header("mcp-protocol-version"),
        body: typeof body.method === "string" ? body.method : "response",
        inputResponses: "inputResponses" in params,
      });
    }
    await next();
  });
  app.all("/mcp", (c) => transport.handle(c));
  const url = new URL(`${await listen(app)}/mcp`);
  return { url, seen, transport };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function connectV2(url: URL, elicited: unknown[] = []): Promise<ClientV2> {
  const client = new ClientV2(
    { name: "sdk-v2", version: "2.0.0" },
    { capabilities: { elicitation: {} }, versionNegotiation: { mode: "auto" } },
  );
  client.setRequestHandler("elicitation/create", (request) => {
    elicited.push(request.params);
    return { action: "accept", content: { name: "Grace" } };
  });
  await client.connect(new TransportV2(url));
  closers.push(() => client.close());
  return client;
}

async function connectV1(url: URL, elicited: unknown[] = []): Promise<ClientV1> {
  const client = new ClientV1(
    { name: "sdk-v1", version: "1.0.0" },
    { capabilities: { elicitation: {} } },
  );
  client.setRequestHandler(ElicitRequestSchema, (request) => {
    elicited.push(request.params);
    return { action: "accept", content: { name: "Ada" } };
  });
  await client.connect(new TransportV1(url));
  closers.push(() => client.close());
  return client;
}

describe("the official v2 and v1 clients against one server instance", () => {
  it("both call a tool that elicits input and both get the final result", async () => {
    const { url, seen } = await serve(buildServer());
    const elicitedV2: unknown[] = [];
    const elicitedV1: unknown[] = [];
    const v2 = await connectV2(url, elicitedV2);
    const v1 = await connectV1(url, elicitedV1);
    expect(v2.getProtocolEra()).toBe("modern");
    expect(v2.getNegotiatedProtocolVersion()).toBe("2026-07-28");

    const [modern, legacy] = await Promise.all([
      v2.callTool({ name: "ask_name", arguments: { greeting: "Hi" } }),
      v1.callTool({ name: "ask_name", arguments: { greeting: "Hello" } }),
    ]);
    expect(modern.content).toEqual([{ type: "text", text: "Hi, Grace! [2026-07-28]" }]);
    expect(legacy.content).toEqual([{ type: "text", text: "Hello, Ada! [2025-11-25]" }]);

    // Each client's own handler answered the same question.
    for (const elicited of [elicitedV2, elicitedV1]) {
      expect(elicited).toEqual([
        expect.objectContaining({
          mode: "form",
          message: "What is your name?",
          requestedSchema: expect.objectContaining({ properties: { name: { type: "string" } } }),
        }),
      ]);
    }

    // v2: two stateless tools/call POSTs, the retry carrying the answers. v1: one tools/call
    // on its session, and its answer POSTed back as a JSON-RPC response.
    const calls = seen.filter((s) => s.body === "tools/call" || s.body === "response");
    expect(calls.filter((s) => s.protocolVersion === "2026-07-28")).toEqual([
      {
        method: "tools/call",
        protocolVersion: "2026-07-28",
        body: "tools/call",
        inputResponses: false,
      },
      {
        method: "tools/call",
        protocolVersion: "2026-07-28",
        body: "tools/call",
        inputResponses: true,
      },
    ]);
    expect(calls.filter((s) => s.protocolVersion === "2025-11-25").map((s) => s.body)).toEqual([
      "tools/call",
      "response",
    ]);
  });

  it("v2: discovers the server and lists its tools with cache hints", async () => {
    const { url } = await serve(buildServer());
    const v2 = await connectV2(url);
    expect(v2.getServerVersion()).toEqual({ name: "interop-v2", version: "2.0.0" });
    expect(v2.getInstructions()).toBe("Both eras.");
    const discovered = await v2.discover();
    expect(discovered.supportedVersions).toEqual([
      "2026-07-28",
      "2025-11-25",
      "2025-06-18",
      "2025-03-26",
    ]);
    expect(discovered.capabilities).toMatchObject({
      tools: { listChanged: true },
      resources: { listChanged: true },
      prompts: { listChanged: true },
    });
    const listed = await v2.listTools();
    expect(listed.tools.map((tool) => tool.name)).toEqual(["ask_name", "regional", "work"]);
    expect(listed).toMatchObject({ ttlMs: 0, cacheScope: "public" });
    const read = await v2.readResource({ uri: "notes://readme" });
    expect(read).toMatchObject({
      contents: [{ uri: "notes://readme", text: "# Read me" }],
      ttlMs: 1000,
      cacheScope: "public",
    });
    await expect(v2.readResource({ uri: "notes://missing" })).rejects.toMatchObject({
      code: -32602,
    });
    expect((await v2.listPrompts()).prompts.map((prompt) => prompt.name)).toEqual(["hello"]);
  });

  it("v2: mirrors an x-mcp-header argument, which the server checks", async () => {
    const { url } = await serve(buildServer());
    const v2 = await connectV2(url);
    await v2.listTools(); // the client learns the annotations from the list
    const result = await v2.callTool({ name: "regional", arguments: { region: "eu-north" } });
    expect(result.content).toEqual([{ type: "text", text: "region eu-north via eu-north" }]);
  });

  it("v2: receives progress, and log messages when it asks for a level", async () => {
    const { url } = await serve(buildServer());
    const v2 = await connectV2(url);
    const logs: unknown[] = [];
    v2.setNotificationHandler("notifications/message", (notification) => {
      logs.push(notification.params);
    });
    const progress: number[] = [];
    const result = await v2.callTool(
      {
        name: "work",
        arguments: { steps: 2 },
        _meta: { "io.modelcontextprotocol/logLevel": "info" },
      },
      { onprogress: (update) => progress.push(update.progress) },
    );
    expect(result.content).toEqual([{ type: "text", text: "did 2" }]);
    expect(progress).toEqual([1, 2]);
    expect(logs).toEqual([{ level: "info", logger: "suite", data: "worked" }]);
  });

  it("v2: subscribes to list changes and resource updates, and closes the subscription", async () => {
    const mcp = buildServer();
    const { url } = await serve(mcp);
    const v2 = await connectV2(url);
    const received: { method: string; params: unknown }[] = [];
    v2.setNotificationHandler("notifications/tools/list_changed", (n) => {
      received.push({ method: n.method, params: n.params });
    });
    v2.setNotificationHandler("notifications/resources/updated", (n) => {
      received.push({ method: n.method, params: n.params });
    });
    const subscription: McpSubscription = await v2.listen({
      toolsListChanged: true,
      resourceSubscriptions: ["notes://readme"],
    });
    expect(subscription.honoredFilter).toEqual({
      toolsListChanged: true,
      resourceSubscriptions: ["notes://readme"],
    });
    mcp.tool("added", {}, () => "added");
    await until(() => received.length === 1);
    mcp.resourceUpdated("notes://other");
    mcp.resourceUpdated("notes://readme");
    await until(() => received.length === 2);
    expect(received).toEqual([
      { method: "notifications/tools/list_changed", params: expect.anything() },
      {
        method: "notifications/resources/updated",
        params: expect.objectContaining({ uri: "notes://readme" }),
      },
    ]);
    await subscription.close();
    expect(await subscription.closed).toBe("local");
  });

  it("v2: sees a graceful end when the server shuts its transport down", async () => {
    const { url, transport } = await serve(buildServer());
    const v2 = await connectV2(url);
    const subscription = await v2.listen({ toolsListChanged: true });
    transport.close();
    expect(await subscription.closed).toBe("graceful");
  });
});
