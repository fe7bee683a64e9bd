import { isObject } from "../mcp/content.ts";
import { isRequest, type JsonRpcMessage, type RequestId } from "../mcp/jsonrpc.ts";
import type { Authorizer } from "./auth-seam.ts";
import { TransportError } from "./errors.ts";
import { requestMetadataHeaders } from "./headers.ts";
import {
  discard,
  mediaTypeOf,
  readErrorBody,
  readSse,
  readText,
  sleep,
  statusError,
} from "./http-body.ts";
import { SseParser } from "./sse-parser.ts";
import type {
  ClientTransport,
  SendOptions,
  SessionSnapshot,
  TransportHandlers,
} from "./transport.ts";
import { isModern } from "./versions.ts";

/** How dropped SSE streams are taken up again. */
export interface ReconnectOptions {
  /** Reconnections in a row that bring nothing before giving up. Default 5. */
  maxAttempts?: number;
  /** The first delay when the server sent no `retry`. Default 1000 ms. */
  delayMs?: number;
  /** The longest delay between attempts (they double). Default 30 s. */
  maxDelayMs?: number;
}

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

const ACCEPT_BOTH = "application/json, text/event-stream";
const ACCEPT_SSE = "text/event-stream";
/** Retries after 401/403 per HTTP request, so a confused authorizer cannot loop forever. */
const MAX_AUTH_RETRIES = 3;
const DELETE_TIMEOUT_MS = 5_000;
/** Statuses that stay authorization failures whatever their body says. */
const AUTH_STATUS = new Set([401, 403]);
/** Session ids must be visible ASCII (0x21 to 0x7E). */
const SESSION_ID = /^[\x21-\x7e]+$/;

interface HttpRequest {
  method: "POST" | "GET" | "DELETE";
  body?: string;
  accept?: string;
  /** Send the session id and protocol version (everything but initialize). */
  session: boolean;
  lastEventId?: string | undefined;
  /** Headers of this request alone (2026-07-28 request metadata). */
  headers?: Record<string, string>;
  signal: AbortSignal;
}

function sameId(a: unknown, b: RequestId): boolean {
  return a === b || (typeof a === "string" && a === String(b));
}

/** Whether text starts like an event stream rather than JSON, for servers that mislabel it. */
function looksLikeSse(text: string): boolean {
  return /^(?:data|event|id|retry)?:/.test(text) || /^(?:data|event|id|retry)\r?\n/.test(text);
}

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
  readonly #fetch: typeof fetch;
  readonly #options: StreamableHttpClientOptions;
  readonly #maxBytes: number;
  readonly #reconnect: Required<ReconnectOptions>;
  /** Aborted by close(): ends every exchange at once. */
  readonly #life = new AbortController();
  #handlers: TransportHandlers | undefined;
  #sessionId: string | undefined;
  #protocolVersion: string | undefined;
  /** Speaking 2026-07-28: stateless, with request metadata headers. */
  #modern = false;
  /** Ends the GET stream: on reset and on close. */
  #listening: AbortController | undefined;
  /** The last event id seen on the GET stream. */
  #lastEventId: string | undefined;

  constructor(url: string | URL, options: StreamableHttpClientOptions = {}) {
    this.url = new URL(url);
    this.#options = options;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#maxBytes = options.maxMessageBytes ?? 16 * 1024 * 1024;
    this.#reconnect = {
      maxAttempts: options.reconnect?.maxAttempts ?? 5,
      delayMs: options.reconnect?.delayMs ?? 1_000,
      maxDelayMs: options.reconnect?.maxDelayMs ?? 30_000,
    };
  }

  get sessionId(): string | undefined {
    return this.#sessionId;
  }

  get #on(): TransportHandlers {
    if (!this.#handlers) throw new Error("The transport has not been started");
    return this.#handlers;
  }

  async start(handlers: TransportHandlers): Promise<void> {
    if (this.#handlers) throw new Error("A transport carries one connection; make a new one");
    this.#handlers = handlers;
  }

  setProtocolVersion(version: string): void {
    this.#protocolVersion = version;
    this.#modern = isModern(version);
  }

  get cancelsByClosing(): boolean {
    return this.#modern;
  }

  restore(snapshot: SessionSnapshot): boolean {
    this.#sessionId = snapshot.sessionId;
    this.#protocolVersion = snapshot.protocolVersion;
    this.#lastEventId = snapshot.lastEventId;
    return true;
  }

  reset(): void {
    this.#listening?.abort();
    this.#listening = undefined;
    this.#sessionId = undefined;
    this.#protocolVersion = undefined;
    this.#modern = false;
    this.#lastEventId = undefined;
  }

  async send(message: JsonRpcMessage, options: SendOptions = {}): Promise<void> {
    if (this.#life.signal.aborted) {
      throw new TransportError("ERR_CONNECTION_CLOSED", "The transport is closed");
    }
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.#life.signal])
      : this.#life.signal;
    const initialize = isRequest(message) && message.method === "initialize";
    const hadSession = this.#sessionId !== undefined;
    const modern = this.#modern;
    const headers =
      modern && "method" in message
        ? {
            ...options.headers,
            ...requestMetadataHeaders(message.method, message.params, this.#protocolVersion),
          }
        : options.headers;
    const response = await this.#http({
      method: "POST",
      body: JSON.stringify(message),
      accept: ACCEPT_BOTH,
      session: !initialize,
      ...(headers && { headers }),
      signal,
    });
    if (initialize && response.ok) this.#takeSessionId(response);
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
      if (isObject(body.json) && isObject(body.json.error) && sameId(body.json.id, message.id)) {
        this.#on.message(body.json);
        return;
      }
      throw statusError(response, what, body);
    }
    if (!response.ok) throw statusError(response, what, await readErrorBody(response));
    this.#checkVersionHeader(response);
    await this.#reply(response, isRequest(message) ? message.id : undefined, signal);
  }

  #takeSessionId(response: Response): void {
    const id = response.headers.get("mcp-session-id") ?? undefined;
    if (id !== undefined && this.#options.strictHeaders && !SESSION_ID.test(id)) {
      throw new TransportError("ERR_BAD_HEADER", "The Mcp-Session-Id is not visible ASCII");
    }
    this.#sessionId = id || undefined;
    this.#lastEventId = undefined;
    this.#on.sessionChanged?.({ sessionId: this.#sessionId, lastEventId: undefined });
  }

  #checkVersionHeader(response: Response): void {
    const version = response.headers.get("mcp-protocol-version");
    if (!this.#options.strictHeaders || version === null || this.#protocolVersion === undefined) {
      return;
    }
    if (version !== this.#protocolVersion) {
      throw new TransportError(
        "ERR_BAD_HEADER",
        `The server labelled its reply ${version}, but the negotiated version is ${this.#protocolVersion}`,
      );
    }
  }

  /** Takes the reply to a POST: nothing (202), one JSON body, or an event stream. */
  async #reply(response: Response, id: RequestId | undefined, signal: AbortSignal): Promise<void> {
    if (response.status === 202 || response.status === 204 || !response.body) {
      // Accepted. A request's reply, if any, would come on the GET stream; 2026-07-28 has
      // none, so there the reply is lost.
      await discard(response);
      if (this.#modern && id !== undefined) {
        this.#on.lost(
          id,
          new TransportError(
            "ERR_STREAM_ENDED",
            `The server accepted request ${id} without a reply`,
            { status: response.status },
          ),
        );
      }
      return;
    }
    const kind = mediaTypeOf(response);
    if (kind === "sse") {
      // 2026-07-28 streams cannot be resumed: a broken one loses its request.
      void this.#readReply(response.body, id, signal, !this.#modern);
      return;
    }
    if (kind === undefined && this.#options.strictHeaders) {
      await discard(response);
      throw this.#badContentType(response);
    }
    const text = await readText(response, this.#maxBytes);
    const trimmed = text.trimStart();
    if (trimmed === "" && id === undefined) {
      // An empty 200 for a notification or a reply: nothing to read.
    } else if (kind === "json" || trimmed.startsWith("{") || trimmed.startsWith("[")) {
      if (kind !== "json") this.#mislabelled(response, "JSON");
      this.#deliverJson(trimmed, id);
    } else if (looksLikeSse(trimmed)) {
      this.#mislabelled(response, "an event stream");
      const body = new Blob([text]).stream();
      await this.#readReply(body, id, signal, false);
    } else {
      throw this.#badContentType(response);
    }
  }

  #badContentType(response: Response): TransportError {
    const type = response.headers.get("content-type") ?? "none";
    return new TransportError(
      "ERR_BAD_CONTENT_TYPE",
      `The server replied with Content-Type ${type}, neither application/json nor text/event-stream`,
      { status: response.status },
    );
  }

  #mislabelled(response: Response, what: string): void {
    this.#on.warning?.({
      code: "content_type",
      message: `The server labelled ${what} as ${response.headers.get("content-type") ?? "nothing"}`,
    });
  }

  #deliverJson(text: string, id: RequestId | undefined): void {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (cause) {
      throw new TransportError("ERR_BAD_MESSAGE", "The server's reply is not valid JSON", {
        cause,
      });
    }
    const values = Array.isArray(body) ? body : [body];
    for (const value of values) this.#on.message(value);
    // A JSON body is the whole reply: without the answer in it, none is coming.
    if (id !== undefined) {
      this.#on.lost(
        id,
        new TransportError(
          "ERR_BAD_MESSAGE",
          `The server's JSON reply does not answer request ${id}`,
        ),
      );
    }
  }

  /**
   * Reads the event stream that carries a request's reply, handing every message on. When it
   * ends before the reply and its events had ids, it is resumed with GET and Last-Event-ID,
   * after the server's `retry` delay, a bounded number of times in a row.
   */
  async #readReply(
    body: ReadableStream<Uint8Array>,
    id: RequestId | undefined,
    signal: AbortSignal,
    resumable = true,
  ): Promise<void> {
    let answered = false;
    let attempts = 0;
    // The server's reconnection delay holds until it sends another one.
    let retry: number | undefined;
    let parser = new SseParser({ maxEventBytes: this.#maxBytes });
    let stream = body;
    for (;;) {
      let progressed = false;
      let failure: unknown;
      try {
        await readSse(
          stream,
          parser,
          (event) => {
            progressed = true;
            const value = this.#parseEvent(event.data);
            if (value === undefined) return false;
            if (
              id !== undefined &&
              isObject(value) &&
              !("method" in value) &&
              sameId(value.id, id)
            ) {
              answered = true;
            }
            this.#on.message(value);
            return answered;
          },
          signal,
        );
      } catch (error) {
        failure = error;
      }
      if (signal.aborted || answered || id === undefined) return;
      if (failure instanceof TransportError) return this.#on.lost(id, failure);
      if (progressed) attempts = 0;
      retry = parser.retry ?? retry;
      const lastEventId = parser.lastEventId;
      if (!resumable || lastEventId === undefined) {
        return this.#on.lost(
          id,
          new TransportError(
            "ERR_STREAM_ENDED",
            "The reply stream ended before the reply, and it cannot be resumed (its events had no ids)",
            { cause: failure },
          ),
        );
      }
      if (++attempts > this.#reconnect.maxAttempts) {
        return this.#on.lost(
          id,
          new TransportError(
            "ERR_STREAM_ENDED",
            `The reply stream ended before the reply; ${this.#reconnect.maxAttempts} attempts to resume it brought nothing`,
            { cause: failure },
          ),
        );
      }
      if (!(await sleep(this.#delay(retry, attempts), signal))) return;
      let response: Response;
      try {
        response = await this.#http({
          method: "GET",
          accept: ACCEPT_SSE,
          session: true,
          lastEventId,
          signal,
        });
      } catch (error) {
        if (signal.aborted) return;
        // The network failed: count it as an attempt and try again.
        stream = new ReadableStream({ start: (controller) => controller.error(error) });
        continue;
      }
      if (!response.ok || mediaTypeOf(response) !== "sse" || !response.body) {
        if (response.status === 404 && this.#sessionId !== undefined) this.#on.sessionExpired?.();
        const error = response.ok
          ? this.#badContentType(response)
          : statusError(response, "Resuming the reply stream", await readErrorBody(response));
        await discard(response);
        return this.#on.lost(
          id,
          new TransportError(
            "ERR_STREAM_ENDED",
            `The reply stream could not be resumed: ${error.message}`,
            {
              status: response.status,
              cause: error,
            },
          ),
        );
      }
      stream = response.body;
      parser = new SseParser({ maxEventBytes: this.#maxBytes, lastEventId });
    }
  }

  /** The JSON value in an event's data; undefined for an empty (priming) or unreadable event. */
  #parseEvent(data: string): unknown {
    if (data === "") return undefined;
    try {
      return JSON.parse(data);
    } catch {
      this.#on.warning?.({
        code: "bad_message",
        message: "Ignored a server-sent event whose data is not JSON",
        detail: data.length > 200 ? `${data.slice(0, 200)}…` : data,
      });
      return undefined;
    }
  }

  #delay(retry: number | undefined, attempt: number): number {
    const base = retry ?? this.#reconnect.delayMs;
    return Math.min(base * 2 ** (attempt - 1), this.#reconnect.maxDelayMs);
  }

  // The GET stream

  listen(): void {
    // 2026-07-28 has no GET stream: change notifications come on subscriptions/listen.
    if (this.#modern) return;
    if (this.#options.listen === false || this.#listening || this.#life.signal.aborted) return;
    const controller = new AbortController();
    this.#listening = controller;
    void this.#listenLoop(AbortSignal.any([controller.signal, this.#life.signal]));
  }

  /**
   * Keeps the GET stream open: reconnects with the last event id when it drops, gives up
   * quietly when the server offers none (405), and reports a session the server forgot (404).
   */
  async #listenLoop(signal: AbortSignal): Promise<void> {
    let attempts = 0;
    let retry: number | undefined;
    while (!signal.aborted) {
      let response: Response | undefined;
      try {
        response = await this.#http({
          method: "GET",
          accept: ACCEPT_SSE,
          session: true,
          lastEventId: this.#lastEventId,
          signal,
        });
      } catch (error) {
        if (signal.aborted) return;
        this.#on.warning?.({ code: "get_stream", message: "The GET stream failed", detail: error });
      }
      if (response) {
        if (response.status === 405) return discard(response);
        if (response.status === 404 && this.#sessionId !== undefined) {
          await discard(response);
          this.#on.sessionExpired?.();
          return;
        }
        if (response.status === 400 && this.#lastEventId !== undefined) {
          // The server does not know our last event id (its store forgot): start afresh.
          await discard(response);
          this.#setLastEventId(undefined);
          continue;
        }
        if (!response.ok || mediaTypeOf(response) !== "sse" || !response.body) {
          const error = response.ok
            ? this.#badContentType(response)
            : statusError(response, "The GET stream", await readErrorBody(response));
          await discard(response);
          this.#on.warning?.({ code: "get_stream", message: error.message, detail: error });
          return;
        }
        const parser = new SseParser({
          maxEventBytes: this.#maxBytes,
          ...(this.#lastEventId === undefined ? {} : { lastEventId: this.#lastEventId }),
        });
        let progressed = false;
        try {
          await readSse(
            response.body,
            parser,
            (event) => {
              progressed = true;
              this.#setLastEventId(event.id);
              const value = this.#parseEvent(event.data);
              if (value !== undefined) this.#on.message(value);
              return false;
            },
            signal,
          );
        } catch (error) {
          if (signal.aborted) return;
          this.#on.warning?.({
            code: "get_stream",
            message: "The GET stream broke",
            detail: error,
          });
        }
        // An id may come in an event without data, which is never dispatched.
        this.#setLastEventId(parser.lastEventId);
        retry = parser.retry ?? retry;
        if (progressed) attempts = 0;
      }
      if (signal.aborted) return;
      if (++attempts > this.#reconnect.maxAttempts) {
        this.#on.warning?.({
          code: "get_stream",
          message: `Gave up on the GET stream after ${this.#reconnect.maxAttempts} attempts`,
        });
        return;
      }
      if (!(await sleep(this.#delay(retry, attempts), signal))) return;
    }
  }

  #setLastEventId(id: string | undefined): void {
    if (id === this.#lastEventId) return;
    this.#lastEventId = id;
    this.#on.sessionChanged?.({ lastEventId: id });
  }

  async close(options: { terminate?: boolean } = {}): Promise<void> {
    if (this.#life.signal.aborted) return;
    const closed = new TransportError("ERR_CONNECTION_CLOSED", "The transport is closed");
    this.#life.abort(closed);
    if (options.terminate !== false && this.#sessionId !== undefined) {
      try {
        const response = await this.#http({
          method: "DELETE",
          session: true,
          signal: AbortSignal.timeout(DELETE_TIMEOUT_MS),
        });
        // 405: the server lets sessions expire on their own. Either way we are done.
        await discard(response);
      } catch {
        // Best effort: the server ends idle sessions anyway.
      }
    }
    this.#handlers?.closed(closed);
  }

  // HTTP

  /** One HTTP exchange, with the transport's headers and the authorizer's retries. */
  async #http(request: HttpRequest): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const headers = new Headers(this.#options.headers);
      if (request.accept) headers.set("accept", request.accept);
      if (request.body !== undefined) headers.set("content-type", "application/json");
      if (request.session) {
        if (this.#sessionId !== undefined) headers.set("mcp-session-id", this.#sessionId);
        if (this.#protocolVersion !== undefined) {
          headers.set("mcp-protocol-version", this.#protocolVersion);
        }
      }
      if (request.lastEventId !== undefined) headers.set("last-event-id", request.lastEventId);
      for (const [name, value] of Object.entries(request.headers ?? {})) headers.set(name, value);
      const authorizer = this.#options.authorizer;
      if (authorizer) {
        for (const [name, value] of Object.entries(await authorizer.headers(this.url))) {
          headers.set(name, value);
        }
      }
      const init: RequestInit = { method: request.method, headers, signal: request.signal };
      if (request.body !== undefined) init.body = request.body;
      let response: Response;
      try {
        response = await this.#fetch(this.url, init);
      } catch (error) {
        if (request.signal.aborted) throw request.signal.reason;
        throw new TransportError(
          "ERR_NETWORK",
          `${request.method} ${this.url.href} failed: ${String(error)}`,
          {
            cause: error,
          },
        );
      }
      if (!authorizer || attempt >= MAX_AUTH_RETRIES) return response;
      const retry =
        response.status === 401
          ? await authorizer.onUnauthorized(response)
          : response.status === 403
            ? await authorizer.onForbidden(response)
            : false;
      if (!retry) return response;
      await discard(response);
    }
  }
}

/** A Streamable HTTP client transport to `url`. */
export function streamableHttp(
  url: string | URL,
  options: StreamableHttpClientOptions = {},
): StreamableHttpClientTransport {
  return new StreamableHttpClientTransport(url, options);
}
