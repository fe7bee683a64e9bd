/**
 * subscriptions/listen (2026-07-28): acknowledgement first, opt-in filters, tagging with the
 * listen request's id, keep-alives, concurrent streams, and both ways a subscription ends.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { McpServer, type ServerEvent, StreamableHttpTransport } from "../../src/index.ts";
import { until } from "../helpers/async.ts";
import { listen } from "../helpers/http.ts";
import { META, modernCall, modernPost, resultOf } from "./modern-support.ts";
import { type Json, SseReader, start } from "./support.ts";

/**
 * A server that counts its active event listeners through the public `listen` contract, so
 * a test can see a closed subscription give its listener back.
 */
class CountingServer extends McpServer {
  active = 0;

  override listen(listener: (event: ServerEvent) => void): () => void {
    const stop = super.listen(listener);
    this.active++;
    let stopped = false;
    return () => {
      if (!stopped) {
        stopped = true;
        this.active--;
      }
      stop();
    };
  }
}

function build(): CountingServer {
  const mcp = new CountingServer({ name: "subs", version: "1.0.0" });
  mcp.tool("first", {}, () => "first");
  mcp.resource("notes://a", { name: "a" }, () => "A");
  mcp.resource("notes://b", { name: "b" }, () => "B");
  mcp.prompt("hello", {}, () => "hello");
  mcp.tool("work", { input: z.object({ steps: z.number() }) }, async ({ steps }, ctx) => {
    for (let i = 1; i <= steps; i++) await ctx.progress(i, steps);
    ctx.log.error("worked");
    return "worked";
  });
  return mcp;
}

interface Subscription {
  response: Response;
  reader: SseReader;
  ack: Json;
}

/** Opens a subscriptions/listen stream and reads its acknowledgement. */
async function subscribe(
  url: string,
  id: string | number,
  notifications: Json,
  signal?: AbortSignal,
): Promise<Subscription> {
  const options = signal ? { signal } : {};
  const response = await modernPost(url, id, "subscriptions/listen", { notifications }, options);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/event-stream");
  const reader = new SseReader(response);
  const ack = await reader.message();
  return { response, reader, ack };
}

const tagged = (id: string | number) => ({ [META.subscriptionId]: id });

describe("subscriptions/listen", () => {
  it("acknowledges first, with the filter it honours, tagged with the listen request's id", async () => {
    const url = await start(build(), { keepAliveMs: 0 });
    const { reader, ack } = await subscribe(url, "sub-1", {
      toolsListChanged: true,
      promptsListChanged: false,
      resourceSubscriptions: ["notes://a", 7],
      somethingElse: true,
    });
    expect(ack).toEqual({
      jsonrpc: "2.0",
      method: "notifications/subscriptions/acknowledged",
      params: {
        _meta: tagged("sub-1"),
        notifications: { toolsListChanged: true, resourceSubscriptions: ["notes://a"] },
      },
    });
    await reader.cancel();
  });

  it("delivers only the notification types opted into, each tagged", async () => {
    const mcp = build();
    const url = await start(mcp, { keepAliveMs: 0 });
    const { reader } = await subscribe(url, 41, {
      toolsListChanged: true,
      resourceSubscriptions: ["notes://a"],
    });

    // Not opted into: prompts and resource list changes, updates of another resource.
    mcp.prompt("later", {}, () => "later");
    mcp.resource("notes://c", { name: "c" }, () => "C");
    mcp.resourceUpdated("notes://b");
    const tool = mcp.tool("second", {}, () => "second");
    expect(await reader.message()).toEqual({
      jsonrpc: "2.0",
      method: "notifications/tools/list_changed",
      params: { _meta: tagged(41) },
    });

    mcp.resourceUpdated("notes://b");
    mcp.resourceUpdated("notes://a");
    expect(await reader.message()).toEqual({
      jsonrpc: "2.0",
      method: "notifications/resources/updated",
      params: { _meta: tagged(41), uri: "notes://a" },
    });

    // Request-scoped notifications stay on their request's own stream.
    const call = await modernCall(
      url,
      2,
      "tools/call",
      { name: "work", arguments: { steps: 2 } },
      { meta: { progressToken: "p", [META.logLevel]: "debug" } },
    );
    expect(call.messages.map((m) => m.method ?? "response")).toEqual([
      "notifications/progress",
      "notifications/progress",
      "notifications/message",
      "response",
    ]);

    tool.remove();
    expect(await reader.message()).toEqual({
      jsonrpc: "2.0",
      method: "notifications/tools/list_changed",
      params: { _meta: tagged(41) },
    });
    await reader.cancel();
  });

  it("delivers prompt and resource list changes to a stream that asked for them", async () => {
    const mcp = build();
    const url = await start(mcp, { keepAliveMs: 0 });
    const { reader, ack } = await subscribe(url, 5, {
      promptsListChanged: true,
      resourcesListChanged: true,
    });
    expect((ack.params as Json).notifications).toEqual({
      promptsListChanged: true,
      resourcesListChanged: true,
    });
    mcp.tool("ignored", {}, () => "x");
    mcp.prompt("later", {}, () => "later");
    expect((await reader.message()).method).toBe("notifications/prompts/list_changed");
    mcp.resource("notes://{id}", { name: "note" }, ({ id }) => id);
    expect(await reader.message()).toEqual({
      jsonrpc: "2.0",
      method: "notifications/resources/list_changed",
      params: { _meta: tagged(5) },
    });
    await reader.cancel();
  });

  it("sends keep-alive comments while nothing happens", async () => {
    const url = await start(build(), { keepAliveMs: 10 });
    const { reader } = await subscribe(url, 1, { toolsListChanged: true });
    expect(await reader.comment()).toBe(true);
    expect(reader.raw).toContain(": keep-alive\n\n");
    expect(reader.ended).toBe(false);
    await reader.cancel();
  });

  it("keeps the listen stream an SSE stream even when replies are JSON", async () => {
    const mcp = build();
    const url = await start(mcp, { keepAliveMs: 0, jsonResponse: true });
    const { reader, ack } = await subscribe(url, 1, { toolsListChanged: true });
    expect(ack.method).toBe("notifications/subscriptions/acknowledged");
    mcp.tool("later", {}, () => "x");
    expect((await reader.message()).method).toBe("notifications/tools/list_changed");
    await reader.cancel();
  });

  it("demultiplexes two concurrent subscriptions by their ids", async () => {
    const mcp = build();
    const url = await start(mcp, { keepAliveMs: 0 });
    const tools = await subscribe(url, 1, { toolsListChanged: true });
    const notes = await subscribe(url, "notes", { resourceSubscriptions: ["notes://a"] });
    expect((tools.ack.params as Json)._meta).toEqual(tagged(1));
    expect((notes.ack.params as Json)._meta).toEqual(tagged("notes"));

    mcp.resourceUpdated("notes://a");
    mcp.tool("second", {}, () => "second");
    expect(await notes.reader.message()).toEqual({
      jsonrpc: "2.0",
      method: "notifications/resources/updated",
      params: { _meta: tagged("notes"), uri: "notes://a" },
    });
    // The tools stream got the tool change and not the resource update before it.
    expect(await tools.reader.message()).toEqual({
      jsonrpc: "2.0",
      method: "notifications/tools/list_changed",
      params: { _meta: tagged(1) },
    });
    // And the notes stream got no tool change before the next update.
    mcp.resourceUpdated("notes://a");
    expect((await notes.reader.message()).params).toEqual({
      _meta: tagged("notes"),
      uri: "notes://a",
    });
    await tools.reader.cancel();
    await notes.reader.cancel();
  });

  it("stops delivering when the client closes the stream, and gives the listener back", async () => {
    const mcp = build();
    const url = await start(mcp, { keepAliveMs: 0 });
    const baseline = mcp.active;
    const abort = new AbortController();
    const closing = await subscribe(url, 1, { toolsListChanged: true }, abort.signal);
    const staying = await subscribe(url, 2, { toolsListChanged: true });
    expect(mcp.active).toBe(baseline + 2);

    abort.abort();
    await closing.reader.cancel();
    await until(() => mcp.active === baseline + 1);

    // Events after the close reach the open subscription only, and nothing breaks.
    mcp.tool("after-close", {}, () => "x");
    mcp.resourceUpdated("notes://a");
    expect(await staying.reader.message()).toEqual({
      jsonrpc: "2.0",
      method: "notifications/tools/list_changed",
      params: { _meta: tagged(2) },
    });
    await staying.reader.cancel();
    await until(() => mcp.active === baseline);

    // The transport still serves requests and new subscriptions.
    expect(resultOf(await modernCall(url, 3, "tools/list")).tools).toHaveLength(3);
    const again = await subscribe(url, 4, { toolsListChanged: true });
    mcp.tool("after-reopen", {}, () => "x");
    expect((await again.reader.message()).params).toEqual({ _meta: tagged(4) });
    await again.reader.cancel();
  });

  it("ends every subscription with a completion result when the transport closes", async () => {
    const mcp = build();
    const transport = new StreamableHttpTransport(mcp, { keepAliveMs: 0 });
    const app = new Hono();
    app.all("/mcp", (c) => transport.handle(c));
    const url = `${await listen(app)}/mcp`;
    const first = await subscribe(url, 7, { toolsListChanged: true });
    const second = await subscribe(url, "s2", { resourceSubscriptions: ["notes://a"] });
    expect(mcp.active).toBe(3); // the transport's own listener and the two subscriptions

    transport.close();

    // The rest of each stream is its completion result, and then the stream ends.
    expect(await first.reader.messages()).toEqual([
      { jsonrpc: "2.0", id: 7, result: { resultType: "complete", _meta: tagged(7) } },
    ]);
    expect(await second.reader.messages()).toEqual([
      { jsonrpc: "2.0", id: "s2", result: { resultType: "complete", _meta: tagged("s2") } },
    ]);
    expect(first.reader.ended && second.reader.ended).toBe(true);
    expect(mcp.active).toBe(0);
    // Closing twice is harmless.
    transport.close();
  });
});
