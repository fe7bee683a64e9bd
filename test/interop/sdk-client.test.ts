import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  type Progress,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type McpAppOptions,
  McpServer,
  mcpApp,
  memoryEventStore,
  StreamableHttpTransport,
} from "../../src/index.ts";
import { until } from "../helpers/async.ts";
import { listen } from "../helpers/http.ts";

function buildServer(): McpServer {
  const mcp = new McpServer({ name: "interop", version: "1.0.0", instructions: "Be nice." });

  mcp.tool(
    "echo",
    { description: "Echoes text", input: z.object({ text: z.string() }) },
    ({ text }) => `echo: ${text}`,
  );

  mcp.tool(
    "add",
    {
      input: z.object({ a: z.number(), b: z.number() }),
      output: z.object({ sum: z.number() }),
    },
    ({ a, b }) => ({ sum: a + b }),
  );

  mcp.tool(
    "work",
    { input: z.object({ steps: z.number().int().min(1) }) },
    async ({ steps }, ctx) => {
      ctx.log.info("starting", "worker");
      for (let i = 1; i <= steps; i++) {
        await ctx.progress(i, steps, `step ${i}`);
      }
      ctx.log.warning({ finished: steps }, "worker");
      return `did ${steps} steps`;
    },
  );

  mcp.tool("ask_name", { description: "Asks the user for a name" }, async (_args, ctx) => {
    const answer = await ctx.elicit({
      message: "What is your name?",
      schema: z.object({ name: z.string().describe("Your name") }),
    });
    return answer.action === "accept" ? `Hello, ${answer.content.name}!` : `(${answer.action})`;
  });

  mcp.tool("drop_and_resume", {}, async (_args, ctx) => {
    await ctx.progress(1, 2, "before the drop");
    // What follows goes to the event store: the client gets it by resuming the stream.
    const dropped = ctx.closeConnection();
    await ctx.progress(2, 2, "after the drop");
    return dropped ? "resumed after the drop" : "could not drop";
  });

  mcp.resource("notes://readme", { name: "readme", mimeType: "text/markdown" }, () => "# Read me");
  mcp.resource("bin://logo", { mimeType: "image/png" }, () => new Uint8Array([137, 80, 78, 71]));
  mcp.resource(
    "notes://{id}",
    {
      name: "note",
      mimeType: "text/plain",
      complete: { id: (value) => ["1", "10", "2"].filter((id) => id.startsWith(value)) },
      list: () => [{ uri: "notes://1", name: "note 1" }],
    },
    ({ id }) => `note ${id}`,
  );

  mcp.prompt(
    "summarize",
    {
      description: "Summarize a topic",
      args: z.object({
        topic: z.string().describe("What to summarize"),
        style: z.string().optional(),
      }),
      complete: { style: (value) => ["brief", "bullet"].filter((s) => s.startsWith(value)) },
    },
    ({ topic, style }) => [
      { role: "user", content: `Summarize ${topic}${style ? ` (${style})` : ""}` },
    ],
  );
  return mcp;
}

const clients: Client[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

async function connect(
  url: string,
  capabilities: ConstructorParameters<typeof Client>[1] = {},
  setup?: (client: Client) => void,
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: "sdk-interop", version: "1.0.0" }, capabilities);
  setup?.(client);
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    reconnectionOptions: {
      initialReconnectionDelay: 20,
      maxReconnectionDelay: 200,
      reconnectionDelayGrowFactor: 1.5,
      maxRetries: 5,
    },
  });
  clients.push(client);
  await client.connect(transport);
  return { client, transport };
}

const MODES: [string, McpAppOptions][] = [
  ["stateful with an event store", { sessions: true, eventStore: memoryEventStore(), retryMs: 20 }],
  ["stateless", {}],
];

describe.each(MODES)("the official SDK client, %s", (_mode, options) => {
  const stateful = options.sessions === true;

  /** Requests that reached the server: method and Last-Event-ID, in order. */
  let seen: { method: string; lastEventId: string | undefined }[] = [];

  async function start(setup?: (client: Client) => void, capabilities = {}) {
    seen = [];
    const app = new Hono();
    app.use(async (c, next) => {
      seen.push({ method: c.req.method, lastEventId: c.req.header("last-event-id") });
      await next();
    });
    app.route("/", mcpApp(buildServer(), options));
    const url = `${await listen(app)}/mcp`;
    return connect(url, { capabilities }, setup);
  }

  it("connects and sees server info, capabilities and instructions", async () => {
    const { client, transport } = await start();
    expect(client.getServerVersion()).toMatchObject({ name: "interop", version: "1.0.0" });
    expect(client.getInstructions()).toBe("Be nice.");
    expect(client.getServerCapabilities()).toEqual({
      logging: {},
      tools: { listChanged: true },
      resources: { subscribe: true, listChanged: true },
      prompts: { listChanged: true },
      completions: {},
    });
    if (stateful) expect(transport.sessionId).toMatch(/^[0-9a-f]{32}$/);
    else expect(transport.sessionId).toBeUndefined();
    expect(await client.ping()).toEqual({});
  });

  it("lists and calls tools", async () => {
    const { client } = await start();
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual([
      "echo",
      "add",
      "work",
      "ask_name",
      "drop_and_resume",
    ]);
    expect(tools[0]).toMatchObject({
      description: "Echoes text",
      inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
    });
    expect(await client.callTool({ name: "echo", arguments: { text: "hi" } })).toEqual({
      content: [{ type: "text", text: "echo: hi" }],
    });
    const invalid = await client.callTool({ name: "echo", arguments: { text: 5 } });
    expect(invalid.isError).toBe(true);
  });

  it("validates structured output against the published outputSchema", async () => {
    const { client } = await start();
    await client.listTools(); // the SDK compiles output validators from the list
    expect(await client.callTool({ name: "add", arguments: { a: 2, b: 3 } })).toEqual({
      content: [{ type: "text", text: '{"sum":5}' }],
      structuredContent: { sum: 5 },
    });
  });

  it("rejects an unknown tool with the server's -32602", async () => {
    const { client } = await start();
    await expect(client.callTool({ name: "nope" })).rejects.toMatchObject({
      code: -32602,
      message: expect.stringContaining("Unknown tool: nope"),
    });
  });

  it("receives progress and log notifications during a call", async () => {
    const logs: unknown[] = [];
    const { client } = await start((c) =>
      c.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
        logs.push(notification.params);
      }),
    );
    const progress: Progress[] = [];
    const result = await client.callTool({ name: "work", arguments: { steps: 3 } }, undefined, {
      onprogress: (update) => progress.push(update),
    });
    expect(result).toEqual({ content: [{ type: "text", text: "did 3 steps" }] });
    expect(progress).toEqual(
      [1, 2, 3].map((i) => ({ progress: i, total: 3, message: `step ${i}` })),
    );
    expect(logs).toEqual([
      { level: "info", logger: "worker", data: "starting" },
      { level: "warning", logger: "worker", data: { finished: 3 } },
    ]);
  });

  it("honours logging/setLevel", async () => {
    const logs: string[] = [];
    const { client } = await start((c) =>
      c.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
        logs.push(notification.params.level);
      }),
    );
    await client.setLoggingLevel("warning");
    await client.callTool({ name: "work", arguments: { steps: 1 } });
    // A stateless server keeps no level between requests.
    expect(logs).toEqual(stateful ? ["warning"] : ["info", "warning"]);
  });

  it("answers an elicitation and the tool result shows the answer", async () => {
    const requests: unknown[] = [];
    const { client } = await start(
      (c) =>
        c.setRequestHandler(ElicitRequestSchema, (request) => {
          requests.push(request.params);
          return { action: "accept", content: { name: "Ada" } };
        }),
      { elicitation: {} },
    );
    expect(await client.callTool({ name: "ask_name" })).toEqual({
      content: [{ type: "text", text: "Hello, Ada!" }],
    });
    expect(requests).toEqual([
      {
        mode: "form",
        message: "What is your name?",
        requestedSchema: {
          type: "object",
          properties: { name: { type: "string", description: "Your name" } },
          required: ["name"],
        },
      },
    ]);
  });

  it("passes a declined elicitation on to the tool", async () => {
    const { client } = await start(
      (c) => c.setRequestHandler(ElicitRequestSchema, () => ({ action: "decline" })),
      { elicitation: {} },
    );
    expect(await client.callTool({ name: "ask_name" })).toEqual({
      content: [{ type: "text", text: "(decline)" }],
    });
  });

  it("lists and reads resources and templates", async () => {
    const { client } = await start();
    expect((await client.listResources()).resources).toEqual([
      { uri: "notes://readme", name: "readme", mimeType: "text/markdown" },
      { uri: "bin://logo", name: "bin://logo", mimeType: "image/png" },
      { uri: "notes://1", name: "note 1", mimeType: "text/plain" },
    ]);
    expect((await client.listResourceTemplates()).resourceTemplates).toEqual([
      { uriTemplate: "notes://{id}", name: "note", mimeType: "text/plain" },
    ]);
    expect(await client.readResource({ uri: "notes://readme" })).toEqual({
      contents: [{ uri: "notes://readme", mimeType: "text/markdown", text: "# Read me" }],
    });
    expect(await client.readResource({ uri: "bin://logo" })).toEqual({
      contents: [{ uri: "bin://logo", mimeType: "image/png", blob: "iVBORw==" }],
    });
    expect(await client.readResource({ uri: "notes://42" })).toEqual({
      contents: [{ uri: "notes://42", mimeType: "text/plain", text: "note 42" }],
    });
    await expect(client.readResource({ uri: "missing://x" })).rejects.toMatchObject({
      code: -32002,
      data: { uri: "missing://x" },
    });
  });

  it("gets prompts", async () => {
    const { client } = await start();
    expect((await client.listPrompts()).prompts).toEqual([
      {
        name: "summarize",
        description: "Summarize a topic",
        arguments: [
          { name: "topic", required: true, description: "What to summarize" },
          { name: "style", required: false },
        ],
      },
    ]);
    expect(
      await client.getPrompt({ name: "summarize", arguments: { topic: "owls", style: "brief" } }),
    ).toEqual({
      description: "Summarize a topic",
      messages: [{ role: "user", content: { type: "text", text: "Summarize owls (brief)" } }],
    });
    await expect(client.getPrompt({ name: "summarize", arguments: {} })).rejects.toMatchObject({
      code: -32602,
    });
  });

  it("completes prompt arguments and template variables", async () => {
    const { client } = await start();
    expect(
      await client.complete({
        ref: { type: "ref/prompt", name: "summarize" },
        argument: { name: "style", value: "b" },
        context: { arguments: { topic: "owls" } },
      }),
    ).toEqual({ completion: { values: ["brief", "bullet"], total: 2, hasMore: false } });
    expect(
      await client.complete({
        ref: { type: "ref/resource", uri: "notes://{id}" },
        argument: { name: "id", value: "1" },
      }),
    ).toEqual({ completion: { values: ["1", "10"], total: 2, hasMore: false } });
  });

  it("resumes a dropped stream by itself where the server allows it", async () => {
    const { client } = await start();
    const progress: Progress[] = [];
    const result = await client.callTool({ name: "drop_and_resume" }, undefined, {
      onprogress: (update) => progress.push(update),
    });
    expect(progress.map((p) => p.message)).toEqual(["before the drop", "after the drop"]);
    const resumed = seen.filter((r) => r.method === "GET" && r.lastEventId !== undefined);
    if (stateful) {
      expect(result).toEqual({ content: [{ type: "text", text: "resumed after the drop" }] });
      // The SDK reconnected with the id of the last event it saw before the drop.
      expect(resumed).toHaveLength(1);
      expect(resumed[0]!.lastEventId).toMatch(/^[0-9a-f]{32}_[0-9a-f-]{36}\.\d+$/);
    } else {
      // Without sessions and an event store a reply cannot be resumed: nothing is dropped.
      expect(result).toEqual({ content: [{ type: "text", text: "could not drop" }] });
      expect(resumed).toEqual([]);
    }
  });
});

describe("list_changed through the SDK client's GET stream", () => {
  it("fires the ToolListChangedNotification handler when a tool is registered", async () => {
    const mcp = buildServer();
    const transport = new StreamableHttpTransport(mcp, {
      sessions: true,
      eventStore: memoryEventStore(),
    });
    const app = new Hono();
    app.all("/mcp", (c) => transport.handle(c));
    const url = `${await listen(app)}/mcp`;
    let notified = 0;
    let changed: () => void = () => {};
    const arrived = new Promise<void>((resolve) => {
      changed = resolve;
    });
    const { client } = await connect(url, {}, (c) =>
      c.setNotificationHandler(ToolListChangedNotificationSchema, () => {
        notified++;
        changed();
      }),
    );
    // The SDK opens its GET stream after initialization without waiting for it.
    await until(() =>
      [...(transport.sessions?.values() ?? [])].some((s) => s.standalone?.connected),
    );
    mcp.tool("late", { description: "Registered after connect" }, () => "late");
    await arrived;
    expect(notified).toBe(1);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toContain("late");
    expect(await client.callTool({ name: "late" })).toEqual({
      content: [{ type: "text", text: "late" }],
    });
    await client.close();
    transport.close();
  });
});
