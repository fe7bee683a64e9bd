/** POST basics: Accept, Content-Type, body size, JSON-RPC shapes, 202 for what needs no reply. */
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { McpServer } from "../../src/index.ts";
import {
  expectServes,
  type Json,
  MCP_HEADERS,
  messagesOf,
  ping,
  post,
  rawRequest,
  start,
  toolCall,
} from "./support.ts";

const LIMIT = 1024;

function server(): McpServer {
  const mcp = new McpServer({ name: "post", version: "1.0.0" });
  mcp.tool("echo", { input: z.object({ text: z.string() }) }, ({ text }) => `echo: ${text}`);
  return mcp;
}

/** A ping whose body is exactly `size` bytes long. */
function pingOfSize(size: number): string {
  const base = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping", params: { pad: "" } });
  return base.replace('"pad":""', `"pad":"${"x".repeat(size - base.length)}"`);
}

async function errorBody(response: Response): Promise<Json> {
  expect(response.headers.get("content-type")).toContain("application/json");
  const body = (await response.json()) as Json;
  expect(body.jsonrpc).toBe("2.0");
  return body;
}

let url: string;
let lenientUrl: string;

beforeAll(async () => {
  url = await start(server(), { maxBodyBytes: LIMIT });
  lenientUrl = await start(server(), { lenientAccept: true });
});

describe("Accept", () => {
  it.each([
    ["JSON only", "application/json"],
    ["SSE only", "text/event-stream"],
    ["something else", "text/html"],
    ["JSON and plain text", "application/json, text/plain"],
  ])("answers 406 when Accept is %s", async (_label, accept) => {
    const response = await post(url, ping(), { accept });
    expect(response.status).toBe(406);
    const body = await errorBody(response);
    expect(body.id).toBeNull();
    expect(body.error).toMatchObject({ code: expect.any(Number), message: expect.any(String) });
    await expectServes(url);
  });

  it("answers 406 when Accept is missing", async () => {
    // fetch adds "Accept: */*" on its own; node:http sends only what it is given.
    const response = await rawRequest(url, {
      headers: { "content-type": "application/json" },
      chunks: [JSON.stringify(ping())],
    });
    expect(response.status).toBe(406);
    expect(JSON.parse(response.body)).toMatchObject({ jsonrpc: "2.0", id: null });
    await expectServes(url);
  });

  it("treats */* as accepting both types", async () => {
    const response = await post(url, ping(6), { accept: "*/*" });
    expect(response.status).toBe(200);
    expect(await messagesOf(response)).toEqual([{ jsonrpc: "2.0", id: 6, result: {} }]);
  });

  it("accepts both types with parameters and in either order", async () => {
    const response = await post(url, ping(7), {
      accept: "text/event-stream;q=0.9, application/json;q=1",
    });
    expect(response.status).toBe(200);
    expect(await messagesOf(response)).toEqual([{ jsonrpc: "2.0", id: 7, result: {} }]);
  });

  it("with lenientAccept, answers JSON-only clients with JSON", async () => {
    const response = await post(lenientUrl, ping(8), { accept: "application/json" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(await response.json()).toEqual({ jsonrpc: "2.0", id: 8, result: {} });
  });

  it("with lenientAccept, answers SSE-only clients with SSE", async () => {
    const response = await post(lenientUrl, ping(9), { accept: "text/event-stream" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    expect(await messagesOf(response)).toEqual([{ jsonrpc: "2.0", id: 9, result: {} }]);
  });

  it("with lenientAccept, answers a client that sends no Accept at all", async () => {
    const response = await rawRequest(lenientUrl, {
      headers: { "content-type": "application/json" },
      chunks: [JSON.stringify(ping(10))],
    });
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ jsonrpc: "2.0", id: 10, result: {} });
  });
});

describe("Content-Type", () => {
  it("answers 415 to text/plain", async () => {
    const response = await post(url, ping(), { "content-type": "text/plain" });
    expect(response.status).toBe(415);
    expect((await errorBody(response)).id).toBeNull();
    await expectServes(url);
  });

  it("answers 415 when Content-Type is missing", async () => {
    // A byte body makes fetch send no Content-Type of its own.
    const response = await fetch(url, {
      method: "POST",
      headers: { accept: MCP_HEADERS.accept },
      body: new TextEncoder().encode(JSON.stringify(ping())),
    });
    expect(response.status).toBe(415);
    await expectServes(url);
  });

  it("accepts application/json with a charset", async () => {
    const response = await post(url, ping(3), {
      "content-type": "application/json; charset=utf-8",
    });
    expect(response.status).toBe(200);
    expect(await messagesOf(response)).toEqual([{ jsonrpc: "2.0", id: 3, result: {} }]);
  });
});

describe("body size", () => {
  it("accepts a body of exactly maxBodyBytes", async () => {
    const body = pingOfSize(LIMIT);
    expect(new TextEncoder().encode(body).length).toBe(LIMIT);
    const response = await post(url, body);
    expect(response.status).toBe(200);
    expect(await messagesOf(response)).toEqual([{ jsonrpc: "2.0", id: 1, result: {} }]);
  });

  it("answers 413 to a body one byte over, declared with Content-Length", async () => {
    const response = await post(url, pingOfSize(LIMIT + 1));
    expect(response.status).toBe(413);
    expect(response.headers.get("connection")).toBe("close");
    const body = await errorBody(response);
    expect(body.id).toBeNull();
    expect(body.error).toMatchObject({ message: expect.stringContaining(String(LIMIT)) });
    await expectServes(url);
  });

  it("answers 413 to a chunked body without Content-Length that grows past the limit", async () => {
    const text = pingOfSize(LIMIT * 3);
    const chunks = [text.slice(0, LIMIT), text.slice(LIMIT, LIMIT * 2), text.slice(LIMIT * 2)];
    const response = await rawRequest(url, { headers: MCP_HEADERS, chunks });
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body)).toMatchObject({ jsonrpc: "2.0", id: null });
    // The unread rest of the body must not be taken for the next request on the connection.
    expect(response.headers.connection).toBe("close");
    await expectServes(url);
  });

  it("reads a chunked body under the limit", async () => {
    const text = JSON.stringify(toolCall(5, "echo", { text: "in pieces" }));
    const chunks = [text.slice(0, 10), text.slice(10, 30), text.slice(30)];
    const response = await rawRequest(url, { headers: MCP_HEADERS, chunks });
    expect(response.status).toBe(200);
    const messages = (await messagesOf(
      new Response(response.body, {
        headers: { "content-type": String(response.headers["content-type"]) },
      }),
    )) as Json[];
    expect(messages.at(-1)).toMatchObject({
      id: 5,
      result: { content: [{ type: "text", text: "echo: in pieces" }] },
    });
  });
});

describe("JSON-RPC shapes", () => {
  it.each([
    ["truncated JSON", '{"jsonrpc":"2.0","id":1,"method":"ping"'],
    ["not JSON at all", "hello"],
    ["an empty body", ""],
    ["a trailing comma", '{"jsonrpc":"2.0","id":1,"method":"ping",}'],
  ])("answers 400 with -32700 and id null to %s", async (_label, body) => {
    const response = await post(url, body);
    expect(response.status).toBe(400);
    const reply = await errorBody(response);
    expect(reply.id).toBeNull();
    expect(reply.error).toMatchObject({ code: -32700 });
    await expectServes(url);
  });

  it.each([
    ["jsonrpc missing", { id: 1, method: "ping" }],
    ["jsonrpc 1.0", { jsonrpc: "1.0", id: 1, method: "ping" }],
    ["params an array", { jsonrpc: "2.0", id: 1, method: "ping", params: [1, 2] }],
    ["params a string", { jsonrpc: "2.0", id: 1, method: "ping", params: "x" }],
    ["params null", { jsonrpc: "2.0", id: 1, method: "ping", params: null }],
    ["id an object", { jsonrpc: "2.0", id: { a: 1 }, method: "ping" }],
    ["id a boolean", { jsonrpc: "2.0", id: true, method: "ping" }],
    ["id null", { jsonrpc: "2.0", id: null, method: "ping" }],
    ["method a number", { jsonrpc: "2.0", id: 1, method: 5 }],
    ["an empty object", {}],
    ["an empty batch", []],
    ["a number", 42],
    ["a string", "ping"],
    ["null", null],
    ["a batch of numbers", [1, 2]],
    ["a response with result and error", { jsonrpc: "2.0", id: 1, result: {}, error: {} }],
    ["a response with neither", { jsonrpc: "2.0", id: 1 }],
    ["a response whose result is not an object", { jsonrpc: "2.0", id: 1, result: 5 }],
    ["a response with a malformed error", { jsonrpc: "2.0", id: 1, error: { code: "x" } }],
    ["a batch with one bad message", [ping(1), { jsonrpc: "2.0", id: 2 }]],
  ])("answers 400 with -32600 to %s", async (_label, body) => {
    const response = await post(url, JSON.stringify(body));
    expect(response.status).toBe(400);
    const reply = await errorBody(response);
    expect(reply.error).toMatchObject({ code: -32600 });
    await expectServes(url);
  });

  it("echoes a usable id in a -32600 reply and null otherwise", async () => {
    const usable = await post(url, { id: 77, method: "ping" });
    expect(usable.status).toBe(400);
    expect((await usable.json()) as Json).toMatchObject({ id: 77, error: { code: -32600 } });
    const unusable = await post(url, { jsonrpc: "2.0", id: [1], method: "ping" });
    expect(unusable.status).toBe(400);
    expect((await unusable.json()) as Json).toMatchObject({ id: null, error: { code: -32600 } });
  });

  it.each(["no/such/method", "__proto__", "constructor", "toString", "hasOwnProperty"])(
    "answers an unknown method (%s) with -32601 in a 200 reply",
    async (method) => {
      const response = await post(url, { jsonrpc: "2.0", id: "m", method });
      expect(response.status).toBe(200);
      const messages = (await messagesOf(response)) as Json[];
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatchObject({ jsonrpc: "2.0", id: "m", error: { code: -32601 } });
      await expectServes(url);
    },
  );

  it("keeps string and number ids as sent", async () => {
    const a = await messagesOf(await post(url, ping("abc")));
    const b = await messagesOf(await post(url, ping(0)));
    expect(a).toEqual([{ jsonrpc: "2.0", id: "abc", result: {} }]);
    expect(b).toEqual([{ jsonrpc: "2.0", id: 0, result: {} }]);
  });
});

describe("messages that need no reply", () => {
  it("answers a notification with 202 and an empty body", async () => {
    const response = await post(url, { jsonrpc: "2.0", method: "notifications/initialized" });
    expect(response.status).toBe(202);
    expect(await response.text()).toBe("");
  });

  it("answers an unknown notification with 202 too", async () => {
    const response = await post(url, { jsonrpc: "2.0", method: "notifications/whatever" });
    expect(response.status).toBe(202);
    expect(await response.text()).toBe("");
  });

  it("answers a response nobody waits for with 202 and an empty body", async () => {
    const success = await post(url, { jsonrpc: "2.0", id: "nobody", result: {} });
    expect(success.status).toBe(202);
    expect(await success.text()).toBe("");
    const failure = await post(url, {
      jsonrpc: "2.0",
      id: 12,
      error: { code: -32000, message: "no" },
    });
    expect(failure.status).toBe(202);
    expect(await failure.text()).toBe("");
    await expectServes(url);
  });
});
