import { OutgoingRequests } from "../http/outgoing.ts";
import {
  ErrorCode,
  failure,
  idOf,
  type JsonRpcMessage,
  McpError,
  parseMessage,
} from "./jsonrpc.ts";
import { type AuthInfo, type Exchange, Peer } from "./peer.ts";
import { eventNotification, type McpServer } from "./server.ts";
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

  constructor(
    server: McpServer,
    send: (message: JsonRpcMessage) => void,
    options: ServerEndpointOptions = {},
  ) {
    this.#server = server;
    this.#send = send;
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
      if (!this.peer.initialized) return;
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
    } else if (!("id" in message)) {
      this.#server.receive(message, this.peer);
    } else {
      void this.#server.dispatch(message, this.#exchange).then((reply) => {
        // A request the client cancelled gets no reply.
        if (reply && !this.closed) this.#send(reply);
      });
    }
  }

  /** Ends the channel: running handlers see their signal abort, waiting requests fail. */
  close(): void {
    if (this.closed) return;
    this.#stopListening();
    this.#life.abort(new McpError(ErrorCode.ConnectionClosed, "Connection closed"));
    this.#outgoing.rejectSession(this.peer.sessionId!);
  }
}
