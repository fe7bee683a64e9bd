import { statelessEra } from "./era/index.ts";
import { reaches } from "./events.ts";
import {
  ErrorCode,
  failure,
  idOf,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  McpError,
  parseMessage,
  type RequestId,
} from "./jsonrpc.ts";
import { declaredVersion } from "./modern.ts";
import { OutgoingRequests } from "./outgoing.ts";
import { type AuthInfo, type Exchange, Peer, userOf } from "./peer.ts";
import { asMcpError, eventNotification, type McpServer } from "./server.ts";
import { negotiateVersion } from "./versions.ts";

export interface ServerEndpointOptions {
  /** How long a server-to-client request waits for the client. Default 10 minutes. */
  clientRequestTimeoutMs?: number;
  /**
   * The caller, as the embedding application verified it. The access rules then apply as on
   * a protected HTTP endpoint: a request without its target's scopes, or without a user where
   * one is required, is answered with -32600 (`data.error` names the reason).
   */
  auth?: AuthInfo;
}

/**
 * The server half of a message channel with exactly one client (in memory, stdio): it hands
 * the client's messages to an McpServer through one long-lived Peer, and sends back replies,
 * notifications, server-to-client requests and registry events.
 */
export class ServerEndpoint {
  readonly peer: Peer;
  readonly #server: McpServer;
  readonly #send: (message: JsonRpcMessage) => void;
  readonly #outgoing: OutgoingRequests;
  readonly #life = new AbortController();
  readonly #exchange: Exchange;
  readonly #stopListening: () => void;
  readonly #auth: AuthInfo | undefined;
  /** 2026-07-28 requests still running (and open subscriptions), by id: how to end each. */
  readonly #stateless = new Map<RequestId, (reason?: string) => void>();

  constructor(
    server: McpServer,
    send: (message: JsonRpcMessage) => void,
    options: ServerEndpointOptions = {},
  ) {
    this.#server = server;
    this.#send = send;
    this.#auth = options.auth;
    // The channel opens with initialize, which settles the version; until then the peer
    // speaks the newest 2025 revision. A session id, even here: the server tracks requests
    // for cancellation only in sessions.
    const opening = negotiateVersion(undefined, server.protocolVersions);
    this.peer = new Peer(opening, crypto.randomUUID());
    this.#outgoing = new OutgoingRequests(options.clientRequestTimeoutMs ?? 10 * 60_000);
    this.#exchange = {
      peer: this.peer,
      signal: this.#life.signal,
      auth: options.auth,
      notify: (message) => this.#send(message),
      request: (method, params, { signal }) => {
        const { id, result } = this.#outgoing.open(this.peer.sessionId, signal);
        this.#send({ jsonrpc: "2.0", id, method, params });
        return result;
      },
    };
    this.#stopListening = server.listen((event) => {
      // Extension events go to 2026-07-28 listen streams only, never the session.
      if (!this.peer.initialized || event.type === "extension") return;
      if (!reaches(event, userOf(options.auth))) return;
      if (event.type === "resource_updated" && !this.peer.subscriptions?.has(event.uri)) return;
      this.#send(eventNotification(event));
    });
  }

  get closed(): boolean {
    return this.#life.signal.aborted;
  }

  /** Takes one parsed JSON value from the client. */
  receive(value: unknown): void {
    if (this.closed) return;
    const message = parseMessage(value);
    if (message instanceof McpError) {
      this.#send(failure(idOf(value), message));
    } else if (!("method" in message)) {
      this.#outgoing.settle(message, this.peer.sessionId);
    } else if (declaredVersion(message.params) !== undefined && "id" in message) {
      this.#statelessRequest(message);
    } else if (!("id" in message)) {
      if (message.method === "notifications/cancelled") this.#cancelStateless(message);
      this.#server.receive(message, this.peer);
    } else {
      void this.#server.dispatch(message, this.#exchange).then((reply) => {
        // A request the client cancelled gets no reply.
        if (reply && !this.closed) this.#send(reply);
      });
    }
  }

  /**
   * A 2026-07-28 request: its own peer from its `_meta`, no session. The channel carries
   * replies, notifications and `subscriptions/listen` streams; cancelling a request (or a
   * subscription) is notifications/cancelled with its id.
   */
  #statelessRequest(request: JsonRpcRequest): void {
    const server = this.#server;
    let peer: Peer;
    try {
      peer = statelessEra.peer({ params: request.params, offered: server.protocolVersions });
    } catch (error) {
      this.#send(failure(request.id, asMcpError(error)));
      return;
    }
    if (request.method === "subscriptions/listen") {
      this.#listen(request, peer);
      return;
    }
    const cancel = new AbortController();
    this.#stateless.set(request.id, (reason = "cancelled by client") =>
      cancel.abort(new McpError(ErrorCode.RequestTimeout, `Request cancelled: ${reason}`)),
    );
    const exchange: Exchange = {
      peer,
      signal: AbortSignal.any([this.#life.signal, cancel.signal]),
      auth: this.#auth,
      notify: (message) => this.#send(message),
      request: () =>
        Promise.reject(
          new McpError(ErrorCode.InternalError, "2026-07-28 sends no server-to-client requests"),
        ),
    };
    void server.dispatch(request, exchange).then((reply) => {
      this.#stateless.delete(request.id);
      if (reply && !cancel.signal.aborted && !this.closed) this.#send(reply);
    });
  }

  /**
   * A `subscriptions/listen` on the channel: it opens through the middleware (refused, the
   * error is the answer), then runs until notifications/cancelled with its id or close.
   */
  #listen(request: JsonRpcRequest, peer: Peer): void {
    let ended = false;
    this.#stateless.set(request.id, () => {
      ended = true;
    });
    const exchange: Exchange = {
      peer,
      signal: this.#life.signal,
      auth: this.#auth,
      notify: () => {},
      request: () =>
        Promise.reject(new McpError(ErrorCode.InternalError, "a subscription sends no requests")),
    };
    const send = (message: JsonRpcMessage) => {
      if (!this.closed) this.#send(message);
    };
    void this.#server.openListen(request, exchange, send).then((opened) => {
      if ("jsonrpc" in opened) {
        this.#stateless.delete(request.id);
        if (!ended) send(opened);
        return;
      }
      // Closed while the middleware ran: it just stops. Cancelled: it ends as a cancel of an
      // open stream does, with its final result.
      if (this.closed) return opened.stop();
      if (ended) return opened.complete();
      this.#stateless.set(request.id, () => {
        if (this.closed) opened.stop();
        else opened.complete();
      });
    });
  }

  #cancelStateless(notification: JsonRpcNotification): void {
    const id = notification.params?.requestId;
    if (typeof id !== "string" && typeof id !== "number") return;
    const end = this.#stateless.get(id);
    this.#stateless.delete(id);
    const reason = notification.params?.reason;
    end?.(typeof reason === "string" ? reason : "cancelled by client");
  }

  /** Ends the channel: running handlers see their signal abort, waiting requests fail. */
  close(): void {
    if (this.closed) return;
    this.#stopListening();
    this.#life.abort(new McpError(ErrorCode.ConnectionClosed, "Connection closed"));
    // Running requests saw the channel's own signal abort first; subscriptions just stop.
    for (const end of this.#stateless.values()) end();
    this.#stateless.clear();
    this.#outgoing.rejectSession(this.peer.sessionId!);
  }
}
