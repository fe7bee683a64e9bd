/** The session's GET stream: preconditions, one at a time, priming, keep-alive. */
import { describe, expect, it } from "vitest";
import { McpServer, memoryEventStore } from "../../src/index.ts";
import { eventually, until } from "../helpers/async.ts";
import {
  initSession,
  type Json,
  openGet,
  SseReader,
  sessionHeaders,
  start,
  watchedEventStore,
} from "./support.ts";

function server(): McpServer {
  const mcp = new McpServer({ name: "get", version: "1.0.0" });
  mcp.tool("first", {}, () => "first");
  return mcp;
}

const LIST_CHANGED = { jsonrpc: "2.0", method: "notifications/tools/list_changed" };

/**
 * Opens a GET stream, waiting out the server's notice of an earlier dropped one (409): the
 * server learns of the drop from its socket, in its own time.
 */
function reopenGet(url: string, sessionId: string): Promise<Response> {
  return eventually(
    async () => {
      const response = await openGet(url, sessionId);
      if (response.status === 409) await response.body?.cancel();
      return response;
    },
    (response) => response.status !== 409,
    100,
  );
}

describe("GET preconditions", () => {
  it("answers 406 when the client does not accept text/event-stream", async () => {
    const url = await start(server(), { sessions: true });
    const { id } = await initSession(url);
    const response = await openGet(url, id, { accept: "application/json" });
    expect(response.status).toBe(406);
    expect((await response.json()) as Json).toMatchObject({ jsonrpc: "2.0", id: null });
  });

  it("answers 400 without Mcp-Session-Id and 404 for an unknown one", async () => {
    const url = await start(server(), { sessions: true });
    const missing = await fetch(url, { headers: { accept: "text/event-stream" } });
    expect(missing.status).toBe(400);
    await missing.body?.cancel();
    const unknown = await openGet(url, "a".repeat(32));
    expect(unknown.status).toBe(404);
    await unknown.body?.cancel();
  });

  it("opens an SSE stream with the buffering-proof headers", async () => {
    const url = await start(server(), { sessions: true });
    const { id } = await initSession(url);
    const response = await openGet(url, id);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    expect(response.headers.get("x-accel-buffering")).toBe("no");
    await response.body?.cancel();
  });
});

describe("one GET stream per session", () => {
  it("answers a second concurrent GET with 409 and keeps the first working", async () => {
    const mcp = server();
    const url = await start(mcp, { sessions: true });
    const { id } = await initSession(url);
    const first = new SseReader(await openGet(url, id));
    const second = await openGet(url, id);
    expect(second.status).toBe(409);
    expect((await second.json()) as Json).toMatchObject({ jsonrpc: "2.0", id: null });
    mcp.tool("second", {}, () => "second");
    expect(await first.message()).toEqual(LIST_CHANGED);
    await first.cancel();
  });

  it("lets another session open its own GET stream meanwhile", async () => {
    const url = await start(server(), { sessions: true });
    const a = await initSession(url);
    const b = await initSession(url);
    const first = await openGet(url, a.id);
    const other = await openGet(url, b.id);
    expect(first.status).toBe(200);
    expect(other.status).toBe(200);
    await first.body?.cancel();
    await other.body?.cancel();
  });

  it("accepts a new GET once the client dropped the first", async () => {
    const mcp = server();
    const url = await start(mcp, { sessions: true });
    const { id } = await initSession(url);
    const controller = new AbortController();
    const first = await openGet(url, id, {}, controller.signal);
    expect(first.status).toBe(200);
    controller.abort();
    const again = await reopenGet(url, id);
    expect(again.status).toBe(200);
    const reader = new SseReader(again);
    mcp.tool("second", {}, () => "second");
    expect(await reader.message()).toEqual(LIST_CHANGED);
    await reader.cancel();
  });
});

describe("GET stream events", () => {
  it("has no priming event and no ids without an event store", async () => {
    const mcp = server();
    const url = await start(mcp, { sessions: true });
    const { id } = await initSession(url);
    const reader = new SseReader(await openGet(url, id));
    mcp.tool("second", {}, () => "second");
    const event = await reader.event();
    expect(event).toMatchObject({ id: undefined, message: LIST_CHANGED });
    await reader.cancel();
  });

  it("is primed for a 2025-11-25 session with an event store", async () => {
    const mcp = server();
    const url = await start(mcp, { sessions: true, eventStore: memoryEventStore() });
    const { id } = await initSession(url);
    const reader = new SseReader(await openGet(url, id));
    const priming = await reader.event();
    expect(priming).toMatchObject({ data: "", retry: 1000, message: undefined });
    expect(priming!.id).toMatch(/\S/);
    mcp.tool("second", {}, () => "second");
    const next = await reader.event();
    expect(next!.message).toEqual(LIST_CHANGED);
    expect(next!.id).not.toBe(priming!.id);
    await reader.cancel();
  });

  it("is not primed for a 2025-03-26 session", async () => {
    const mcp = server();
    const url = await start(mcp, { sessions: true, eventStore: memoryEventStore() });
    const { id } = await initSession(url, "2025-03-26");
    const reader = new SseReader(await openGet(url, id, sessionHeaders(id, "2025-03-26")));
    mcp.tool("second", {}, () => "second");
    const event = await reader.event();
    expect(event!.message).toEqual(LIST_CHANGED);
    expect(event!.id).toMatch(/\S/);
    await reader.cancel();
  });

  it("primes a reopened GET stream after what the client already had", async () => {
    const mcp = server();
    const eventStore = watchedEventStore();
    const url = await start(mcp, { sessions: true, eventStore });
    const { id } = await initSession(url);
    const controller = new AbortController();
    const first = new SseReader(await openGet(url, id, {}, controller.signal));
    await first.event(); // priming
    mcp.tool("second", {}, () => "second");
    const seen = await first.event();
    expect(seen!.message).toEqual(LIST_CHANGED);
    controller.abort();

    // A fresh GET (no Last-Event-ID) is primed too, at the position it starts from...
    const again = new SseReader(await reopenGet(url, id));
    const priming = await again.event();
    expect(priming).toMatchObject({ data: "", message: undefined });
    expect(priming!.retry).toBe(1000);
    await again.cancel();

    // ...so resuming from that priming id replays nothing the client already had.
    const stored = eventStore.appended.length;
    mcp.tool("third", {}, () => "third");
    await until(() => eventStore.appended.length > stored);
    const resumed = new SseReader(await openGet(url, id, { "last-event-id": priming!.id! }));
    const replayed = await resumed.event();
    expect(replayed!.message).toEqual(LIST_CHANGED);
    expect(replayed!.id).not.toBe(seen!.id);
    await resumed.cancel();
  });

  it("sends keep-alive comments on an idle GET stream", async () => {
    const url = await start(server(), { sessions: true, keepAliveMs: 50 });
    const { id } = await initSession(url);
    const reader = new SseReader(await openGet(url, id));
    expect(await reader.comment()).toBe(true);
    expect(reader.raw.split("\n").some((line) => line.startsWith(":"))).toBe(true);
    await reader.cancel();
  });
});
