import { isObject } from "../mcp/content.ts";
import { isRequest, type JsonRpcMessage } from "../mcp/jsonrpc.ts";
import type { Authorizer } from "./auth-seam.ts";
import { TransportError } from "./errors.ts";
import { requestMetadataHeaders } from "./headers.ts";
import { discard, readErrorBody, statusError } from "./http-body.ts";
import { keepGetStream } from "./http-get-stream.ts";
import { receiveReply } from "./http-reply.ts";
import { ACCEPT_BOTH, type HttpContext, HttpSession } from "./http-session.ts";
import { type ReconnectOptions, type ReconnectPolicy, resolveReconnect } from "./reconnect.ts";
import { sameRequestId } from "./request-id.ts";
import type {
  ClientTransport,
  SendOptions,
  SessionSnapshot,
  TransportHandlers,
} from "./transport.ts";

export interface StreamableHttpClientOptions {
  /** The fetch to use (a proxy agent, a test app's fetch). Default: the global fetch. */
  fetch?: typeof fetch;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /** Authorizes requests and handles 401 and 403 (see Authorizer). */
  authorizer?: Authorizer;
  /** Largest message accepted, JSON body or SSE event. Default 16 MiB. */
  maxMessageBytes?: number;
  reconnect?: ReconnectOptions;
  /** Open the GET stream for server-initiated messages once initialized. Default true. */
  listen?: boolean;
  /** Enforce the header rules of StrictOptions.headers. */
  strictHeaders?: boolean;
}

/** Statuses that stay authorization failures whatever their body says. */
const AUTH_STATUS = new Set([401, 403]);

/**
 * The client side of the Streamable HTTP transport: each message is POSTed; replies come as
 * JSON or as an SSE stream read as it arrives. In the 2025 revisions it keeps the
 * Mcp-Session-Id, labels requests with MCP-Protocol-Version, opens the GET stream for
 * server-initiated messages, resumes dropped streams with Last-Event-ID, and DELETEs the
 * session on close. In 2026-07-28 it sends the request metadata headers (MCP-Protocol-Version,
 * Mcp-Method, Mcp-Name and the caller's Mcp-Param-*) with every POST, keeps no session, resumes
 * nothing, and hands the JSON-RPC error of a 400 or 404 reply to the client as the answer.
 */
export class StreamableHttpClientTransport implements ClientTransport {
  readonly url: URL;
  readonly #options: StreamableHttpClientOptions;
  readonly #session: HttpSession;
  readonly #maxBytes: number;
  readonly #reconnect: ReconnectPolicy;
  /** Set by close(), which ends every exchange at once. */
  #closed: TransportError | undefined;
  /**
   * The exchanges in flight, each with a controller made by the send that started it. workerd
   * ties an AbortController to the request that made it, so one made at connect time could not
   * be touched by a later request of a Worker that keeps this transport (the gateway does).
   */
  readonly #exchanges = new Set<AbortController>();
  #handlers: TransportHandlers | undefined;
  /** Ends the GET stream: on reset and on close. */
  #listening: AbortController | undefined;

  constructor(url: string | URL, options: StreamableHttpClientOptions = {}) {
    this.url = new URL(url);
    this.#options = options;
    this.#session = new HttpSession(this.url, options);
    this.#maxBytes = options.maxMessageBytes ?? 16 * 1024 * 1024;
    this.#reconnect = resolveReconnect(options.reconnect);
  }

  get sessionId(): string | undefined {
    return this.#session.sessionId;
  }

  /** What the reply readers and the GET stream share; only once started. */
  get #context(): HttpContext {
    if (!this.#handlers) throw new Error("The transport has not been started");
    return {
      session: this.#session,
      on: this.#handlers,
      maxBytes: this.#maxBytes,
      reconnect: this.#reconnect,
      strictHeaders: this.#options.strictHeaders ?? false,
    };
  }

  async start(handlers: TransportHandlers): Promise<void> {
    if (this.#handlers) throw new Error("A transport carries one connection; make a new one");
    this.#handlers = handlers;
  }

  setProtocolVersion(version: string): void {
    this.#session.setProtocolVersion(version);
  }

  get cancelsByClosing(): boolean {
    return this.#session.modern;
  }

  restore(snapshot: SessionSnapshot): boolean {
    this.#session.restore(snapshot);
    return true;
  }

  reset(): void {
    this.#listening?.abort();
    this.#listening = undefined;
    this.#session.reset();
  }

  async send(message: JsonRpcMessage, options: SendOptions = {}): Promise<void> {
    if (this.#closed) {
      throw new TransportError("ERR_CONNECTION_CLOSED", "The transport is closed");
    }
    const exchange = new AbortController();
    this.#exchanges.add(exchange);
    // Followed by hand, not with AbortSignal.any: Node keeps a composite signal with listeners
    // (fetch adds one) until it aborts, so one per send would stay in memory.
    const { signal } = options;
    const follow = () => exchange.abort(signal?.reason);
    if (signal?.aborted) follow();
    else signal?.addEventListener("abort", follow, { once: true });
    const done = () => {
      signal?.removeEventListener("abort", follow);
      this.#exchanges.delete(exchange);
    };
    let reply: { reading: Promise<void> } | undefined;
    try {
      reply = await this.#exchange(message, options, exchange.signal);
    } finally {
      // An event stream is read on after send() resolves: the exchange lasts as long.
      if (reply) reply.reading.then(done, done);
      else done();
    }
  }

  async #exchange(
    message: JsonRpcMessage,
    options: SendOptions,
    signal: AbortSignal,
  ): Promise<{ reading: Promise<void> } | undefined> {
    const session = this.#session;
    const initialize = isRequest(message) && message.method === "initialize";
    const hadSession = session.sessionId !== undefined;
    const modern = session.modern;
    const headers =
      modern && "method" in message
        ? {
            ...options.headers,
            ...requestMetadataHeaders(message.method, message.params, session.protocolVersion),
          }
        : options.headers;
    const response = await session.request({
      method: "POST",
      body: JSON.stringify(message),
      accept: ACCEPT_BOTH,
      session: !initialize,
      ...(headers && { headers }),
      signal,
      onAuthorizing: options.onAuthorizing,
    });
    if (initialize && response.ok) {
      session.takeSessionId(response);
      this.#context.on.sessionChanged?.({ sessionId: session.sessionId, lastEventId: undefined });
    }
    if (response.status === 404 && hadSession && !initialize) {
      await discard(response);
      throw new TransportError("ERR_SESSION_EXPIRED", "The server no longer knows this session", {
        status: 404,
      });
    }
    const what = "method" in message ? `POST ${message.method}` : "POST";
    if (!response.ok && modern && isRequest(message) && !AUTH_STATUS.has(response.status)) {
      // A 2026-07-28 server answers some errors with 400 or 404 and the JSON-RPC error in the
      // body: that error is the reply. Anything else is the HTTP failure it looks like.
      const body = await readErrorBody(response);
      const json = body.json;
      if (isObject(json) && isObject(json.error) && sameRequestId(json.id, message.id)) {
        this.#context.on.message(json);
        return undefined;
      }
      throw statusError(response, what, body);
    }
    if (!response.ok) throw statusError(response, what, await readErrorBody(response));
    session.checkVersionHeader(response);
    return receiveReply(
      this.#context,
      response,
      isRequest(message) ? message.id : undefined,
      signal,
    );
  }

  listen(): void {
    // 2026-07-28 has no GET stream: change notifications come on subscriptions/listen.
    if (this.#session.modern) return;
    if (this.#options.listen === false || this.#listening || this.#closed) return;
    const controller = new AbortController();
    this.#listening = controller;
    void keepGetStream(this.#context, controller.signal);
  }

  async close(options: { terminate?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    const closed = new TransportError("ERR_CONNECTION_CLOSED", "The transport is closed");
    this.#closed = closed;
    for (const exchange of this.#exchanges) exchange.abort(closed);
    this.#listening?.abort(closed);
    if (options.terminate !== false) await this.#session.terminate();
    this.#handlers?.closed(closed);
  }
}

/** A Streamable HTTP client transport to `url`. */
export function streamableHttp(
  url: string | URL,
  options: StreamableHttpClientOptions = {},
): StreamableHttpClientTransport {
  return new StreamableHttpClientTransport(url, options);
}
