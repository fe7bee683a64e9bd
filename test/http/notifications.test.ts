/** Server-initiated notifications on the GET stream: list_changed and resources/updated. */
import { describe, expect, it } from "vitest";
import { McpServer } from "../../src/index.ts";
import {
  initSession,
  type Json,
  messagesOf,
  openGet,
  post,
  SseReader,
  sessionHeaders,
  start,
} from "./support.ts";

const TOOLS_CHANGED = { jsonrpc: "2.0", method: "notifications/tools/list_changed" };
const PROMPTS_CHANGED = { jsonrpc: "2.0", method: "notifications/prompts/list_changed" };
const RESOURCES_CHANGED = { jsonrpc: "2.0", method: "notifications/resources/list_changed" };
const updated = (uri: string) => ({
  jsonrpc: "2.0",
  method: "notifications/resources/updated",
  params: { uri },
});

function server(): McpServer {
  const mcp = new McpServer({ name: "notifications", version: "1.0.0" });
  mcp.tool("base", {}, () => "base");
  mcp.resource("notes://a", {}, () => "a");
  mcp.resource("notes://b", {}, () => "b");
  return mcp;
}

let markers = 0;
/**
 * Registers a prompt, whose prompts/list_changed is a marker: whatever the server sent a
 * stream before it has arrived by the time the marker does, so "not sent" is observable.
 */
function marker(mcp: McpServer): void {
  mcp.prompt(`marker_${markers++}`, {}, () => "marker");
}

async function sessionWithGet(url: string): Promise<{ id: string; reader: SseReader }> {
  const { id } = await initSession(url);
  const response = await openGet(url, id);
  expect(response.status).toBe(200);
  return { id, reader: new SseReader(response) };
}

/** Messages up to and including the next marker. */
async function upToMarker(reader: SseReader): Promise<Json[]> {
  const messages: Json[] = [];
  for (;;) {
    const message = await reader.message();
    messages.push(message);
    if (message.method === PROMPTS_CHANGED.method) return messages;
  }
}

async function rpc(url: string, sessionId: string, method: string, params: Json): Promise<void> {
  const response = await post(
    url,
    { jsonrpc: "2.0", id: 1, method, params },
    sessionHeaders(sessionId),
  );
  expect(await messagesOf(response)).toEqual([{ jsonrpc: "2.0", id: 1, result: {} }]);
}

describe("list_changed", () => {
  it("reaches the GET stream when a tool is registered", async () => {
    const mcp = server();
    const url = await start(mcp, { sessions: true });
    const { id, reader } = await sessionWithGet(url);
    mcp.tool("added", {}, () => "added");
    expect(await reader.message()).toEqual(TOOLS_CHANGED);
    // And a client that lists again sees the new tool.
    const list = await post(
      url,
      { jsonrpc: "2.0", id: 3, method: "tools/list" },
      sessionHeaders(id),
    );
    const [reply] = (await messagesOf(list)) as Json[];
    const names = (reply!.result as { tools: { name: string }[] }).tools.map((tool) => tool.name);
    expect(names).toEqual(["base", "added"]);
    await reader.cancel();
  });

  it("reaches the GET stream when a tool is removed, disabled or updated", async () => {
    const mcp = server();
    const url = await start(mcp, { sessions: true });
    const { reader } = await sessionWithGet(url);
    const tool = mcp.tool("temporary", {}, () => "temporary");
    expect(await reader.message()).toEqual(TOOLS_CHANGED);
    tool.disable();
    expect(await reader.message()).toEqual(TOOLS_CHANGED);
    tool.enable();
    expect(await reader.message()).toEqual(TOOLS_CHANGED);
    tool.update({ description: "now described" });
    expect(await reader.message()).toEqual(TOOLS_CHANGED);
    tool.remove();
    expect(await reader.message()).toEqual(TOOLS_CHANGED);
    await reader.cancel();
  });

  it("names the list that changed: resources and prompts too", async () => {
    const mcp = server();
    const url = await start(mcp, { sessions: true });
    const { reader } = await sessionWithGet(url);
    mcp.resource("notes://c", {}, () => "c");
    expect(await reader.message()).toEqual(RESOURCES_CHANGED);
    marker(mcp);
    expect(await reader.message()).toEqual(PROMPTS_CHANGED);
    await reader.cancel();
  });

  it("coalesces a burst of registrations into one notification per list", async () => {
    const mcp = server();
    const url = await start(mcp, { sessions: true });
    const { reader } = await sessionWithGet(url);
    mcp.tool("one", {}, () => "1");
    mcp.tool("two", {}, () => "2");
    mcp.tool("three", {}, () => "3");
    await Promise.resolve();
    marker(mcp);
    expect(await upToMarker(reader)).toEqual([TOOLS_CHANGED, PROMPTS_CHANGED]);
    await reader.cancel();
  });

  it("reaches every session with a GET stream", async () => {
    const mcp = server();
    const url = await start(mcp, { sessions: true });
    const a = await sessionWithGet(url);
    const b = await sessionWithGet(url);
    mcp.tool("shared", {}, () => "shared");
    expect(await a.reader.message()).toEqual(TOOLS_CHANGED);
    expect(await b.reader.message()).toEqual(TOOLS_CHANGED);
    await a.reader.cancel();
    await b.reader.cancel();
  });

  it("is never sent on a POST reply stream", async () => {
    const mcp = server();
    mcp.tool("register_another", {}, () => {
      mcp.tool(`made_${markers++}`, {}, () => "made");
      return "registered";
    });
    const url = await start(mcp, { sessions: true });
    const { id, reader } = await sessionWithGet(url);
    const response = await post(
      url,
      { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "register_another" } },
      sessionHeaders(id),
    );
    const messages = (await messagesOf(response)) as Json[];
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ id: 2, result: { content: [{ text: "registered" }] } });
    expect(await reader.message()).toEqual(TOOLS_CHANGED);
    await reader.cancel();
  });
});

describe("resources/updated", () => {
  it("goes only to sessions that subscribed to the URI", async () => {
    const mcp = server();
    const url = await start(mcp, { sessions: true });
    const a = await sessionWithGet(url);
    const b = await sessionWithGet(url);
    await rpc(url, a.id, "resources/subscribe", { uri: "notes://a" });
    mcp.resourceUpdated("notes://a");
    marker(mcp);
    expect(await upToMarker(a.reader)).toEqual([updated("notes://a"), PROMPTS_CHANGED]);
    expect(await upToMarker(b.reader)).toEqual([PROMPTS_CHANGED]);
    await a.reader.cancel();
    await b.reader.cancel();
  });

  it("is per URI", async () => {
    const mcp = server();
    const url = await start(mcp, { sessions: true });
    const { id, reader } = await sessionWithGet(url);
    await rpc(url, id, "resources/subscribe", { uri: "notes://a" });
    mcp.resourceUpdated("notes://b");
    mcp.resourceUpdated("notes://a");
    marker(mcp);
    expect(await upToMarker(reader)).toEqual([updated("notes://a"), PROMPTS_CHANGED]);
    await reader.cancel();
  });

  it("stops after resources/unsubscribe", async () => {
    const mcp = server();
    const url = await start(mcp, { sessions: true });
    const { id, reader } = await sessionWithGet(url);
    await rpc(url, id, "resources/subscribe", { uri: "notes://a" });
    await rpc(url, id, "resources/subscribe", { uri: "notes://b" });
    await rpc(url, id, "resources/unsubscribe", { uri: "notes://a" });
    mcp.resourceUpdated("notes://a");
    mcp.resourceUpdated("notes://b");
    marker(mcp);
    expect(await upToMarker(reader)).toEqual([updated("notes://b"), PROMPTS_CHANGED]);
    await reader.cancel();
  });

  it("is not delivered to a session that ended", async () => {
    const mcp = server();
    const url = await start(mcp, { sessions: true });
    const gone = await sessionWithGet(url);
    const live = await sessionWithGet(url);
    await rpc(url, gone.id, "resources/subscribe", { uri: "notes://a" });
    await rpc(url, live.id, "resources/subscribe", { uri: "notes://a" });
    const del = await fetch(url, { method: "DELETE", headers: sessionHeaders(gone.id) });
    expect(del.status).toBe(200);
    expect(await gone.reader.messages()).toEqual([]);
    mcp.resourceUpdated("notes://a");
    expect(await live.reader.message()).toEqual(updated("notes://a"));
    await live.reader.cancel();
  });
});
