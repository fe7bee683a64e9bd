/** Stateless by default; sessions on demand: ids, 400/404, DELETE, LRU eviction, expiry. */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { McpServer, StreamableHttpTransport } from "../../src/index.ts";
import { manualClock } from "../helpers/clock.ts";
import { listen } from "../helpers/http.ts";
import {
  deferred,
  initializeRequest,
  initSession,
  type Json,
  messagesOf,
  openGet,
  ping,
  post,
  SseReader,
  sessionHeaders,
  start,
  toolCall,
} from "./support.ts";

function server(): McpServer {
  const mcp = new McpServer({ name: "sessions", version: "1.0.0" });
  mcp.tool("whoami", {}, (_args, ctx) => ctx.sessionId ?? "none");
  mcp.tool("chatty", {}, (_args, ctx) => {
    ctx.log.info("hello");
    return "done";
  });
  return mcp;
}

async function status(url: string, sessionId: string): Promise<number> {
  const response = await post(url, ping(), sessionHeaders(sessionId));
  await response.text();
  return response.status;
}

function del(url: string, headers: Record<string, string>): Promise<Response> {
  return fetch(url, { method: "DELETE", headers });
}

describe("stateless (the default)", () => {
  it("sends no Mcp-Session-Id with the initialize reply", async () => {
    const url = await start(server());
    const response = await post(url, initializeRequest());
    expect(response.status).toBe(200);
    expect(response.headers.get("mcp-session-id")).toBeNull();
    const [reply] = (await messagesOf(response)) as Json[];
    expect(reply).toMatchObject({ id: 0, result: { protocolVersion: "2025-11-25" } });
  });

  it.each(["GET", "DELETE", "PUT", "PATCH"])(
    "answers %s with 405 and Allow: POST",
    async (method) => {
      const url = await start(server());
      const response = await fetch(url, { method, headers: { accept: "text/event-stream" } });
      expect(response.status).toBe(405);
      expect(response.headers.get("allow")).toBe("POST");
      expect((await response.json()) as Json).toMatchObject({ jsonrpc: "2.0", id: null });
    },
  );

  it("calls a tool without initialize", async () => {
    const url = await start(server());
    const response = await post(url, toolCall(1, "whoami"));
    expect(response.status).toBe(200);
    const messages = (await messagesOf(response)) as Json[];
    expect(messages.at(-1)).toMatchObject({ id: 1, result: { content: [{ text: "none" }] } });
  });

  it("ignores a stray Mcp-Session-Id", async () => {
    const url = await start(server());
    const response = await post(url, toolCall(1, "whoami"), sessionHeaders("f".repeat(32)));
    expect(response.status).toBe(200);
    const messages = (await messagesOf(response)) as Json[];
    expect(messages.at(-1)).toMatchObject({ result: { content: [{ text: "none" }] } });
  });
});

describe("stateful", () => {
  it("hands out a fresh 32-hex-character Mcp-Session-Id at initialize", async () => {
    const url = await start(server(), { sessions: true });
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const response = await post(url, initializeRequest());
      expect(response.status).toBe(200);
      const id = response.headers.get("mcp-session-id");
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      await response.text();
      ids.add(id!);
    }
    expect(ids.size).toBe(5);
  });

  it("runs requests in the session they name", async () => {
    const url = await start(server(), { sessions: true });
    const { id } = await initSession(url);
    const response = await post(url, toolCall(1, "whoami"), sessionHeaders(id));
    const messages = (await messagesOf(response)) as Json[];
    expect(messages.at(-1)).toMatchObject({ result: { content: [{ text: id }] } });
  });

  it("answers 400 to a request without Mcp-Session-Id", async () => {
    const url = await start(server(), { sessions: true });
    await initSession(url);
    const response = await post(url, ping(), { "mcp-protocol-version": "2025-11-25" });
    expect(response.status).toBe(400);
    expect((await response.json()) as Json).toMatchObject({ jsonrpc: "2.0", id: null });
  });

  it.each([
    ["a well-formed unknown id", "0".repeat(32)],
    ["garbage", "not-a-session"],
  ])("answers 404 to %s", async (_label, id) => {
    const url = await start(server(), { sessions: true });
    const response = await post(url, ping(), sessionHeaders(id));
    expect(response.status).toBe(404);
    expect((await response.json()) as Json).toMatchObject({ jsonrpc: "2.0", id: null });
    const get = await openGet(url, id);
    expect(get.status).toBe(404);
    await get.body?.cancel();
  });

  it("ends a session on DELETE: 200, then 404 for POST, GET and DELETE", async () => {
    const url = await start(server(), { sessions: true });
    const { id } = await initSession(url);
    const other = await initSession(url);
    const response = await del(url, sessionHeaders(id));
    expect(response.status).toBe(200);
    expect(await status(url, id)).toBe(404);
    const get = await openGet(url, id);
    expect(get.status).toBe(404);
    await get.body?.cancel();
    expect((await del(url, sessionHeaders(id))).status).toBe(404);
    // Only that session ended.
    expect(await status(url, other.id)).toBe(200);
  });

  it("answers DELETE without Mcp-Session-Id with 400", async () => {
    const url = await start(server(), { sessions: true });
    const response = await del(url, { "mcp-protocol-version": "2025-11-25" });
    expect(response.status).toBe(400);
  });

  it("answers other methods with 405 and Allow: GET, POST, DELETE", async () => {
    const url = await start(server(), { sessions: true });
    const { id } = await initSession(url);
    const response = await fetch(url, { method: "PUT", headers: sessionHeaders(id) });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, POST, DELETE");
  });

  it("keeps each session's state apart", async () => {
    const url = await start(server(), { sessions: true });
    const a = await initSession(url);
    const b = await initSession(url);
    const setLevel = {
      jsonrpc: "2.0",
      id: 1,
      method: "logging/setLevel",
      params: { level: "error" },
    };
    const set = await post(url, setLevel, sessionHeaders(a.id));
    expect(await messagesOf(set)).toEqual([{ jsonrpc: "2.0", id: 1, result: {} }]);
    // a asked for errors only; b never set a level and still gets info logs.
    const quiet = (await messagesOf(
      await post(url, toolCall(2, "chatty"), sessionHeaders(a.id)),
    )) as Json[];
    const loud = (await messagesOf(
      await post(url, toolCall(2, "chatty"), sessionHeaders(b.id)),
    )) as Json[];
    expect(quiet.map((m) => m.method ?? "result")).toEqual(["result"]);
    expect(loud.map((m) => m.method ?? "result")).toEqual(["notifications/message", "result"]);
  });
});

describe("eviction", () => {
  it("evicts the least recently used session past maxSessions", async () => {
    const url = await start(server(), { sessions: { maxSessions: 2 } });
    const a = await initSession(url);
    const b = await initSession(url);
    const c = await initSession(url);
    expect(await status(url, a.id)).toBe(404);
    expect(await status(url, b.id)).toBe(200);
    expect(await status(url, c.id)).toBe(200);
  });

  it("keeps a session that was touched and evicts the one that was not", async () => {
    const url = await start(server(), { sessions: { maxSessions: 2 } });
    const a = await initSession(url);
    const b = await initSession(url);
    expect(await status(url, a.id)).toBe(200); // a is now the most recently used
    const c = await initSession(url);
    expect(await status(url, b.id)).toBe(404);
    expect(await status(url, a.id)).toBe(200);
    expect(await status(url, c.id)).toBe(200);
  });

  it("never silently re-creates an evicted session", async () => {
    const url = await start(server(), { sessions: { maxSessions: 1 } });
    const a = await initSession(url);
    const b = await initSession(url);
    expect(await status(url, a.id)).toBe(404);
    // Room is made again, but the old id stays dead.
    expect((await del(url, sessionHeaders(b.id))).status).toBe(200);
    expect(await status(url, a.id)).toBe(404);
    const response = await post(url, toolCall(1, "whoami"), sessionHeaders(a.id));
    expect(response.status).toBe(404);
  });

  it("closes an evicted session's GET stream", async () => {
    const url = await start(server(), { sessions: { maxSessions: 1 } });
    const a = await initSession(url);
    const get = await openGet(url, a.id);
    expect(get.status).toBe(200);
    const reader = new SseReader(get);
    await initSession(url);
    expect(await reader.events()).toEqual([]);
    expect(reader.ended).toBe(true);
  });

  it("bounds the tombstone list, and ids that fall off it still answer 404", async () => {
    const mcp = server();
    const transport = new StreamableHttpTransport(mcp, { sessions: { tombstones: 2 } });
    const app = new Hono();
    app.all("/mcp", (c) => transport.handle(c));
    const url = `${await listen(app)}/mcp`;
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { id } = await initSession(url);
      ids.push(id);
      expect((await del(url, sessionHeaders(id))).status).toBe(200);
    }
    const remembered = ids.map((id) => transport.sessions!.wasEnded(id));
    expect(remembered).toEqual([false, false, true, true]);
    for (const id of ids) expect(await status(url, id)).toBe(404);
    transport.close();
  });
});

describe("idle expiry", () => {
  it("ends a session idle longer than idleTimeoutMs: 404 afterwards", async () => {
    const clock = manualClock();
    const url = await start(server(), { sessions: { idleTimeoutMs: 100, clock: clock.now } });
    const { id } = await initSession(url);
    clock.advance(100);
    expect(await status(url, id)).toBe(200);
    clock.advance(101);
    expect(await status(url, id)).toBe(404);
    // And it stays ended.
    expect(await status(url, id)).toBe(404);
  });

  it("keeps a session that is used within the timeout", async () => {
    const clock = manualClock();
    const url = await start(server(), { sessions: { idleTimeoutMs: 1_000, clock: clock.now } });
    const { id } = await initSession(url);
    clock.advance(600);
    expect(await status(url, id)).toBe(200);
    // 1,200 ms after the start, but 600 after the last use.
    clock.advance(600);
    expect(await status(url, id)).toBe(200);
  });

  it("sweeps idle sessions when a new one is created", async () => {
    const clock = manualClock();
    const mcp = server();
    const transport = new StreamableHttpTransport(mcp, {
      sessions: { idleTimeoutMs: 100, clock: clock.now },
    });
    const app = new Hono();
    app.all("/mcp", (c) => transport.handle(c));
    const url = `${await listen(app)}/mcp`;
    const { id } = await initSession(url);
    clock.advance(250);
    expect(transport.sessions!.peek(id)).toBeDefined();
    await initSession(url);
    // Gone before anyone asked for it: the new session's creation swept it.
    expect(transport.sessions!.peek(id)).toBeUndefined();
    expect(await status(url, id)).toBe(404);
    transport.close();
  });

  it("does not expire a session whose GET stream is open", async () => {
    const clock = manualClock();
    const url = await start(server(), { sessions: { idleTimeoutMs: 100, clock: clock.now } });
    const { id } = await initSession(url);
    const get = await openGet(url, id);
    expect(get.status).toBe(200);
    clock.advance(250);
    await initSession(url); // a sweep runs here too
    expect(await status(url, id)).toBe(200);
    await get.body?.cancel();
  });
});

describe("ending a session", () => {
  it("closes its GET stream on DELETE", async () => {
    const url = await start(server(), { sessions: true });
    const { id } = await initSession(url);
    const reader = new SseReader(await openGet(url, id));
    expect((await del(url, sessionHeaders(id))).status).toBe(200);
    expect(await reader.events()).toEqual([]);
    expect(reader.ended).toBe(true);
  });

  it("aborts its running requests on DELETE", async () => {
    const mcp = server();
    const aborted = deferred<string>();
    mcp.tool("wait", {}, async (_args, ctx) => {
      ctx.log.info("started");
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
      aborted.resolve(String((ctx.signal.reason as Error).message));
      return "stopped";
    });
    const url = await start(mcp, { sessions: true });
    const { id } = await initSession(url);
    const reader = new SseReader(await post(url, toolCall(1, "wait"), sessionHeaders(id)));
    expect(await reader.message()).toMatchObject({ method: "notifications/message" });
    expect((await del(url, sessionHeaders(id))).status).toBe(200);
    expect(await aborted.promise).toContain("session ended");
    await reader.cancel();
  });
});
