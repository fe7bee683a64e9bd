import type { Context as HonoContext } from "hono";
import { ErrorCode, type JsonRpcNotification, McpError } from "../mcp/jsonrpc.ts";
import type { AuthInfo, Exchange, Peer } from "../mcp/peer.ts";

/** An Exchange for one POST: its reply stream and a lazily made abort signal. */
export class PostExchange implements Exchange {
  readonly peer: Peer;
  readonly http: HonoContext;
  readonly auth: AuthInfo | undefined;
  readonly #request: Request;
  readonly #abortOnDisconnect: boolean;
  #controller: AbortController | undefined;
  #signal: AbortSignal | undefined;
  /** Called on the first message other than a final response. */
  onFirstMessage: (() => void) | undefined;
  notify: (message: JsonRpcNotification) => void;
  request: Exchange["request"];
  closeConnection: (() => void) | undefined;

  constructor(
    peer: Peer,
    c: HonoContext,
    auth: AuthInfo | undefined,
    abortOnDisconnect: boolean,
    notify: (message: JsonRpcNotification) => void,
    request: Exchange["request"],
  ) {
    this.peer = peer;
    this.http = c;
    this.auth = auth;
    this.#request = c.req.raw;
    this.#abortOnDisconnect = abortOnDisconnect;
    this.notify = notify;
    this.request = request;
  }

  get signal(): AbortSignal | undefined {
    if (!this.#abortOnDisconnect) return undefined;
    if (!this.#signal) {
      this.#controller = new AbortController();
      this.#signal = AbortSignal.any([this.#controller.signal, this.#request.signal]);
    }
    return this.#signal;
  }

  /** The reply connection closed before the reply was complete. */
  disconnected(): void {
    this.#controller?.abort(new McpError(ErrorCode.ConnectionClosed, "Client disconnected"));
  }
}
