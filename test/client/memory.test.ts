/** The in-memory transport: client and server in one process, driven through the real server. */
import { afterEach, describe, expect, it } from "vitest";
import {
  inMemoryTransport,
  type McpClient,
  McpError,
  type Progress,
  TransportError,
} from "../../src/client/index.ts";
import type { LogMessage } from "../../src/client/types.ts";
import { until } from "../helpers/async.ts";
import { client, richServer } from "./support.ts";

const open: McpClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function connect(options: Parameters<typeof client>[0] = {}) {
  const { mcp, seen } = richServer();
  const made = client(options);
  await made.client.connect(inMemoryTransport(mcp));
  open.push(made.client);
  return { ...made, mcp, seen };
}

describe("inMemoryTransport", () => {
  it("initializes and calls everything", async () => {
    const { client: c, warnings } = await connect();
    // The channel serves 2026-07-28 too, and the client prefers it.
    expect(c.protocolVersion).toBe("2026-07-28");
    expect(c.serverInfo).toEqual({ name: "rich", version: "2.0.0" });
    expect(c.sessionId).toBeUndefined();
    await c.ping();
    expect((await c.listTools()).tools).toHaveLength(10);
    expect((await c.callTool("add", { a: 1, b: 1 })).structuredContent).toEqual({ sum: 2 });
    expect((await c.readResource("notes://alpha")).contents[0]).toMatchObject({
      text: "note alpha",
    });
    expect((await c.listResourceTemplates()).resourceTemplates).toHaveLength(1);
    expect((await c.getPrompt("greet", { name: "Bo" })).messages).toHaveLength(1);
    expect(
      (await c.complete({ type: "ref/prompt", name: "greet" }, { name: "name", value: "Al" }))
        .completion.values,
    ).toEqual(["Alan"]);
    await c.setLoggingLevel("debug");
    await expect(c.callTool("missing")).rejects.toBeInstanceOf(McpError);
    expect(warnings).toEqual([]);
  });

  it("carries notifications: logs at the level set, list changes, subscribed updates", async () => {
    const logs: LogMessage[] = [];
    const updates: string[] = [];
    let changes = 0;
    const { client: c, mcp } = await connect({
      onLog: (log) => logs.push(log),
      onResourceUpdated: (uri) => updates.push(uri),
      onPromptsChanged: () => changes++,
    });
    await c.setLoggingLevel("info");
    await c.callTool("log");
    expect(logs.map((log) => log.level)).toEqual(["info"]);
    await c.subscribe("notes://alpha");
    mcp.resourceUpdated("notes://beta");
    mcp.resourceUpdated("notes://alpha");
    mcp.prompt("another", {}, () => "x");
    await until(() => updates.length === 1 && changes === 1);
    await c.unsubscribe("notes://alpha");
    mcp.resourceUpdated("notes://alpha");
    await c.ping();
    expect(updates).toEqual(["notes://alpha"]);
  });

  it("reports progress and cancels through notifications/cancelled", async () => {
    const { client: c, seen } = await connect();
    const progress: Progress[] = [];
    await c.callTool("progress", { steps: 2 }, { onProgress: (p) => progress.push(p) });
    expect(progress.map((p) => p.progress)).toEqual([1, 2]);
    const controller = new AbortController();
    const call = c.callTool("wait", {}, { signal: controller.signal });
    await seen.started.promise;
    controller.abort("stop now");
    await expect(call).rejects.toBe("stop now");
    expect(await seen.aborted.promise).toBe("Request cancelled: stop now");
  });

  it("times out with ERR_TIMEOUT", async () => {
    const { client: c, seen } = await connect();
    await expect(c.callTool("wait", {}, { timeoutMs: 100 })).rejects.toMatchObject({
      code: "ERR_TIMEOUT",
    });
    expect(await seen.aborted.promise).toBe("Request cancelled: timeout");
  });

  it("answers elicitation, sampling and roots, with the capabilities declared", async () => {
    const { client: c } = await connect({
      handlers: {
        elicitation: () => ({ action: "accept", content: { name: "Mem" } }),
        sampling: () => ({ role: "assistant", content: { type: "text", text: "hi" }, model: "m1" }),
        roots: () => [{ uri: "file:///r" }],
      },
    });
    const first = (result: { content: unknown[] }) => (result.content[0] as { text: string }).text;
    expect(first(await c.callTool("ask_name"))).toBe("Hello, Mem!");
    expect(first(await c.callTool("sample", { prompt: "?" }))).toBe("m1 said hi");
    expect(first(await c.callTool("roots"))).toBe("file:///r");
  });

  it("close() aborts the server's running handlers and fails further calls", async () => {
    const { client: c, seen } = await connect();
    const call = c.callTool("wait");
    await seen.started.promise;
    await c.close();
    await expect(call).rejects.toMatchObject({ code: "ERR_CONNECTION_CLOSED" });
    expect(await seen.aborted.promise).toBe("Connection closed");
    const after = await c.ping().catch((e: unknown) => e);
    expect(after).toBeInstanceOf(TransportError);
  });

  it("two clients of one server each get their own peer", async () => {
    const { mcp } = richServer();
    const updates = { a: [] as string[], b: [] as string[] };
    const a = client({ onResourceUpdated: (uri) => updates.a.push(uri) }).client;
    const b = client({ onResourceUpdated: (uri) => updates.b.push(uri) }).client;
    await a.connect(inMemoryTransport(mcp));
    await b.connect(inMemoryTransport(mcp));
    open.push(a, b);
    await a.subscribe("notes://readme");
    await b.subscribe("notes://alpha");
    mcp.resourceUpdated("notes://readme");
    await until(() => updates.a.length === 1);
    await Promise.all([a.ping(), b.ping()]);
    expect(updates).toEqual({ a: ["notes://readme"], b: [] });
  });
});
