import type { JsonRpcMessage, RequestId } from "../mcp/jsonrpc.ts";
import type { ClientWarning } from "./errors.ts";

/** What a transport reports to the client it carries. */
export interface TransportHandlers {
  /** A value the server sent, parsed from JSON; the client checks it is JSON-RPC. */
  message(value: unknown): void;
  /** The reply to a request can no longer arrive (its stream ended and could not resume). */
  lost(id: RequestId, error: Error): void;
  /** The connection ended for good; every request still waiting fails with `error`. */
  closed(error: Error): void;
  /** Session facts worth keeping across restarts changed. */
  sessionChanged?(update: SessionUpdate): void;
  /** The server no longer knows the session, learned outside any request (a GET stream's 404). */
  sessionExpired?(): void;
  warning?(warning: ClientWarning): void;
}

export interface SessionUpdate {
  sessionId?: string | undefined;
  /** The last event id seen on the stream of server-initiated messages. */
  lastEventId?: string | undefined;
}

/** A session a transport can take up again, from an earlier process. */
export interface SessionSnapshot {
  protocolVersion: string;
  sessionId: string;
  lastEventId?: string | undefined;
}

export interface SendOptions {
  /** Aborts the exchange that carries this message (its reply stream, its resumption). */
  signal?: AbortSignal;
}

/**
 * Carries JSON-RPC messages between an McpClient and one server. `send` resolves once the
 * server took the message; replies and server-initiated messages come back through the
 * handlers given to `start`. The optional methods are for transports with sessions.
 */
export interface ClientTransport {
  start(handlers: TransportHandlers): Promise<void>;
  /**
   * Sends one message. Rejects with a TransportError when the server refused it; with code
   * ERR_SESSION_EXPIRED when the server no longer knows the session.
   */
  send(message: JsonRpcMessage, options?: SendOptions): Promise<void>;
  /** The revision negotiated at initialize, for transports that label later requests with it. */
  setProtocolVersion?(version: string): void;
  /** Initialization is complete: open the channel for server-initiated messages, if any. */
  listen?(): void;
  /** Takes up an earlier session; false when this transport has no sessions. */
  restore?(snapshot: SessionSnapshot): boolean;
  /** Forgets the session (it expired) so the next initialize opens a new one. */
  reset?(): void;
  readonly sessionId?: string | undefined;
  /** Closes the connection; `terminate: false` leaves the server's session alive to resume. */
  close(options?: { terminate?: boolean }): Promise<void>;
}
