/**
 * Shared pieces of the transport tests: a real McpServer behind mcpApp on loopback, an
 * incremental SSE reader, and a raw node:http client for what fetch cannot send.
 */
import { request as httpRequest } from "node:http";
import { expect } from "vitest";
import {
  type EventStore,
  type McpAppOptions,
  type McpServer,
  mcpApp,
  memoryEventStore,
} from "../../src/index.ts";
import type { JsonRpcMessage } from "../../src/mcp/jsonrpc.ts";
import { deferred } from "../helpers/async.ts";
import { initializeRequest, listen, MCP_HEADERS, messagesOf } from "../helpers/http.ts";

export { deferred, initializeRequest, MCP_HEADERS, messagesOf };

/** Posts one JSON-RPC message (or raw text); `signal` lets a test drop the connection. */
export function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<Response> {
  const init: RequestInit = {
    method: "POST",
    headers: { ...MCP_HEADERS, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  };
  if (signal) init.signal = signal;
  return fetch(url, init);
}

export type Json = Record<string, unknown>;

/** Serves `mcp` with `mcpApp` on loopback and returns the endpoint URL (…/mcp). */
export async function start(mcp: McpServer, options: McpAppOptions = {}): Promise<string> {
  return `${await listen(mcpApp(mcp, options))}/mcp`;
}

/** The headers a request on a session carries. */
export function sessionHeaders(sessionId: string, version = "2025-11-25"): Record<string, string> {
  return { "mcp-session-id": sessionId, "mcp-protocol-version": version };
}

export function toolCall(id: number | string, name: string, args: Json = {}, meta?: Json): Json {
  const params: Json = { name, arguments: args };
  if (meta) params._meta = meta;
  return { jsonrpc: "2.0", id, method: "tools/call", params };
}

export function ping(id: number | string = 1): Json {
  return { jsonrpc: "2.0", id, method: "ping" };
}

/**
 * A memoryEventStore that also lists what was appended, once it is stored: a test waits for
 * a message to reach the store instead of waiting some milliseconds.
 */
export function watchedEventStore(): EventStore & { appended: JsonRpcMessage[] } {
  const inner = memoryEventStore();
  const appended: JsonRpcMessage[] = [];
  return {
    appended,
    async append(streamId, message) {
      const position = await inner.append(streamId, message);
      appended.push(message);
      return position;
    },
    replay: (streamId, after) => inner.replay(streamId, after),
    drop: (streamId) => inner.drop(streamId),
  };
}

/** Opens a session: initialize (with its reply) and notifications/initialized. */
export async function initSession(
  url: string,
  version = "2025-11-25",
  capabilities: Json = {},
): Promise<{ id: string; result: Json }> {
  const response = await post(url, initializeRequest(version, capabilities));
  const id = response.headers.get("mcp-session-id");
  const [message] = (await messagesOf(response)) as Json[];
  if (!id || !message) throw new Error(`no session id (status ${response.status})`);
  await (
    await post(url, { jsonrpc: "2.0", method: "notifications/initialized" }, sessionHeaders(id))
  ).text();
  return { id, result: message.result as Json };
}

/** Opens the session's GET stream. */
export function openGet(
  url: string,
  sessionId: string,
  extra: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<Response> {
  const init: RequestInit = {
    headers: { accept: "text/event-stream", ...sessionHeaders(sessionId), ...extra },
  };
  if (signal) init.signal = signal;
  return fetch(url, init);
}

export interface SseEvent {
  id: string | undefined;
  retry: number | undefined;
  data: string;
  /** The JSON-RPC message in `data`, when there is one. */
  message: Json | undefined;
}

/**
 * Reads an SSE body event by event as it arrives, so a test can answer the server while a
 * stream is still open. `raw` keeps every byte read, comments included.
 */
export class SseReader {
  raw = "";
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #pending = "";
  #ended = false;

  constructor(response: Response) {
    if (!response.body) throw new Error(`no body (status ${response.status})`);
    this.#reader = response.body.getReader();
  }

  get ended(): boolean {
    return this.#ended && !this.#pending.includes("\n\n");
  }

  /** The next block (event or comment) as text; undefined at the end of the stream. */
  async #block(): Promise<string | undefined> {
    for (;;) {
      const end = this.#pending.indexOf("\n\n");
      if (end >= 0) {
        const block = this.#pending.slice(0, end);
        this.#pending = this.#pending.slice(end + 2);
        return block;
      }
      if (this.#ended) return undefined;
      const { done, value } = await this.#reader.read();
      if (done) {
        this.#ended = true;
        continue;
      }
      const text = this.#decoder.decode(value, { stream: true });
      this.raw += text;
      this.#pending += text;
    }
  }

  /** The next event (comments skipped); undefined when the stream ended. */
  async event(): Promise<SseEvent | undefined> {
    for (;;) {
      const block = await this.#block();
      if (block === undefined) return undefined;
      const lines = block.split("\n").filter((line) => !line.startsWith(":"));
      if (lines.length === 0) continue;
      let id: string | undefined;
      let retry: number | undefined;
      const data: string[] = [];
      for (const line of lines) {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "id") id = value;
        else if (field === "retry") retry = Number(value);
        else if (field === "data") data.push(value);
      }
      const text = data.join("\n");
      return { id, retry, data: text, message: text ? (JSON.parse(text) as Json) : undefined };
    }
  }

  /** The next event that carries a message; fails if the stream ends first. */
  async message(): Promise<Json> {
    for (;;) {
      const event = await this.event();
      if (!event) throw new Error(`the stream ended; it carried:\n${this.raw}`);
      if (event.message) return event.message;
    }
  }

  /** Reads messages until one matches; fails if the stream ends first. */
  async until(match: (message: Json) => boolean): Promise<Json> {
    for (;;) {
      const message = await this.message();
      if (match(message)) return message;
    }
  }

  /** Every remaining event, up to the end of the stream. */
  async events(): Promise<SseEvent[]> {
    const events: SseEvent[] = [];
    for (let event = await this.event(); event; event = await this.event()) events.push(event);
    return events;
  }

  /** Every remaining message, up to the end of the stream. */
  async messages(): Promise<Json[]> {
    return (await this.events()).flatMap((event) => (event.message ? [event.message] : []));
  }

  /** Reads until a comment line (": …") has arrived; false if the stream ended first. */
  async comment(): Promise<boolean> {
    for (;;) {
      const block = await this.#block();
      if (block === undefined) return false;
      if (block.split("\n").some((line) => line.startsWith(":"))) return true;
    }
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => undefined);
  }
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One request over node:http, for what fetch will not do: set Host, or stream a body in
 * chunks of our choosing without Content-Length.
 */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; chunks?: string[] },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { method: options.method ?? "POST", headers: options.headers ?? {} },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          body += chunk;
        });
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
        );
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    for (const chunk of options.chunks ?? []) request.write(chunk);
    request.end();
  });
}

/** Asserts the endpoint still answers an ordinary ping (after something hostile). */
export async function expectServes(url: string, headers: Record<string, string> = {}) {
  const response = await post(url, ping(4242), headers);
  expect(response.status).toBe(200);
  expect(await messagesOf(response)).toEqual([{ jsonrpc: "2.0", id: 4242, result: {} }]);
}
