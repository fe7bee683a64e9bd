/** JSON-RPC batches: only for 2025-03-26, never with initialize. */
import { beforeAll, describe, expect, it } from "vitest";
import { McpServer } from "../../src/index.ts";
import {
  deferred,
  expectServes,
  initializeRequest,
  initSession,
  type Json,
  messagesOf,
  ping,
  post,
  SseReader,
  sessionHeaders,
  start,
  toolCall,
} from "./support.ts";

const gate = deferred();

function server(): McpServer {
  const mcp = new McpServer({ name: "batching", version: "1.0.0" });
  mcp.tool("hello", {}, () => "hello");
  mcp.tool("wait", {}, async (_args, ctx) => {
    ctx.log.info("waiting");
    await gate.promise;
    return ctx.signal.aborted ? "aborted" : "not aborted";
  });
  return mcp;
}

let stateless: string;
let stateful: string;

beforeAll(async () => {
  stateless = await start(server());
  stateful = await start(server(), { sessions: true });
});

function byId(messages: unknown[]): Map<unknown, Json> {
  return new Map((messages as Json[]).map((message) => [message.id, message]));
}

describe("stateless batches", () => {
  it("accepts a batch without a version header (2025-03-26 assumed)", async () => {
    const response = await post(stateless, [ping(1), ping(2), toolCall(3, "hello")]);
    expect(response.status).toBe(200);
    const replies = byId(await messagesOf(response));
    expect(replies.size).toBe(3);
    expect(replies.get(1)).toEqual({ jsonrpc: "2.0", id: 1, result: {} });
    expect(replies.get(2)).toEqual({ jsonrpc: "2.0", id: 2, result: {} });
    expect(replies.get(3)).toMatchObject({ result: { content: [{ text: "hello" }] } });
  });

  it("accepts a batch with the 2025-03-26 header", async () => {
    const response = await post(stateless, [ping(1), ping(2)], {
      "mcp-protocol-version": "2025-03-26",
    });
    expect(response.status).toBe(200);
    expect(byId(await messagesOf(response)).size).toBe(2);
  });

  it.each(["2025-06-18", "2025-11-25"])("rejects a batch with 400 under %s", async (version) => {
    const response = await post(stateless, [ping(1), ping(2)], {
      "mcp-protocol-version": version,
    });
    expect(response.status).toBe(400);
    expect((await response.json()) as Json).toMatchObject({
      jsonrpc: "2.0",
      id: null,
      error: { code: -32600 },
    });
    await expectServes(stateless);
  });

  it("answers each request of a mixed batch, errors included", async () => {
    const response = await post(stateless, [
      { jsonrpc: "2.0", id: "a", method: "no/such" },
      ping("b"),
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: "nobody", result: {} },
    ]);
    expect(response.status).toBe(200);
    const replies = byId(await messagesOf(response));
    expect([...replies.keys()].sort()).toEqual(["a", "b"]);
    expect(replies.get("a")).toMatchObject({ error: { code: -32601 } });
    expect(replies.get("b")).toMatchObject({ result: {} });
  });

  it("answers a batch of notifications and responses only with 202", async () => {
    const response = await post(stateless, [
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: "nobody", result: {} },
    ]);
    expect(response.status).toBe(202);
    expect(await response.text()).toBe("");
  });
});

describe("initialize in a batch", () => {
  it.each([
    ["first", [initializeRequest("2025-03-26"), ping(1)]],
    ["last", [ping(1), initializeRequest("2025-03-26")]],
    ["alone in an array", [initializeRequest("2025-03-26")]],
  ])("is refused with 400 when it comes %s", async (_label, batch) => {
    for (const url of [stateless, stateful]) {
      const response = await post(url, batch);
      expect(response.status).toBe(400);
      expect(response.headers.get("mcp-session-id")).toBeNull();
      expect((await response.json()) as Json).toMatchObject({ error: { code: -32600 } });
    }
    await expectServes(stateless);
  });

  it("leaves no trace when refused: the batch's other messages are not acted on", async () => {
    const { id } = await initSession(stateful, "2025-03-26");
    const headers = sessionHeaders(id, "2025-03-26");
    const running = new SseReader(await post(stateful, toolCall(9, "wait"), headers));
    await running.message(); // the tool's log: it is running
    const refused = await post(
      stateful,
      [
        { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 9 } },
        initializeRequest("2025-03-26"),
      ],
      headers,
    );
    expect(refused.status).toBe(400);
    gate.resolve();
    const result = await running.message();
    expect(result).toMatchObject({ id: 9, result: { content: [{ text: "not aborted" }] } });
  });
});

describe("session batches", () => {
  it("accepts a batch on a session negotiated at 2025-03-26", async () => {
    const { id } = await initSession(stateful, "2025-03-26");
    const response = await post(
      stateful,
      [ping(1), toolCall(2, "hello")],
      sessionHeaders(id, "2025-03-26"),
    );
    expect(response.status).toBe(200);
    const replies = byId(await messagesOf(response));
    expect(replies.get(1)).toMatchObject({ result: {} });
    expect(replies.get(2)).toMatchObject({ result: { content: [{ text: "hello" }] } });
  });

  it("accepts it without the header too, from the negotiated version", async () => {
    const { id } = await initSession(stateful, "2025-03-26");
    const response = await post(stateful, [ping(1), ping(2)], { "mcp-session-id": id });
    expect(response.status).toBe(200);
    expect(byId(await messagesOf(response)).size).toBe(2);
  });

  it.each(["2025-06-18", "2025-11-25"])("rejects a batch on a %s session", async (version) => {
    const { id } = await initSession(stateful, version);
    // Even when the header claims the batching revision: the session's version decides.
    for (const header of [version, "2025-03-26"]) {
      const response = await post(stateful, [ping(1), ping(2)], sessionHeaders(id, header));
      expect(response.status).toBe(400);
      expect((await response.json()) as Json).toMatchObject({ error: { code: -32600 } });
    }
    await expectServes(stateful, sessionHeaders(id, version));
  });
});
