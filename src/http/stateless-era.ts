import type { Context as HonoContext } from "hono";
import { statelessEra } from "../mcp/era/index.ts";
import {
  ErrorCode,
  failure,
  isRequest,
  type JsonRpcRequest,
  type JsonRpcResponse,
  McpError,
} from "../mcp/jsonrpc.ts";
import { checkRequestMeta, modernErrorStatus, peerFromMeta } from "../mcp/modern.ts";
import type { Exchange, Peer } from "../mcp/peer.ts";
import type { McpServer, ServerEvent } from "../mcp/server.ts";
import type { Guard } from "../resource/guard.ts";
import { checkAccess, reauthorization } from "./access.ts";
import { httpError } from "./errors.ts";
import type { InboundPost } from "./inbound.ts";
import { Reply } from "./reply.ts";
import { SSE_HEADERS, SseStream } from "./sse.ts";
import { checkHeaders } from "./stateless-headers.ts";

const JSON_HEADERS = { "Content-Type": "application/json" };

/** Builds the error reply of a 2026-07-28 request: its JSON-RPC error with the status its code calls for. */
function errorReply(
  id: JsonRpcRequest["id"] | null,
  error: McpError,
  status: number = modernErrorStatus(error.code),
): Response {
  return new Response(JSON.stringify(failure(id, error)), { status, headers: JSON_HEADERS });
}

/** The status of a 2026-07-28 reply made at once: an error's own, else 200. */
const statusOf = (response: JsonRpcResponse): number =>
  "error" in response ? modernErrorStatus(response.error.code) : 200;

const noRequests = () =>
  Promise.reject(
    new McpError(ErrorCode.InternalError, "2026-07-28 sends no server-to-client requests"),
  );

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
    return noRequests();
  }
}

export interface StatelessEraOptions {
  keepAliveMs: number;
  jsonResponse: boolean;
  guard: Guard | undefined;
  /** Where subscriptions hear server events; default the server's own (this instance only). */
  listen?: ((listener: (event: ServerEvent) => void) => () => void) | undefined;
}

/**
 * The stateless era (2026-07-28) over Streamable HTTP: one POST per request, headers that
 * mirror the body and must agree with it, closing the response stream cancels the request,
 * and `subscriptions/listen` streams for change notifications. A peer of the session era's
 * handler under the endpoint's router (transport.ts); replies go out through the same step.
 */
export class StatelessEraHandler {
  readonly #server: McpServer;
  readonly #options: StatelessEraOptions;
  readonly #listeners = new Set<{ close(): void }>();

  constructor(server: McpServer, options: StatelessEraOptions) {
    this.#server = server;
    this.#options = options;
  }

  /** Ends every open subscription gracefully (a completion result, then the stream closes). */
  close(): void {
    for (const listener of [...this.#listeners]) listener.close();
  }

  /** A POST the inbound step let through, that names 2026-07-28. */
  async post(
    c: HonoContext,
    { messages, batch, wantsSse, version }: InboundPost,
  ): Promise<Response> {
    if (batch) {
      return httpError(
        400,
        ErrorCode.InvalidRequest,
        "Invalid Request: 2026-07-28 has no batches; send each message in its own POST",
      );
    }
    const message = messages[0]!;
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
      checkHeaders(c, version, message, meta, this.#server);
      peer = peerFromMeta(meta, this.#server.protocolVersions);
    } catch (error) {
      // A malformed envelope, mismatched headers or an unsupported version: all 400.
      return errorReply(message.id, error as McpError, 400);
    }
    if (
      !this.#server.handlerOf(message.method, statelessEra) &&
      message.method !== "subscriptions/listen"
    ) {
      return errorReply(
        message.id,
        new McpError(ErrorCode.MethodNotFound, `Method not found: ${message.method}`),
      );
    }
    let refused = checkAccess(c, this.#options.guard, this.#server, [message]);
    if (refused instanceof Promise) refused = await refused;
    if (refused) return refused;
    const auth = this.#options.guard?.authenticate(c);
    if (message.method === "subscriptions/listen") return this.#listen(c, message, peer, auth);
    return this.#reply(c, message, peer, auth, wantsSse && !this.#options.jsonResponse);
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
      if (!response) return new Response(null, { status: 202 });
      const instead = reauthorization(c, this.#options.guard)?.(response);
      if (instead) return instead;
      return new Response(JSON.stringify(response), {
        status: statusOf(response),
        headers: JSON_HEADERS,
      });
    }
    const reply = new Reply({
      mode: useSse ? "sse" : "json",
      stream: { keepAliveMs: this.#options.keepAliveMs },
      batch: false,
      status: statusOf,
      instead: reauthorization(c, this.#options.guard),
    });
    // Made when the signal is first asked for, or the stream closes: most calls need neither.
    let cancel: AbortController | undefined;
    const canceller = () => {
      cancel ??= new AbortController();
      return cancel;
    };
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
      // Over a JSON reply a notification has nowhere to go.
      notify: (notification) => reply.send(notification),
      request: noRequests,
    };
    reply.onDisconnect = () =>
      canceller().abort(new McpError(ErrorCode.RequestTimeout, "Client closed the stream"));
    const done = this.#server.dispatch(request, exchange).then((response) => {
      if (response) return reply.deliver(response, JSON.stringify(response), 0);
    });
    return reply.finish(done);
  }

  /**
   * A `subscriptions/listen` stream: acknowledgement first, then the notifications asked for.
   * It opens through the middleware; refused there, the error is the reply and no stream.
   */
  async #listen(
    c: HonoContext,
    request: JsonRpcRequest,
    peer: Peer,
    auth: Exchange["auth"],
  ): Promise<Response> {
    const stream = new SseStream("", { keepAliveMs: this.#options.keepAliveMs });
    const exchange: Exchange = {
      peer,
      signal: c.req.raw.signal,
      http: c,
      auth,
      notify: () => {},
      request: noRequests,
    };
    const subscription = await this.#server.openListen(
      request,
      exchange,
      (message) => void stream.send(message),
      this.#options.listen,
    );
    if ("jsonrpc" in subscription) {
      // Refused, or answered by a middleware: that answer is the whole reply, no stream.
      return new Response(JSON.stringify(subscription), {
        status: statusOf(subscription),
        headers: JSON_HEADERS,
      });
    }
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
