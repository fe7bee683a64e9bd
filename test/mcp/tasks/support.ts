/**
 * Shared pieces of the task tests: real servers on loopback, clients of both eras speaking
 * raw JSON-RPC over HTTP, a webhook receiver, and ways to wait without guessing at time.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll } from "vitest";
import { type McpAppOptions, type McpServer, mcpApp } from "../../../src/index.ts";
import { deferred, eventually } from "../../helpers/async.ts";
import { listen, MCP_HEADERS, messagesOf } from "../../helpers/http.ts";

export { deferred, eventually };

export type Json = Record<string, unknown>;

export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";
export const RELATED_TASK = "io.modelcontextprotocol/related-task";

/** Serves `mcp` on loopback and returns the endpoint URL. */
export async function start(mcp: McpServer, options: McpAppOptions = {}): Promise<string> {
  return `${await listen(mcpApp(mcp, options))}/mcp`;
}

/** One JSON-RPC reply: the HTTP status and the final message. */
export interface Reply {
  status: number;
  body: Json;
}

export function resultOf(reply: Reply): Json {
  if (!reply.body.result) throw new Error(`expected a result: ${JSON.stringify(reply.body)}`);
  return reply.body.result as Json;
}

export function errorOf(reply: Reply): { code: number; message: string; data?: unknown } {
  if (!reply.body.error) throw new Error(`expected an error: ${JSON.stringify(reply.body)}`);
  return reply.body.error as { code: number; message: string; data?: unknown };
}

async function replyOf(response: Response): Promise<Reply> {
  if (response.status === 202) return { status: 202, body: {} };
  const messages = (await messagesOf(response)) as Json[];
  return { status: response.status, body: messages.at(-1) ?? {} };
}

let nextId = 1;

/** A 2025-11-25 client: a session on the endpoint, opened with initialize. */
export class SessionClient {
  readonly url: string;
  readonly sessionId: string;
  readonly initializeResult: Json;
  readonly #headers: Record<string, string>;

  private constructor(
    url: string,
    sessionId: string,
    result: Json,
    headers: Record<string, string>,
  ) {
    this.url = url;
    this.sessionId = sessionId;
    this.initializeResult = result;
    this.#headers = headers;
  }

  static async open(
    url: string,
    options: { version?: string; capabilities?: Json; token?: string } = {},
  ): Promise<SessionClient> {
    const version = options.version ?? "2025-11-25";
    const auth: Record<string, string> = options.token
      ? { authorization: `Bearer ${options.token}` }
      : {};
    const response = await fetch(url, {
      method: "POST",
      headers: { ...MCP_HEADERS, ...auth },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: {
          protocolVersion: version,
          capabilities: options.capabilities ?? {},
          clientInfo: { name: "task-test", version: "1.0.0" },
        },
      }),
    });
    const sessionId = response.headers.get("mcp-session-id");
    const [message] = (await messagesOf(response)) as Json[];
    if (!sessionId || !message) throw new Error(`no session (status ${response.status})`);
    const headers = { "mcp-session-id": sessionId, "mcp-protocol-version": version, ...auth };
    const client = new SessionClient(url, sessionId, message.result as Json, headers);
    await client.post({ jsonrpc: "2.0", method: "notifications/initialized" });
    return client;
  }

  get headers(): Record<string, string> {
    return { ...MCP_HEADERS, ...this.#headers };
  }

  post(message: Json, signal?: AbortSignal): Promise<Response> {
    const init: RequestInit = {
      method: "POST",
      headers: this.headers,
      body: JSON.stringify(message),
    };
    if (signal) init.signal = signal;
    return fetch(this.url, init);
  }

  async request(method: string, params?: Json): Promise<Reply> {
    const message: Json = { jsonrpc: "2.0", id: nextId++, method };
    if (params) message.params = params;
    return replyOf(await this.post(message));
  }

  /** Opens the session's GET stream. */
  openGet(signal?: AbortSignal): Promise<Response> {
    const init: RequestInit = {
      headers: { ...this.#headers, accept: "text/event-stream" },
    };
    if (signal) init.signal = signal;
    return fetch(this.url, init);
  }

  /** Ends the session, as a client that goes away for good. */
  async close(): Promise<void> {
    await fetch(this.url, { method: "DELETE", headers: this.#headers });
  }
}

/** A 2026-07-28 client: every request stands alone, with its `_meta` and mirrored headers. */
export class ModernClient {
  readonly url: string;
  readonly #capabilities: Json;
  readonly #name: string;
  readonly #token: string | undefined;

  constructor(url: string, options: { capabilities?: Json; name?: string; token?: string } = {}) {
    this.url = url;
    this.#capabilities = options.capabilities ?? { extensions: { [TASKS_EXTENSION]: {} } };
    this.#name = options.name ?? "modern-task-test";
    this.#token = options.token;
  }

  /** Sends one request; `headers` override the computed ones (undefined removes one). */
  async request(
    method: string,
    params: Json = {},
    headers: Record<string, string | undefined> = {},
  ): Promise<Reply> {
    const name = params.name ?? params.uri ?? params.taskId;
    const all: Record<string, string | undefined> = {
      ...MCP_HEADERS,
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": method,
      ...(typeof name === "string" ? { "mcp-name": name } : {}),
      ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
      ...headers,
    };
    const response = await fetch(this.url, {
      method: "POST",
      headers: Object.fromEntries(
        Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined),
      ),
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: nextId++,
        method,
        params: {
          ...params,
          _meta: {
            ...(params._meta as Json | undefined),
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": this.#capabilities,
            "io.modelcontextprotocol/clientInfo": { name: this.#name, version: "1.0.0" },
          },
        },
      }),
    });
    return replyOf(response);
  }

  /** Polls tasks/get until the task reaches one of `statuses`. */
  async waitFor(taskId: string, ...statuses: string[]): Promise<Json> {
    const reply = await eventually(
      () => this.request("tasks/get", { taskId }),
      (r) => statuses.includes(String((r.body.result as Json | undefined)?.status)),
    );
    return resultOf(reply);
  }
}

/** One webhook delivery as the receiver saw it. */
export interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  /** Whether the signature checked out against the secret, computed here independently. */
  verified: boolean;
}

/**
 * A webhook endpoint on 127.0.0.1 that checks Standard Webhooks signatures itself (node:crypto,
 * not our signing code) and answers with the statuses it is given, in turn (then 200).
 */
export async function webhookReceiver(
  secret: string,
  statuses: number[] = [],
): Promise<{ url: string; deliveries: Delivery[]; next: () => Promise<Delivery> }> {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const deliveries: Delivery[] = [];
  const waiting: Array<(delivery: Delivery) => void> = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const id = String(request.headers["webhook-id"]);
      const timestamp = String(request.headers["webhook-timestamp"]);
      const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest();
      const verified = String(request.headers["webhook-signature"] ?? "")
        .split(" ")
        .some((signature) => {
          const [version, value = ""] = signature.split(",");
          const given = Buffer.from(value, "base64");
          return (
            version === "v1" && given.length === expected.length && timingSafeEqual(given, expected)
          );
        });
      const delivery = { headers: request.headers, body, verified };
      deliveries.push(delivery);
      response.statusCode = statuses.shift() ?? 200;
      response.end();
      waiting.shift()?.(delivery);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receivers.push(server);
  const { port } = server.address() as AddressInfo;
  let taken = 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    deliveries,
    next: () => {
      const index = taken++;
      const ready = deliveries[index];
      return ready ? Promise.resolve(ready) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

const receivers: Server[] = [];

afterAll(async () => {
  await Promise.all(
    receivers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))),
  );
});

/** A loopback URL nothing listens on: a port that was just free and is closed again. */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/hook`;
}

/** A fresh Standard Webhooks secret. */
export function newSecret(): string {
  return `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
}
