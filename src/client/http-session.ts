import type { Authorizer } from "./auth-seam.ts";
import { TransportError } from "./errors.ts";
import { discard } from "./http-body.ts";
import { networkCause } from "./network-cause.ts";
import type { ReconnectPolicy } from "./reconnect.ts";
import type { SessionSnapshot, TransportHandlers } from "./transport.ts";
import { isModern } from "./versions.ts";

/** Retries after 401/403 per HTTP request, so a confused authorizer cannot loop forever. */
const MAX_AUTH_RETRIES = 3;
const DELETE_TIMEOUT_MS = 5_000;
/** Session ids must be visible ASCII (0x21 to 0x7E). */
const SESSION_ID = /^[\x21-\x7e]+$/;

export const ACCEPT_BOTH = "application/json, text/event-stream";
export const ACCEPT_SSE = "text/event-stream";

export interface HttpRequest {
  method: "POST" | "GET" | "DELETE";
  body?: string;
  accept?: string;
  /** Send the session id and protocol version (everything but initialize). */
  session: boolean;
  lastEventId?: string | undefined;
  /** Headers of this request alone (2026-07-28 request metadata). */
  headers?: Record<string, string>;
  signal: AbortSignal;
  /** Told while the authorizer works for this request (see SendOptions.onAuthorizing). */
  onAuthorizing?: ((active: boolean) => void) | undefined;
}

export interface HttpSessionOptions {
  fetch?: typeof fetch;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  authorizer?: Authorizer;
  /** Refuse a session id that is not visible ASCII, and a reply labelled with another version. */
  strictHeaders?: boolean;
}

/** What the readers of a transport's replies and streams share with it. */
export interface HttpContext {
  session: HttpSession;
  on: TransportHandlers;
  /** Largest message accepted, JSON body or SSE event. */
  maxBytes: number;
  reconnect: ReconnectPolicy;
  strictHeaders: boolean;
}

/**
 * The client's standing with one Streamable HTTP endpoint: the session the server keeps for
 * it (2025), the revision its requests carry, and the last event id of its GET stream. Every
 * HTTP request to the endpoint goes out here, with those headers and the authorizer's, and
 * is sent again when the authorizer resolves a 401 or 403.
 */
export class HttpSession {
  readonly url: URL;
  readonly #fetch: typeof fetch;
  readonly #options: HttpSessionOptions;
  #sessionId: string | undefined;
  #protocolVersion: string | undefined;
  /** Speaking 2026-07-28: stateless, with request metadata headers. */
  #modern = false;
  /** The last event id seen on the GET stream. */
  #lastEventId: string | undefined;

  constructor(url: URL, options: HttpSessionOptions) {
    this.url = url;
    this.#options = options;
    // Called as a plain function: a browser's fetch throws "Illegal invocation" when called
    // as a method of another object (this session).
    const send = options.fetch ?? globalThis.fetch;
    this.#fetch = (input, init) => send(input, init);
  }

  get sessionId(): string | undefined {
    return this.#sessionId;
  }

  get protocolVersion(): string | undefined {
    return this.#protocolVersion;
  }

  get modern(): boolean {
    return this.#modern;
  }

  get lastEventId(): string | undefined {
    return this.#lastEventId;
  }

  setProtocolVersion(version: string): void {
    this.#protocolVersion = version;
    this.#modern = isModern(version);
  }

  restore(snapshot: SessionSnapshot): void {
    this.#sessionId = snapshot.sessionId;
    this.#protocolVersion = snapshot.protocolVersion;
    this.#lastEventId = snapshot.lastEventId;
  }

  reset(): void {
    this.#sessionId = undefined;
    this.#protocolVersion = undefined;
    this.#modern = false;
    this.#lastEventId = undefined;
  }

  /** Takes the session id from the reply to initialize; a new session has no events yet. */
  takeSessionId(response: Response): void {
    const id = response.headers.get("mcp-session-id") ?? undefined;
    if (id !== undefined && this.#options.strictHeaders && !SESSION_ID.test(id)) {
      throw new TransportError("ERR_BAD_HEADER", "The Mcp-Session-Id is not visible ASCII");
    }
    this.#sessionId = id || undefined;
    this.#lastEventId = undefined;
  }

  /** Whether `id` is news; it becomes the last event id either way. */
  setLastEventId(id: string | undefined): boolean {
    if (id === this.#lastEventId) return false;
    this.#lastEventId = id;
    return true;
  }

  /** In strict mode, refuses a reply labelled with a revision other than the negotiated one. */
  checkVersionHeader(response: Response): void {
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

  /** Ends the server's session (DELETE), if there is one; best effort. */
  async terminate(): Promise<void> {
    if (this.#sessionId === undefined) return;
    try {
      const response = await this.request({
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

  /** One HTTP exchange, with the session's headers and the authorizer's retries. */
  async request(request: HttpRequest): Promise<Response> {
    const authorizer = this.#options.authorizer;
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
      if (authorizer) {
        const granted = await this.#authorizing(request, () =>
          authorizer.headers(this.url, request.method),
        );
        for (const [name, value] of Object.entries(granted)) headers.set(name, value);
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
          `${request.method} ${this.url.href} failed: ${networkCause(error) ?? String(error)}`,
          { cause: error },
        );
      }
      authorizer?.onResponse?.(response);
      if (!authorizer || attempt >= MAX_AUTH_RETRIES) return response;
      const retry =
        response.status === 401
          ? await this.#authorizing(request, () => authorizer.onUnauthorized(response))
          : response.status === 403
            ? await this.#authorizing(request, () => authorizer.onForbidden(response))
            : false;
      if (!retry) return response;
      await discard(response);
    }
  }

  /** Runs the authorizer's part, telling the request it waits for authorization meanwhile. */
  async #authorizing<T>(request: HttpRequest, work: () => Promise<T>): Promise<T> {
    request.onAuthorizing?.(true);
    try {
      return await work();
    } finally {
      request.onAuthorizing?.(false);
    }
  }
}
