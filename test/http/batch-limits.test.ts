/**
 * 2025-03-26 batches are bounded: at most `maxBatchMessages` messages (a longer batch is
 * refused whole, nothing in it acted on), and once the replies reach `maxBatchReplyBytes` the
 * requests not yet started are answered with -32600 instead of being run. Each request starts
 * on its own turn of the event loop. Proved by counting handler runs and event-loop turns,
 * never by timing.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { McpServer, StreamableHttpTransport } from "../../src/index.ts";
import { type Json, messagesOf, post, start } from "./support.ts";

const VERSION = { "mcp-protocol-version": "2025-03-26" };
const REPLY_TEXT = 100_000;

function build() {
  const mcp = new McpServer({ name: "batches", version: "1.0.0" });
  const runs = { big: 0, count: 0, turns: [] as number[] };
  mcp.tool("big", {}, () => {
    runs.big++;
    return "x".repeat(REPLY_TEXT);
  });
  mcp.tool("count", {}, () => {
    runs.count++;
    runs.turns.push(turn);
    return "counted";
  });
  return { mcp, runs };
}

/** Event-loop turns so far, counted by a setImmediate chain while a test runs. */
let turn = 0;
let ticking = false;
function tick() {
  if (!ticking) return;
  turn++;
  setImmediate(tick);
}
beforeEach(() => {
  turn = 0;
  ticking = true;
  setImmediate(tick);
});
afterEach(() => {
  ticking = false;
});

const call = (id: number, name: string): Json => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: {} },
});

const batchOf = (count: number, name: string, from = 1): Json[] =>
  Array.from({ length: count }, (_, i) => call(from + i, name));

describe("the message limit", () => {
  it("refuses a batch over maxBatchMessages whole: 400, -32600, nothing run", async () => {
    for (const sessions of [false, true]) {
      const { mcp, runs } = build();
      const url = await start(mcp, { sessions, maxBatchMessages: 5 });
      let headers: Record<string, string> = VERSION;
      if (sessions) {
        const opened = await post(url, {
          jsonrpc: "2.0",
          id: 0,
          method: "initialize",
          params: {
            protocolVersion: "2025-03-26",
            capabilities: {},
            clientInfo: { name: "t", version: "1" },
          },
        });
        await opened.text();
        headers = { ...VERSION, "mcp-session-id": opened.headers.get("mcp-session-id")! };
      }
      const refused = await post(
        url,
        [
          ...batchOf(5, "count"),
          { jsonrpc: "2.0", id: 99, method: "logging/setLevel", params: { level: "error" } },
        ],
        headers,
      );
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual({
        jsonrpc: "2.0",
        id: null,
        error: {
          code: -32600,
          message: "Invalid Request: a batch may hold at most 5 messages",
          data: { maxMessages: 5 },
        },
      });
      expect(runs.count).toBe(0);
      // Exactly at the limit is fine.
      const accepted = await post(url, batchOf(5, "count"), headers);
      expect(accepted.status).toBe(200);
      expect(await messagesOf(accepted)).toHaveLength(5);
      expect(runs.count).toBe(5);
    }
  });

  it("allows 50 messages by default and refuses 51", async () => {
    const { mcp, runs } = build();
    const url = await start(mcp);
    const refused = await post(url, batchOf(51, "count"), VERSION);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({
      error: { code: -32600, data: { maxMessages: 50 } },
    });
    expect(runs.count).toBe(0);
    const accepted = await post(url, batchOf(50, "count"), VERSION);
    expect(await messagesOf(accepted)).toHaveLength(50);
    expect(runs.count).toBe(50);
  });

  it("refuses limits that are not whole numbers of at least 1 at construction", () => {
    const mcp = new McpServer({ name: "x", version: "1" });
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new StreamableHttpTransport(mcp, { maxBatchMessages: bad })).toThrow(
        /maxBatchMessages must be a whole number of at least 1/,
      );
      expect(() => new StreamableHttpTransport(mcp, { maxBatchReplyBytes: bad })).toThrow(
        /maxBatchReplyBytes must be a whole number of at least 1/,
      );
    }
  });
});

describe("the reply budget", () => {
  for (const jsonResponse of [true, false]) {
    it(`stops running a batch's requests once the replies reach the limit (${jsonResponse ? "JSON" : "SSE"} replies)`, async () => {
      const { mcp, runs } = build();
      // Room for three replies of ~100 KB and a bit: the fourth takes it past the limit.
      const limit = 3 * REPLY_TEXT + 50_000;
      const url = await start(mcp, { jsonResponse, maxBatchReplyBytes: limit });
      const response = await post(url, batchOf(40, "big"), VERSION);
      expect(response.status).toBe(200);
      const text = await response.clone().text();
      const replies = (await messagesOf(response)) as Json[];
      // Every request is answered once; only four ran.
      expect(replies.map((reply) => reply.id).sort((a, b) => Number(a) - Number(b))).toEqual(
        Array.from({ length: 40 }, (_, i) => i + 1),
      );
      expect(runs.big).toBe(4);
      const ran = replies.filter((reply) => "result" in reply);
      const refused = replies.filter((reply) => "error" in reply);
      expect(ran.map((reply) => reply.id)).toEqual([1, 2, 3, 4]);
      expect(refused).toHaveLength(36);
      expect(refused[0]).toEqual({
        jsonrpc: "2.0",
        id: 5,
        error: {
          code: -32600,
          message: `Invalid Request: the batch's replies reached ${limit} bytes before this request ran; it was not run, send it again`,
          data: { maxReplyBytes: limit },
        },
      });
      // The reply stays within the limit plus the one reply that crossed it.
      expect(new TextEncoder().encode(text).length).toBeLessThan(limit + REPLY_TEXT + 36 * 300);
    });
  }

  it("counts bytes, not characters: multi-byte text fills the budget sooner", async () => {
    const mcp = new McpServer({ name: "utf8", version: "1.0.0" });
    let runs = 0;
    mcp.tool("wide", {}, () => {
      runs++;
      return "é".repeat(50_000); // 100,000 bytes in UTF-8, 50,000 characters
    });
    const url = await start(mcp, { jsonResponse: true, maxBatchReplyBytes: 150_000 });
    const replies = (await messagesOf(await post(url, batchOf(10, "wide"), VERSION))) as Json[];
    expect(runs).toBe(2);
    expect(replies.filter((reply) => "error" in reply)).toHaveLength(8);
  });

  it("lets a single request's reply through whatever its size", async () => {
    const { mcp, runs } = build();
    const url = await start(mcp, { jsonResponse: true, maxBatchReplyBytes: 1_000 });
    const [reply] = (await messagesOf(await post(url, call(1, "big"), VERSION))) as Json[];
    expect(reply).toMatchObject({ id: 1, result: { content: [{ type: "text" }] } });
    expect(runs.big).toBe(1);
  });
});

describe("turns of the event loop", () => {
  it("starts each request of a batch on a later turn than the one before", async () => {
    const { mcp, runs } = build();
    const url = await start(mcp, { jsonResponse: true });
    const replies = (await messagesOf(await post(url, batchOf(20, "count"), VERSION))) as Json[];
    expect(replies).toHaveLength(20);
    expect(runs.turns).toHaveLength(20);
    // Other work (here a setImmediate chain; in a server, other connections) ran in between.
    for (let i = 1; i < runs.turns.length; i++) {
      expect(runs.turns[i]!).toBeGreaterThan(runs.turns[i - 1]!);
    }
  });
});
