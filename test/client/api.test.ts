/** Every API call of McpClient against our real server, in each transport mode and era. */
import { afterEach, describe, expect, it } from "vitest";
import { type McpClient, McpError } from "../../src/client/index.ts";
import type { LogMessage } from "../../src/client/types.ts";
import { until } from "../helpers/async.ts";
import { client, MODES, richServer, serve } from "./support.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

describe.each(MODES)("$name", (mode) => {
  async function connect(options: Parameters<typeof client>[0] = {}) {
    const { mcp, seen } = richServer();
    const url = await serve(mcp, mode.options());
    const made = client({ ...mode.client, ...options });
    await made.client.connect(url);
    open.push(made.client);
    return { ...made, mcp, seen, url };
  }

  it("opens: negotiated version, server info, capabilities, instructions, session", async () => {
    const { client: c, warnings } = await connect();
    expect(c.protocolVersion).toBe(mode.modern ? "2026-07-28" : "2025-11-25");
    expect(c.serverInfo).toEqual({ name: "rich", version: "2.0.0" });
    expect(c.instructions).toBe("Be brief.");
    expect(c.serverCapabilities).toMatchObject({
      tools: { listChanged: true },
      resources: { subscribe: true },
      prompts: {},
      completions: {},
      logging: {},
    });
    if (mode.sessions) expect(c.sessionId).toMatch(/^[0-9a-f]{32}$/);
    else expect(c.sessionId).toBeUndefined();
    expect(c.connected).toBe(true);
    expect(warnings).toEqual([]);
  });

  it("pings", async () => {
    const { client: c } = await connect();
    await expect(c.ping()).resolves.toBeUndefined();
  });

  it("lists tools with their schemas", async () => {
    const { client: c } = await connect();
    const { tools, nextCursor } = await c.listTools();
    expect(nextCursor).toBeUndefined();
    expect(tools.map((tool) => tool.name)).toEqual([
      "echo",
      "add",
      "fail",
      "progress",
      "wait",
      "log",
      "ask_name",
      "ask_url",
      "sample",
      "roots",
    ]);
    expect(tools[0]).toMatchObject({
      name: "echo",
      description: "Echoes text",
      inputSchema: { type: "object", properties: { text: { type: "string" } } },
    });
    expect(tools[1]!.outputSchema).toMatchObject({ type: "object", required: ["sum"] });
  });

  it("calls tools: text, structured, tool errors and protocol errors", async () => {
    const { client: c, warnings } = await connect();
    await c.listTools();
    const echoed = await c.callTool("echo", { text: "hi" });
    expect(echoed.content).toEqual([{ type: "text", text: "echo: hi" }]);
    // The rounds of 2026-07-28 are the client's business: callers see complete results only.
    expect(echoed).not.toHaveProperty("resultType");
    const added = await c.callTool("add", { a: 2, b: 3 });
    expect(added.structuredContent).toEqual({ sum: 5 });
    const failed = await c.callTool("fail");
    expect(failed.isError).toBe(true);
    expect(failed.content).toEqual([{ type: "text", text: "the tool broke" }]);
    const invalid = await c.callTool("echo", { text: 42 });
    expect(invalid.isError).toBe(true);
    const unknown = await c.callTool("nope").catch((error: unknown) => error);
    expect(unknown).toBeInstanceOf(McpError);
    expect((unknown as McpError).code).toBe(-32602);
    expect(warnings).toEqual([]);
  });

  it("lists and reads resources and templates", async () => {
    const { client: c } = await connect();
    const { resources } = await c.listResources();
    expect(resources.map((resource) => resource.uri)).toEqual([
      "notes://readme",
      "bin://logo",
      "notes://alpha",
      "notes://beta",
    ]);
    const { resourceTemplates } = await c.listResourceTemplates();
    expect(resourceTemplates).toEqual([
      { uriTemplate: "notes://{id}", name: "note", mimeType: "text/plain" },
    ]);
    expect((await c.readResource("notes://readme")).contents).toEqual([
      { uri: "notes://readme", mimeType: "text/markdown", text: "# Read me" },
    ]);
    expect((await c.readResource("notes://beta")).contents[0]).toMatchObject({ text: "note beta" });
    expect((await c.readResource("bin://logo")).contents[0]).toMatchObject({ blob: "iVBORw==" });
    const missing = await c.readResource("nothing://here").catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(McpError);
    // 2026-07-28 renumbered "resource not found" to invalid params.
    expect((missing as McpError).code).toBe(mode.modern ? -32602 : -32002);
  });

  it("subscribes and unsubscribes", async () => {
    const { client: c } = await connect();
    await expect(c.subscribe("notes://readme")).resolves.toBeUndefined();
    await expect(c.unsubscribe("notes://readme")).resolves.toBeUndefined();
  });

  it("lists and gets prompts", async () => {
    const { client: c } = await connect();
    const { prompts } = await c.listPrompts();
    expect(prompts).toEqual([
      {
        name: "greet",
        description: "Greets someone",
        arguments: [{ name: "name", required: true }],
      },
    ]);
    const prompt = await c.getPrompt("greet", { name: "Ada" });
    expect(prompt.messages).toEqual([
      { role: "user", content: { type: "text", text: "Say hello to Ada" } },
    ]);
    await expect(c.getPrompt("nope")).rejects.toBeInstanceOf(McpError);
  });

  it("completes prompt arguments and template variables", async () => {
    const { client: c } = await connect();
    const prompt = await c.complete(
      { type: "ref/prompt", name: "greet" },
      { name: "name", value: "A" },
    );
    expect(prompt.completion.values).toEqual(["Ada", "Alan"]);
    const resource = await c.complete(
      { type: "ref/resource", uri: "notes://{id}" },
      { name: "id", value: "g" },
    );
    expect(resource.completion.values).toEqual(["gamma"]);
  });

  it("sets the logging level", async () => {
    const { client: c } = await connect();
    await expect(c.setLoggingLevel("warning")).resolves.toBeUndefined();
    // 2026-07-28 has no logging/setLevel: the level is checked here, not by the server.
    const loud = mode.modern
      ? c.setLoggingLevel("loud" as "info")
      : c.request("logging/setLevel", { level: "loud" });
    await expect(loud).rejects.toMatchObject({ code: -32602 });
  });

  it("sends a custom request with request()", async () => {
    const { client: c } = await connect();
    await expect(c.request("no/such/method")).rejects.toMatchObject({ code: -32601 });
    const discovered = mode.modern ? await c.request("server/discover") : undefined;
    if (discovered) expect(discovered.supportedVersions).toContain("2026-07-28");
  });

  it("closes: calls fail afterwards with a typed error", async () => {
    const { client: c } = await connect();
    await c.close();
    expect(c.connected).toBe(false);
    await expect(c.ping()).rejects.toMatchObject({
      name: "TransportError",
      code: "ERR_CONNECTION_CLOSED",
    });
  });
});

// Log messages travel on the reply stream (SSE) or the session's GET stream (stateful JSON); a
// stateless JSON server has no way to send them.
describe.each(MODES.filter((mode) => mode.sse || mode.sessions))("$name", (mode) => {
  it("receives log messages above the level it set", async () => {
    const logs: LogMessage[] = [];
    const { mcp } = richServer();
    const { client: c } = client({ ...mode.client, onLog: (message) => logs.push(message) });
    await c.connect(await serve(mcp, mode.options()));
    open.push(c);
    // A session keeps the level; 2026-07-28 sends none at all until one is set.
    const level = mode.sessions || mode.modern;
    if (level) await c.setLoggingLevel("info");
    await c.callTool("log");
    await until(() => logs.some((log) => log.level === "info"));
    expect(logs.find((log) => log.level === "info")).toEqual({
      level: "info",
      logger: "rich",
      data: { said: "info line" },
    });
    if (level) expect(logs.map((log) => log.level)).not.toContain("debug");
  });
});
