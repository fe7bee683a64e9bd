/** Hostile and careless clients: the server refuses cleanly and keeps serving everyone else. */
import { connect } from "node:net";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { McpServer } from "../../src/index.ts";
import {
  expectServes,
  initSession,
  type Json,
  MCP_HEADERS,
  messagesOf,
  ping,
  post,
  rawRequest,
  sessionHeaders,
  start,
  toolCall,
} from "./support.ts";

function server(): McpServer {
  const mcp = new McpServer({ name: "hostile", version: "1.0.0" });
  mcp.tool("echo", { input: z.object({ text: z.string() }) }, ({ text }) => text);
  mcp.tool("keys", { input: z.record(z.string(), z.unknown()) }, (args) =>
    Object.keys(args).sort().join(","),
  );
  return mcp;
}

let url: string;
let stateful: string;
let limited: string;

beforeAll(async () => {
  url = await start(server());
  stateful = await start(server(), { sessions: true });
  limited = await start(server(), { maxBodyBytes: 64 * 1024 });
});

/** Writes raw bytes on a socket and returns what came back before the server closed it. */
function rawSocket(target: string, bytes: string, end = true): Promise<string> {
  const { hostname, port } = new URL(target);
  return new Promise((resolve) => {
    let received = "";
    const socket = connect(Number(port), hostname, () => {
      // Cut off: the bytes are handed to the kernel, then the connection drops without an end.
      if (end) socket.end(bytes);
      else socket.write(bytes, () => socket.destroy());
    });
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      received += chunk;
    });
    socket.on("close", () => resolve(received));
    socket.on("error", () => resolve(received));
  });
}

describe("malformed bodies", () => {
  it.each([
    ["deeply nested arrays", "[".repeat(60_000) + "]".repeat(60_000)],
    ["deeply nested objects", `${'{"a":'.repeat(30_000)}1${"}".repeat(30_000)}`],
    ["an infinite id", '{"jsonrpc":"2.0","id":1e400,"method":"ping"}'],
    ["a lone BOM", "\uFEFF"],
    ["NUL bytes", "\u0000\u0000\u0000"],
    ["a lone surrogate", '{"jsonrpc":"2.0","id":"\\ud800","method":"\\udfff"}'],
  ])("refuses or answers %s and keeps serving", async (_label, body) => {
    const response = await post(limited, body);
    expect([200, 400, 413]).toContain(response.status);
    if (response.status !== 200) {
      expect((await response.json()) as Json).toMatchObject({ jsonrpc: "2.0" });
    } else {
      await response.text();
    }
    await expectServes(limited);
  });

  it("answers deeply nested tool arguments without falling over", async () => {
    const nested = `${'{"a":'.repeat(5_000)}1${"}".repeat(5_000)}`;
    const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x","deep":${nested}}}}`;
    const response = await post(url, body);
    expect(response.status).toBe(200);
    const messages = (await messagesOf(response)) as Json[];
    expect(messages.at(-1)).toMatchObject({ id: 1 });
    await expectServes(url);
  });

  it("refuses invalid UTF-8 bytes as a parse error or a shape error", async () => {
    const bytes = new Uint8Array([0x7b, 0xff, 0xfe, 0x22, 0x7d]);
    const response = await fetch(url, { method: "POST", headers: MCP_HEADERS, body: bytes });
    expect(response.status).toBe(400);
    expect((await response.json()) as Json).toMatchObject({ id: null, error: { code: -32700 } });
    await expectServes(url);
  });

  it("answers a huge unknown method name with -32601", async () => {
    const method = "m".repeat(32 * 1024);
    const response = await post(url, { jsonrpc: "2.0", id: 1, method });
    expect(response.status).toBe(200);
    const [reply] = (await messagesOf(response)) as Json[];
    expect(reply).toMatchObject({ id: 1, error: { code: -32601 } });
    await expectServes(url);
  });
});

describe("prototype pollution", () => {
  it("does not let __proto__ in params or arguments reach Object.prototype", async () => {
    const body =
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"__proto__":{"polluted":1},' +
      '"name":"keys","arguments":{"__proto__":{"polluted":2},"constructor":{"prototype":{"polluted":3}},"x":1}}}';
    const response = await post(url, body);
    expect(response.status).toBe(200);
    const messages = (await messagesOf(response)) as Json[];
    expect(messages.at(-1)).toMatchObject({ id: 1 });
    expect(({} as Json).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty("polluted");
  });

  it.each(["__proto__", "constructor", "toString"])(
    "treats a tool named %s as unknown",
    async (name) => {
      const [reply] = (await messagesOf(await post(url, toolCall(1, name)))) as Json[];
      expect(reply).toMatchObject({ id: 1, error: { code: -32602 } });
    },
  );
});

describe("broken connections", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("survives a client that sends half a body and hangs up, quietly", async () => {
    // A client hanging up is routine: it must not put a stack trace in the server's log.
    const logged = vi.spyOn(console, "error");
    const body = JSON.stringify(toolCall(1, "echo", { text: "never finished" }));
    const head =
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      `Accept: application/json, text/event-stream\r\nContent-Length: ${body.length}\r\n\r\n`;
    await rawSocket(url, head + body.slice(0, 20), false);
    await expectServes(url);
    expect(logged).not.toHaveBeenCalled();
  });

  it("survives a client that declares more body than it sends", async () => {
    const head =
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      `Accept: application/json, text/event-stream\r\nContent-Length: 500\r\n\r\n{"jsonrpc":"2.0"`;
    await rawSocket(url, head);
    await expectServes(url);
  });

  it("answers garbage that is not HTTP without affecting others", async () => {
    const reply = await rawSocket(url, "HELLO\r\n\r\n");
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    await expectServes(url);
  });

  it("survives many clients that drop their connection at once", async () => {
    const drops = Array.from({ length: 20 }, async (_, i) => {
      const controller = new AbortController();
      const pending = post(url, toolCall(i, "echo", { text: "x" }), {}, controller.signal);
      controller.abort();
      await pending.catch(() => undefined);
    });
    await Promise.all(drops);
    await expectServes(url);
  });
});

describe("volume", () => {
  it("answers a batch at the limit, every request with its own reply; refuses a longer one", async () => {
    const batch = Array.from({ length: 50 }, (_, i) => ping(i));
    const response = await post(url, batch);
    expect(response.status).toBe(200);
    const replies = (await messagesOf(response)) as Json[];
    expect(replies).toHaveLength(50);
    expect(new Set(replies.map((reply) => reply.id)).size).toBe(50);
    const refused = await post(
      url,
      Array.from({ length: 2_000 }, (_, i) => ping(i)),
    );
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ id: null, error: { code: -32600 } });
    await expectServes(url);
  });

  it("keeps concurrent requests apart: each reply goes to its own request", async () => {
    const calls = Array.from({ length: 50 }, async (_, i) => {
      const response = await post(url, toolCall(`call-${i}`, "echo", { text: `text-${i}` }));
      const messages = (await messagesOf(response)) as Json[];
      return messages.at(-1);
    });
    const replies = await Promise.all(calls);
    replies.forEach((reply, i) => {
      expect(reply).toMatchObject({
        id: `call-${i}`,
        result: { content: [{ text: `text-${i}` }] },
      });
    });
  });
});

describe("session abuse", () => {
  it("answers a huge or odd Mcp-Session-Id with 404 and keeps real sessions working", async () => {
    const { id } = await initSession(stateful);
    for (const bogus of ["x".repeat(4096), id.toUpperCase(), `${id}0`, "../../etc"]) {
      const response = await post(stateful, ping(), sessionHeaders(bogus));
      expect([400, 404]).toContain(response.status);
      await response.text();
    }
    await expectServes(stateful, sessionHeaders(id));
  });

  it("survives notifications/cancelled with odd request ids", async () => {
    const { id } = await initSession(stateful);
    for (const requestId of [{}, null, [1], "nope", 12345]) {
      const response = await post(
        stateful,
        { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId } },
        sessionHeaders(id),
      );
      expect(response.status).toBe(202);
    }
    await expectServes(stateful, sessionHeaders(id));
  });

  it("refuses a response with a non-string id shape sent to a session", async () => {
    const { id } = await initSession(stateful);
    const response = await post(
      stateful,
      { jsonrpc: "2.0", id: { evil: true }, result: {} },
      sessionHeaders(id),
    );
    expect(response.status).toBe(400);
    await response.text();
    await expectServes(stateful, sessionHeaders(id));
  });

  it("survives a flood of initialize without sessions leaking past the cap", async () => {
    const capped = await start(server(), { sessions: { maxSessions: 5 } });
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await initSession(capped)).id);
    let live = 0;
    for (const id of ids) {
      const response = await post(capped, ping(), sessionHeaders(id));
      await response.text();
      if (response.status === 200) live++;
      else expect(response.status).toBe(404);
    }
    expect(live).toBe(5);
  });

  it("rejects a chunked body over the limit on a session too", async () => {
    const small = await start(server(), { sessions: true, maxBodyBytes: 256 });
    const { id } = await initSession(small);
    const response = await rawRequest(small, {
      headers: { ...MCP_HEADERS, ...sessionHeaders(id) },
      chunks: ["[", `${JSON.stringify(ping())},`.repeat(20), `${JSON.stringify(ping())}]`],
    });
    expect(response.status).toBe(413);
    await expectServes(small, sessionHeaders(id));
  });
});
