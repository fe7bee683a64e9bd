import { isObject } from "../mcp/content.ts";
import {
  ErrorCode,
  failure,
  idOf,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  McpError,
  parseMessage,
  type RequestId,
  success,
} from "../mcp/jsonrpc.ts";
import type { JsonObject } from "../mcp/types.ts";
import { type ClientWarning, ProtocolError, TransportError } from "./errors.ts";
import type {
  ClientTransport,
  SendOptions,
  SessionUpdate,
  TransportHandlers,
} from "./transport.ts";

export type { InboundRequest, Progress, RequestOptions, SendControl } from "./request-options.ts";

import type { InboundRequest, Progress, RequestOptions, SendControl } from "./request-options.ts";

/** What the connection hands up to the client that owns it. */
export interface ConnectionHooks {
  /** Answers a server-to-client request; throw McpError to answer with an error. */
  request(request: InboundRequest): Promise<JsonObject>;
  notification(notification: JsonRpcNotification): void;
  warning(warning: ClientWarning): void;
  /** Opens a new session after the old one expired; requests then go out again. */
  recover(): Promise<void>;
  sessionExpired(): void;
  sessionChanged(update: SessionUpdate): void;
  /** Wraps each send of a request: where retries and the connection's health live. */
  send?(
    method: string,
    retry: boolean | undefined,
    send: () => Promise<void>,
    signal: AbortSignal,
  ): Promise<void>;
}

interface Pending {
  resolve(result: JsonObject): void;
  reject(error: unknown): void;
  progress(progress: Progress): void;
}

/** A request whose reply is lost with the session is sent again once, after a new initialize. */
function sessionExpired(error: unknown): boolean {
  return error instanceof TransportError && error.code === "ERR_SESSION_EXPIRED";
}

function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : String(reason ?? "aborted");
}

/**
 * The JSON-RPC side of a client: ids, pending requests with their time limits, progress and
 * cancellation, and the answers to what the server asks. Transport-free: it sends through a
 * ClientTransport and takes what that transport reports.
 */
export class Connection {
  readonly #transport: ClientTransport;
  readonly #hooks: ConnectionHooks;
  readonly #timeoutMs: number;
  readonly #pending = new Map<RequestId, Pending>();
  readonly #inbound = new Map<RequestId, AbortController>();
  #lastId = 0;
  #closed: Error | undefined;

  constructor(transport: ClientTransport, hooks: ConnectionHooks, timeoutMs: number) {
    this.#transport = transport;
    this.#hooks = hooks;
    this.#timeoutMs = timeoutMs;
  }

  get transport(): ClientTransport {
    return this.#transport;
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** The handlers to start the transport with. */
  handlers(): TransportHandlers {
    return {
      message: (value) => this.#receive(value),
      lost: (id, error) => {
        const pending = this.#pending.get(id);
        pending?.reject(typeof error === "function" ? error() : error);
      },
      closed: (error) => this.#shutDown(error),
      sessionChanged: (update) => this.#hooks.sessionChanged(update),
      sessionExpired: () => this.#hooks.sessionExpired(),
      warning: (warning) => this.#hooks.warning(warning),
    };
  }

  /**
   * Sends a request and resolves with its result; rejects with McpError for an error reply,
   * TransportError for a failure on the way, or the signal's reason when aborted.
   */
  request(
    method: string,
    params: JsonObject,
    options: RequestOptions = {},
    control: SendControl = {},
  ): Promise<JsonObject> {
    if (this.#closed) return Promise.reject(this.#closed);
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    // A 2025 server in JSON mode sends the progress on the GET stream: open it now.
    if (options.onProgress) this.#transport.listen?.();
    const id = ++this.#lastId;
    control.onId?.(id);
    const body: JsonObject = { ...params };
    if (options.onProgress) {
      body._meta = { ...(isObject(params._meta) ? params._meta : {}), progressToken: id };
    }
    const message: JsonRpcRequest = { jsonrpc: "2.0", id, method, params: body };
    // Aborted when the request ends without its reply: stops the transport's work for it.
    const exchange = new AbortController();
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const started = Date.now();

    return new Promise<JsonObject>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const cleanup = () => {
        this.#pending.delete(id);
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const entry: Pending = {
        resolve: (result) => {
          cleanup();
          resolve(result);
        },
        reject: (error) => {
          cleanup();
          exchange.abort(error);
          reject(error);
        },
        progress: (progress) => {
          if (options.resetTimeoutOnProgress) arm();
          options.onProgress?.(progress);
        },
      };
      const cancel = (error: unknown, reason: string) => {
        if (this.#pending.get(id) !== entry) return;
        entry.reject(error);
        // The spec forbids cancelling initialize; the session is simply not used. Where ending
        // the exchange is the cancellation (2026-07-28 HTTP), rejecting above already did it.
        if (method === "initialize" || this.#closed || this.#transport.cancelsByClosing) return;
        this.notify("notifications/cancelled", { requestId: id, reason }).catch((failed) =>
          this.#hooks.warning({
            code: "cancel_failed",
            message: `Could not tell the server that request ${id} was cancelled`,
            detail: failed,
          }),
        );
      };
      const onAbort = () => cancel(signal!.reason, abortReason(signal!));
      // While the authorizer works (a person signing in), the clock stops; it starts over
      // once the request goes out again, as a new exchange.
      let authorizing = 0;
      const onAuthorizing = (active: boolean) => {
        authorizing += active ? 1 : -1;
        if (authorizing > 0) clearTimeout(timer);
        else if (this.#pending.get(id) === entry) arm();
      };
      const arm = () => {
        clearTimeout(timer);
        if (authorizing > 0) return;
        let wait = timeoutMs;
        let total = false;
        if (options.maxTotalTimeoutMs !== undefined) {
          const left = started + options.maxTotalTimeoutMs - Date.now();
          if (left < wait) {
            wait = left;
            total = true;
          }
        }
        if (!Number.isFinite(wait)) return;
        const limit = total ? options.maxTotalTimeoutMs : timeoutMs;
        timer = setTimeout(
          () =>
            cancel(
              new TransportError(
                "ERR_TIMEOUT",
                `No reply to ${method} within ${limit} ms${total ? " (maxTotalTimeoutMs)" : ""}`,
              ),
              "timeout",
            ),
          Math.max(0, wait),
        );
      };

      this.#pending.set(id, entry);
      signal?.addEventListener("abort", onAbort, { once: true });
      arm();
      const sending = options.retry === undefined ? control : { ...control, retry: options.retry };
      this.#send(message, exchange.signal, sending, onAuthorizing).catch((error: unknown) => {
        if (this.#pending.get(id) === entry) entry.reject(error);
      });
    });
  }

  async #send(
    message: JsonRpcRequest,
    signal: AbortSignal,
    control: SendControl,
    onAuthorizing: (active: boolean) => void,
  ): Promise<void> {
    const options: SendOptions = { signal, onAuthorizing };
    if (control.headers) options.headers = control.headers;
    const once = () => this.#transport.send(message, options);
    const hook = this.#hooks.send;
    const send = hook ? () => hook(message.method, control.retry, once, signal) : once;
    try {
      await send();
    } catch (error) {
      if (control.recover === false || !sessionExpired(error)) throw error;
      await this.#hooks.recover();
      signal.throwIfAborted();
      await send();
    }
  }

  /** Sends a notification. */
  async notify(method: string, params?: JsonObject): Promise<void> {
    if (this.#closed) throw this.#closed;
    const message: JsonRpcNotification = params
      ? { jsonrpc: "2.0", method, params }
      : { jsonrpc: "2.0", method };
    await this.#transport.send(message);
  }

  /** Closes the transport and fails whatever still waits. */
  async close(options: { terminate?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    const error = new TransportError("ERR_CONNECTION_CLOSED", "The client closed the connection");
    this.#closed = error;
    try {
      await this.#transport.close(options);
    } finally {
      this.#shutDown(error);
    }
  }

  #shutDown(error: Error): void {
    this.#closed ??= error;
    for (const pending of [...this.#pending.values()]) pending.reject(error);
    for (const inbound of this.#inbound.values()) inbound.abort(error);
    this.#inbound.clear();
  }

  // Incoming

  #receive(value: unknown): void {
    const message = parseMessage(value);
    if (message instanceof McpError) {
      const pending = isObject(value) && !("method" in value) ? this.#find(idOf(value)) : undefined;
      if (pending) {
        pending.reject(
          new ProtocolError(
            "ERR_CONTRACT",
            `The server sent a malformed reply: ${message.message}`,
          ),
        );
      } else {
        this.#hooks.warning({
          code: "bad_message",
          message: `Ignored a message that is not JSON-RPC: ${message.message}`,
          detail: value,
        });
      }
      return;
    }
    if (!("method" in message)) this.#response(message);
    else if ("id" in message) void this.#answer(message);
    else this.#notification(message);
  }

  /** The pending request with this id; a server that turned our number into text is forgiven. */
  #find(id: RequestId | null): Pending | undefined {
    if (id === null) return undefined;
    const pending = this.#pending.get(id);
    if (pending || typeof id !== "string" || !/^\d+$/.test(id)) return pending;
    return this.#pending.get(Number(id));
  }

  #response(response: JsonRpcResponse): void {
    const pending = this.#find(response.id);
    if (!pending) {
      // Routine after a timeout or a cancellation: the reply came too late.
      this.#hooks.warning({
        code: "unexpected_response",
        message: `A reply to request ${String(response.id)}, which is not waiting`,
      });
      return;
    }
    if ("result" in response) pending.resolve(response.result);
    else {
      const { code, message, data } = response.error;
      pending.reject(new McpError(code, message, data));
    }
  }

  #notification(notification: JsonRpcNotification): void {
    const params = notification.params ?? {};
    if (notification.method === "notifications/progress") {
      const token = params.progressToken;
      const pending =
        typeof token === "string" || typeof token === "number" ? this.#find(token) : undefined;
      if (pending && typeof params.progress === "number") {
        const progress: Progress = { progress: params.progress };
        if (typeof params.total === "number") progress.total = params.total;
        if (typeof params.message === "string") progress.message = params.message;
        pending.progress(progress);
      }
    } else if (notification.method === "notifications/cancelled") {
      const id = params.requestId;
      if (typeof id === "string" || typeof id === "number") {
        this.#inbound
          .get(id)
          ?.abort(new McpError(ErrorCode.RequestTimeout, "Cancelled by the server"));
      }
      return;
    }
    this.#hooks.notification(notification);
  }

  async #answer(request: JsonRpcRequest): Promise<void> {
    const controller = new AbortController();
    this.#inbound.set(request.id, controller);
    let reply: JsonRpcMessage;
    try {
      const result =
        request.method === "ping"
          ? {}
          : await this.#hooks.request({
              id: request.id,
              method: request.method,
              params: request.params ?? {},
              signal: controller.signal,
            });
      reply = success(request.id, result);
    } catch (error) {
      // A local failure's details stay local: the server learns only that it failed.
      reply = failure(
        request.id,
        error instanceof McpError ? error : new McpError(ErrorCode.InternalError, "Internal error"),
      );
    } finally {
      this.#inbound.delete(request.id);
    }
    // A request the server cancelled gets no reply.
    if (controller.signal.aborted || this.#closed) return;
    try {
      await this.#transport.send(reply);
    } catch (error) {
      this.#hooks.warning({
        code: "reply_failed",
        message: `Could not send the reply to the server's ${request.method}`,
        detail: error,
      });
    }
  }
}
