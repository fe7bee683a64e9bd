/**
 * Shared pieces of the client tests: our real server on loopback in each transport mode, a
 * server with one of everything, and a raw Hono "fake" for servers that misbehave.
 */
import { Hono } from "hono";
import { z } from "zod";
import { McpClient, type McpClientOptions } from "../../src/client/index.ts";
import {
  type Context,
  type McpAppOptions,
  McpServer,
  type McpServerOptions,
  mcpApp,
  memoryEventStore,
  ToolError,
} from "../../src/index.ts";
import { deferred, sleep } from "../helpers/async.ts";
import { listen } from "../helpers/http.ts";

export type Json = Record<string, unknown>;

/** The transport modes of our server the client must handle, in either era. */
export interface Mode {
  name: string;
  options: () => McpAppOptions;
  sessions: boolean;
  /** Replies to POSTs come as SSE (else one JSON body). */
  sse: boolean;
  /** The client speaks 2026-07-28 (found by its default probe) rather than 2025-11-25. */
  modern: boolean;
  /** Client options that put the client in this mode's era. */
  client: Partial<McpClientOptions>;
}

/** 2025-11-25 modes: the client is told to speak it, so our dual-era server serves sessions. */
export const LEGACY_MODES: Mode[] = [
  { name: "stateless SSE", options: () => ({}), sessions: false, sse: true },
  {
    name: "stateful SSE + event store",
    options: () => ({ sessions: true, eventStore: memoryEventStore() }),
    sessions: true,
    sse: true,
  },
  { name: "stateless JSON", options: () => ({ jsonResponse: true }), sessions: false, sse: false },
  {
    name: "stateful JSON",
    options: () => ({ sessions: true, jsonResponse: true }),
    sessions: true,
    sse: false,
  },
].map((mode) => ({ ...mode, modern: false, client: { protocolVersion: "2025-11-25" } }));

/** 2026-07-28 modes: the client's default, which finds our server speaks it. */
export const MODERN_MODES: Mode[] = [
  { name: "2026-07-28 SSE", options: () => ({}), sse: true },
  { name: "2026-07-28 JSON", options: () => ({ jsonResponse: true }), sse: false },
].map((mode) => ({ ...mode, sessions: false, modern: true, client: {} }));

export const MODES: Mode[] = [...LEGACY_MODES, ...MODERN_MODES];

/** Serves an McpServer with `mcpApp` on loopback; returns the endpoint URL. */
export async function serve(mcp: McpServer, options: McpAppOptions = {}): Promise<string> {
  return `${await listen(mcpApp(mcp, options))}/mcp`;
}

/** A client with a recorder for warnings; options override the defaults. */
export function client(options: Partial<McpClientOptions> = {}): {
  client: McpClient;
  warnings: { code: string; message: string }[];
} {
  const warnings: { code: string; message: string }[] = [];
  const made = new McpClient({
    name: "test-client",
    version: "1.0.0",
    onWarning: (warning) => warnings.push(warning),
    ...options,
  });
  return { client: made, warnings };
}

/** What the rich server's handlers saw, for tests to check. */
export interface Seen {
  /** Resolves with the reason when the `wait` tool's ctx.signal aborts. */
  aborted: ReturnType<typeof deferred<string>>;
  /** Resolves once the `wait` tool runs. */
  started: ReturnType<typeof deferred<void>>;
  contexts: Context[];
}

/** A server with one of everything the client can call. */
export function richServer(options: Partial<McpServerOptions> = {}): {
  mcp: McpServer;
  seen: Seen;
} {
  const mcp = new McpServer({
    name: "rich",
    version: "2.0.0",
    instructions: "Be brief.",
    ...options,
  });
  const seen: Seen = { aborted: deferred<string>(), started: deferred(), contexts: [] };

  mcp.tool(
    "echo",
    { description: "Echoes text", input: z.object({ text: z.string() }) },
    ({ text }) => `echo: ${text}`,
  );
  mcp.tool(
    "add",
    {
      input: z.object({ a: z.number(), b: z.number() }),
      output: z.object({ sum: z.number() }),
    },
    ({ a, b }) => ({ sum: a + b }),
  );
  mcp.tool("fail", {}, () => {
    throw new ToolError("the tool broke");
  });
  mcp.tool(
    "progress",
    { input: z.object({ steps: z.number().int(), delayMs: z.number().default(0) }) },
    async ({ steps, delayMs }, ctx) => {
      for (let i = 1; i <= steps; i++) {
        await ctx.progress(i, steps, `step ${i}`);
        if (delayMs) await sleep(delayMs);
      }
      return `did ${steps} steps`;
    },
  );
  mcp.tool("wait", {}, async (_args, ctx) => {
    seen.contexts.push(ctx);
    // Start the reply stream, so the client has headers before it cancels.
    await ctx.progress(0, 1, "waiting");
    ctx.log.info("waiting");
    seen.started.resolve();
    await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
    const reason: unknown = ctx.signal.reason;
    seen.aborted.resolve(reason instanceof Error ? reason.message : String(reason));
    return "stopped";
  });
  mcp.tool("log", {}, (_args, ctx) => {
    ctx.log.debug("debug line", "rich");
    ctx.log.info({ said: "info line" }, "rich");
    return "logged";
  });
  mcp.tool("ask_name", {}, async (_args, ctx) => {
    const answer = await ctx.elicit({
      message: "What is your name?",
      schema: z.object({ name: z.string() }),
    });
    return answer.action === "accept" ? `Hello, ${answer.content.name}!` : `(${answer.action})`;
  });
  mcp.tool("ask_url", {}, async (_args, ctx) => {
    const answer = await ctx.elicit({
      mode: "url",
      message: "Sign in",
      url: "https://example.com/x",
    });
    return `url: ${answer.action}`;
  });
  mcp.tool("sample", { input: z.object({ prompt: z.string() }) }, async ({ prompt }, ctx) => {
    const reply = await ctx.sample({
      messages: [{ role: "user", content: { type: "text", text: prompt } }],
      maxTokens: 50,
    });
    const content = reply.content as Json;
    return `${reply.model} said ${String(content.text)}`;
  });
  mcp.tool("roots", {}, async (_args, ctx) => {
    const roots = await ctx.listRoots();
    return roots.map((root) => root.uri).join(",");
  });

  mcp.resource("notes://readme", { name: "readme", mimeType: "text/markdown" }, () => "# Read me");
  mcp.resource(
    "bin://logo",
    { name: "logo", mimeType: "image/png" },
    () => new Uint8Array([137, 80, 78, 71]),
  );
  mcp.resource(
    "notes://{id}",
    {
      name: "note",
      mimeType: "text/plain",
      complete: { id: (value) => ["alpha", "beta", "gamma"].filter((id) => id.startsWith(value)) },
      list: () => [
        { uri: "notes://alpha", name: "alpha" },
        { uri: "notes://beta", name: "beta" },
      ],
    },
    ({ id }) => `note ${id}`,
  );
  mcp.prompt(
    "greet",
    {
      description: "Greets someone",
      args: z.object({ name: z.string() }),
      complete: { name: (value) => ["Ada", "Alan"].filter((name) => name.startsWith(value)) },
    },
    ({ name }) => [{ role: "user", content: `Say hello to ${name}` }],
  );
  return { mcp, seen };
}

/** One request the fake server took. */
export interface FakeRequest {
  method: string;
  message: Json;
  headers: Headers;
}

export type FakeAnswer = (request: FakeRequest) => Response | Json | undefined;

const INIT_RESULT = {
  protocolVersion: "2025-11-25",
  capabilities: { tools: {} },
  serverInfo: { name: "fake", version: "0.0.0" },
};

/**
 * A hand-written server on Hono that answers initialize and notifications like a plain
 * stateless server and everything else as `answer` says: a Response, a result object, or
 * undefined for "method not found".
 */
export async function fakeServer(
  answer: FakeAnswer,
  options: { get?: (request: Request) => Response } = {},
): Promise<{ url: string; requests: FakeRequest[]; gets: Headers[] }> {
  const gets: Headers[] = [];
  const requests: FakeRequest[] = [];
  const app = new Hono();
  app.post("/mcp", async (c) => {
    const message = (await c.req.json()) as Json;
    const request: FakeRequest = {
      method: String(message.method ?? "(reply)"),
      message,
      headers: c.req.raw.headers,
    };
    requests.push(request);
    const answered = answer(request);
    if (answered instanceof Response) return answered;
    if (answered !== undefined) return c.json({ jsonrpc: "2.0", id: message.id, result: answered });
    if (message.method === "initialize") {
      return c.json({ jsonrpc: "2.0", id: message.id, result: INIT_RESULT });
    }
    if (!("id" in message)) return c.body(null, 202);
    return c.json({
      jsonrpc: "2.0",
      id: message.id,
      error: { code: -32601, message: "Method not found" },
    });
  });
  app.get("/mcp", (c) => {
    gets.push(c.req.raw.headers);
    return options.get ? options.get(c.req.raw) : c.body(null, 405);
  });
  app.delete("/mcp", (c) => c.body(null, 405));
  return { url: `${await listen(app)}/mcp`, requests, gets };
}

/** An SSE body from events given as text; the stream stays open while `open` is true. */
export function sseResponse(
  events: string[],
  options: { open?: boolean; onCancel?: () => void } = {},
): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const event of events) controller.enqueue(encoder.encode(event));
      if (!options.open) controller.close();
    },
    cancel() {
      options.onCancel?.();
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
}

export function rpcResult(id: unknown, result: Json): string {
  return JSON.stringify({ jsonrpc: "2.0", id, result });
}

/** One HTTP request the client made, as a recording fetch saw it. */
export interface FetchCall {
  method: string;
  headers: Headers;
  body: string | undefined;
  status?: number;
  /** The reply's body, when asked for (`replies: true`). */
  reply?: Promise<string>;
}

/**
 * The global fetch, recording what the client sends: a window on the client's own HTTP for
 * assertions, passing everything through unchanged. With `replies`, each reply's body is kept
 * too (read from a copy, which holds the connection open until the server ends the reply: not
 * for tests that close streams early).
 */
export function recordingFetch(options: { replies?: boolean } = {}): {
  fetch: typeof fetch;
  calls: FetchCall[];
} {
  const calls: FetchCall[] = [];
  const recording = async (input: string | URL | Request, init?: RequestInit) => {
    const call: FetchCall = {
      method: init?.method ?? "GET",
      headers: new Headers(init?.headers),
      body: typeof init?.body === "string" ? init.body : undefined,
    };
    calls.push(call);
    const response = await fetch(input, init);
    call.status = response.status;
    if (options.replies) {
      const reply = response.clone().text();
      // A reply the client aborts (on close) is of no interest: no unhandled rejection.
      reply.catch(() => undefined);
      call.reply = reply;
    }
    return response;
  };
  return { fetch: recording as typeof fetch, calls };
}

/** The JSON-RPC message a recorded POST carried. */
export function bodyOf(call: FetchCall): Json {
  return JSON.parse(call.body ?? "null") as Json;
}

/** The JSON-RPC methods of the recorded POSTs, in order. */
export function methodsOf(calls: FetchCall[]): string[] {
  return calls
    .filter((call) => call.method === "POST")
    .map((call) => String(bodyOf(call).method ?? "(reply)"));
}

/** A DiscoverResult of a 2026-07-28 server, for fake servers. */
export function discoverResult(overrides: Json = {}): Json {
  return {
    resultType: "complete",
    supportedVersions: ["2026-07-28"],
    capabilities: { tools: {} },
    _meta: { "io.modelcontextprotocol/serverInfo": { name: "fake-modern", version: "0.0.0" } },
    ...overrides,
  };
}

/** Whether the recorded calls include an open GET stream (a GET answered 200). */
export function getStreamOpen(calls: FetchCall[]): boolean {
  return calls.some((call) => call.method === "GET" && call.status === 200);
}

/** Every item of an async iterable, in order. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}
