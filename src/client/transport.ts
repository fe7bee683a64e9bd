import type { JsonRpcMessage, RequestId } from "../mcp/jsonrpc.ts";
import type { ClientWarning } from "./errors.ts";

/** What a transport reports to the client it carries. */
export interface TransportHandlers {
  /** A value the server sent, parsed from JSON; the client checks it is JSON-RPC. */
  message(value: unknown): void;
  /**
   * The reply to a request can no longer arrive (its stream ended and could not resume).
   * `error` may be a function that makes it: called only for a request still waiting, since
   * an Error's stack costs more than a whole answered call.
   */
  lost(id: RequestId, error: Error | (() => Error)): void;
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
  /**
   * Headers for this message alone, e.g. the `Mcp-Param-*` mirrors of tool arguments
   * (2026-07-28). Transports without headers ignore them.
   */
  headers?: Record<string, string>;
  /**
   * Called with true when the exchange starts waiting for authorization (a person signing in,
   * a token being fetched) and false when it goes on, so the request's time limit can leave
   * that wait out. Transports without authorization never call it.
   */
  onAuthorizing?: (active: boolean) => void;
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
  /**
   * The revision requests go out in, for transports that label requests with it. A 2026-07-28
   * (stateless) revision also switches the transport to that era's rules: request metadata
   * headers, no session, no resumption, error replies delivered as JSON-RPC errors.
   */
  setProtocolVersion?(version: string): void;
  /**
   * True when ending an exchange is itself the cancellation of its request (2026-07-28 over
   * HTTP), so no notifications/cancelled is sent.
   */
  readonly cancelsByClosing?: boolean;
  /** Initialization is complete: open the channel for server-initiated messages, if any. */
  listen?(): void;
  /** Takes up an earlier session; false when this transport has no sessions. */
  restore?(snapshot: SessionSnapshot): boolean;
  /** Forgets the session and the revision (it expired, or the era changed) so the next opening starts afresh. */
  reset?(): void;
  readonly sessionId?: string | undefined;
  /** What the server wrote for diagnostics lately (a process's last stderr lines), if kept. */
  readonly stderrTail?: string | undefined;
  /** Closes the connection; `terminate: false` leaves the server's session alive to resume. */
  close(options?: { terminate?: boolean }): Promise<void>;
}
