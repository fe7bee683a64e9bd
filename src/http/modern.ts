import type { Context as HonoContext } from "hono";
import { isObject } from "../mcp/content.ts";
import { statelessEra } from "../mcp/era/index.ts";
import {
  ErrorCode,
  failure,
  isRequest,
  type JsonRpcMessage,
  type JsonRpcRequest,
  type JsonRpcResponse,
  McpError,
} from "../mcp/jsonrpc.ts";
import { openSubscription } from "../mcp/listen.ts";
import {
  checkRequestMeta,
  INPUT_CAPABLE,
  META,
  modernErrorStatus,
  peerFromMeta,
} from "../mcp/modern.ts";
import type { Exchange, Peer } from "../mcp/peer.ts";
import type { McpServer, ServerEvent } from "../mcp/server.ts";
import type { JsonObject } from "../mcp/types.ts";
import type { Guard } from "../resource/guard.ts";
import { checkAccess } from "./access.ts";
import { SSE_HEADERS, SseStream, sseEvent } from "./sse.ts";

const JSON_HEADERS = { "Content-Type": "application/json" };
/** Methods of the tasks extension whose Mcp-Name header carries the task id. */
const TASK_ROUTED = new Set(["tasks/get", "tasks/update", "tasks/cancel"]);
const STARTED = Symbol("started");

function mismatch(message: string): McpError {
  return new McpError(ErrorCode.HeaderMismatch, `Header mismatch: ${message}`);
}

/** What a plain header value may hold: visible ASCII, space and tab; the rest travels base64. */
const PLAIN = /^[\t -~]*$/;

/**
 * Base64 as RFC 4648 §4 defines it: the standard alphabet, padded to whole quanta. `atob`
 * alone is more forgiving (missing padding, whitespace), and a value it would repair is not
 * what the client was required to send.
 */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes the `=?base64?…?=` sentinel form of a header value; undefined for an invalid one. */
function headerValue(raw: string): string | undefined {
  if (!PLAIN.test(raw)) return undefined;
  if (!raw.startsWith("=?base64?") || !raw.endsWith("?=")) return raw;
  const encoded = raw.slice(9, -2);
  if (!BASE64.test(encoded)) return undefined;
  try {
    const binary = atob(encoded);
    return new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(binary, (ch) => ch.charCodeAt(0)),
    );
  } catch {
    return undefined;
  }
}

/** The argument at a path; only own properties count, so nothing is read off a prototype. */
function valueAt(args: unknown, path: readonly string[]): unknown {
  let node = args;
  for (const key of path) node = isObject(node) && Object.hasOwn(node, key) ? node[key] : undefined;
  return node;
}

/** A number in decimal notation; `Number()` alone would also take "0x2A", "0b1" or "Infinity". */
const DECIMAL = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;

function sameValue(header: string, value: unknown): boolean {
  if (typeof value === "string") return header === value;
  if (typeof value === "boolean") return header === String(value);
  if (typeof value === "number") return DECIMAL.test(header) && Number(header) === value;
  return false;
}

/** Builds the error reply of a 2026-07-28 request: its JSON-RPC error with the status its code calls for. */
function errorReply(
  id: JsonRpcRequest["id"] | null,
  error: McpError,
  status: number = modernErrorStatus(error.code),
): Response {
  return new Response(JSON.stringify(failure(id, error)), { status, headers: JSON_HEADERS });
}

function noClientRequests(): Promise<never> {
  return Promise.reject(
    new McpError(ErrorCode.InternalError, "2026-07-28 sends no server-to-client requests"),
  );
}

/**
 * The Exchange of a request answered with one JSON body: nothing is sent before the result,
 * and the request ends when its HTTP request does. One small object, nothing made per call.
 */
class JsonExchange implements Exchange {
  readonly peer: Peer;
  readonly http: HonoContext;
  readonly auth: Exchange["auth"];

  constructor(peer: Peer, http: HonoContext, auth: Exchange["auth"]) {
    this.peer = peer;
    this.http = http;
    this.auth = auth;
  }

  get signal(): AbortSignal {
    return this.http.req.raw.signal;
  }

  /** A JSON reply has no stream to carry notifications before it. */
  notify(): void {}

  request(): Promise<never> {
    return noClientRequests();
  }
}

export interface ModernOptions {
  keepAliveMs: number;
  jsonResponse: boolean;
  guard: Guard | undefined;
  /** Where subscriptions hear server events; default the server's own (this instance only). */
  listen?: ((listener: (event: ServerEvent) => void) => () => void) | undefined;
}

/**
 * The Streamable HTTP transport of 2026-07-28: stateless, one POST per request, headers that
 * mirror the body and must agree with it, closing the response stream cancels the request,
 * and `subscriptions/listen` streams for change notifications.
 */
export class ModernHandler {
  readonly #server: McpServer;
  readonly #options: ModernOptions;
  readonly #listeners = new Set<{ close(): void }>();

  constructor(server: McpServer, options: ModernOptions) {
    this.#server = server;
    this.#options = options;
  }

  /** Ends every open subscription gracefully (a completion result, then the stream closes). */
  close(): void {
    for (const listener of [...this.#listeners]) listener.close();
  }

  async handle(c: HonoContext, message: JsonRpcMessage, wantsSse: boolean): Promise<Response> {
    if (!("method" in message)) {
      return errorReply(
        null,
        new McpError(
          ErrorCode.InvalidRequest,
          "Invalid Request: clients do not send responses in 2026-07-28",
        ),
      );
    }
    if (!isRequest(message)) return new Response(null, { status: 202 });
    let peer: Peer;
    try {
      const meta = checkRequestMeta(message.params);
      this.#checkHeaders(c, message, meta);
      peer = peerFromMeta(meta, this.#server.protocolVersions);
    } catch (error) {
      // A malformed envelope, mismatched headers or an unsupported version: all 400.
      return errorReply(message.id, error as McpError, 400);
    }
    if (
      !this.#server.handles(message.method, statelessEra) &&
      message.method !== "subscriptions/listen"
    ) {
      return errorReply(
        message.id,
        new McpError(ErrorCode.MethodNotFound, `Method not found: ${message.method}`),
      );
    }
    const refused = checkAccess(c, this.#options.guard, this.#server, [message]);
    if (refused) return refused;
    const auth = this.#options.guard?.authenticate(c);
    if (message.method === "subscriptions/listen") return this.#listen(message);
    return this.#reply(c, message, peer, auth, wantsSse && !this.#options.jsonResponse);
  }

  /** Header rules of 2026-07-28: every mirrored value present and equal to the body's. */
  #checkHeaders(c: HonoContext, request: JsonRpcRequest, meta: JsonObject): void {
    const params = request.params ?? {};
    const version = c.req.header("mcp-protocol-version");
    if (version === undefined) throw mismatch("the MCP-Protocol-Version header is required");
    if (version !== meta[META.protocolVersion]) {
      throw mismatch(
        `MCP-Protocol-Version ${version} does not match _meta ${String(meta[META.protocolVersion])}`,
      );
    }
    const method = c.req.header("mcp-method");
    if (method === undefined) throw mismatch("the Mcp-Method header is required");
    if (method !== request.method)
      throw mismatch(`Mcp-Method ${method} does not match the body's ${request.method}`);
    if (INPUT_CAPABLE.has(request.method)) {
      const field = request.method === "resources/read" ? "uri" : "name";
      const raw = c.req.header("mcp-name");
      if (raw === undefined) throw mismatch("the Mcp-Name header is required");
      const name = headerValue(raw);
      if (name === undefined || name !== params[field])
        throw mismatch(`Mcp-Name does not match the body's ${field}`);
    }
    if (TASK_ROUTED.has(request.method)) {
      // The tasks extension routes its methods by task id (ext-tasks, "Routing Headers").
      const raw = c.req.header("mcp-name");
      if (raw === undefined) throw mismatch("the Mcp-Name header is required");
      if (headerValue(raw) !== params.taskId)
        throw mismatch("Mcp-Name does not match the body's taskId");
    }
    if (request.method === "tools/call" && typeof params.name === "string") {
      const tool = this.#server.tools.get(params.name);
      for (const param of tool?.headerParams ?? []) {
        const value = valueAt(params.arguments, param.path);
        const raw = c.req.header(`mcp-param-${param.name}`);
        // A recognized header with characters it may not carry is refused even when its
        // argument is absent (streamable-http.mdx, "Server Behavior for Custom Headers").
        const decoded = raw === undefined ? undefined : headerValue(raw);
        if (raw !== undefined && decoded === undefined) {
          throw mismatch(`Mcp-Param-${param.name} is not a valid header value`);
        }
        if (value === undefined || value === null) continue;
        if (decoded === undefined) throw mismatch(`the Mcp-Param-${param.name} header is required`);
        if (!sameValue(decoded, value)) {
          throw mismatch(`Mcp-Param-${param.name} does not match the argument`);
        }
      }
    }
  }

  async #reply(
    c: HonoContext,
    request: JsonRpcRequest,
    peer: Peer,
    auth: Exchange["auth"],
    useSse: boolean,
  ): Promise<Response> {
    if (!useSse) {
      const response = await this.#server.dispatch(request, new JsonExchange(peer, c, auth));
      return this.#complete(response, false, undefined);
    }
    const stream = new SseStream("", { keepAliveMs: this.#options.keepAliveMs });
    // Made when the signal is first asked for, or the stream closes: most calls need neither.
    let cancel: AbortController | undefined;
    const canceller = () => {
      cancel ??= new AbortController();
      return cancel;
    };
    let streaming: () => void = () => {};
    const started = new Promise<typeof STARTED>((resolve) => {
      streaming = () => resolve(STARTED);
    });
    let signal: AbortSignal | undefined;
    const exchange: Exchange = {
      peer,
      // Closing the response stream is the cancellation of the request. Made on first use:
      // AbortSignal.any costs more than many a whole call that never looks at it.
      get signal() {
        signal ??= AbortSignal.any([canceller().signal, c.req.raw.signal]);
        return signal;
      },
      http: c,
      auth,
      notify: (notification) => {
        if (!useSse) return;
        void stream.send(notification);
        streaming();
      },
      request: noClientRequests,
    };
    const done = this.#server.dispatch(request, exchange);
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (useSse && this.#options.keepAliveMs > 0)
      timer = setTimeout(streaming, this.#options.keepAliveMs);
    const first = useSse ? await Promise.race([done, started]) : await done;
    clearTimeout(timer);
    if (first !== STARTED) return this.#complete(first, useSse, stream);
    void done.then(async (response) => {
      if (response) await stream.send(response);
      stream.close();
    });
    return new Response(
      stream.connect("", () =>
        canceller().abort(new McpError(ErrorCode.RequestTimeout, "Client closed the stream")),
      ),
      {
        headers: SSE_HEADERS,
      },
    );
  }

  /** A reply that was ready at once: one body, with the status its outcome calls for. */
  #complete(
    response: JsonRpcResponse | undefined,
    useSse: boolean,
    stream: SseStream | undefined,
  ): Response {
    if (!response) return new Response(null, { status: 202 });
    const status = "error" in response ? modernErrorStatus(response.error.code) : 200;
    if (!useSse || !stream)
      return new Response(JSON.stringify(response), { status, headers: JSON_HEADERS });
    return new Response(stream.takeBuffered() + sseEvent(JSON.stringify(response)), {
      status,
      headers: SSE_HEADERS,
    });
  }

  /** A `subscriptions/listen` stream: acknowledgement first, then the notifications asked for. */
  #listen(request: JsonRpcRequest): Response {
    const stream = new SseStream("", { keepAliveMs: this.#options.keepAliveMs });
    const subscription = openSubscription(
      this.#server,
      request,
      (message) => void stream.send(message),
      this.#options.listen,
    );
    const listener = {
      close: () => {
        end();
        subscription.complete();
        stream.close();
      },
    };
    const end = () => {
      subscription.stop();
      this.#listeners.delete(listener);
    };
    this.#listeners.add(listener);
    return new Response(stream.connect("", end), { headers: SSE_HEADERS });
  }
}
