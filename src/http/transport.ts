import type { Context as HonoContext } from "hono";
import {
  ErrorCode,
  isRequest,
  type JsonRpcMessage,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from "../mcp/jsonrpc.ts";
import { declaredVersion } from "../mcp/modern.ts";
import { OutgoingRequests } from "../mcp/outgoing.ts";
import { Peer } from "../mcp/peer.ts";
import { eventNotification, type McpServer, type ServerEvent } from "../mcp/server.ts";
import {
  DEFAULT_HEADER_VERSION,
  isModernVersion,
  negotiateVersion,
  supportsBatching,
} from "../mcp/versions.ts";
import { memoryBus } from "../storage/bus.ts";
import { checkAccess } from "./access.ts";
import { batchLimits } from "./batch.ts";
import { httpError } from "./errors.ts";
import { openGetStream } from "./get-stream.ts";
import { type InboundLimits, readPost } from "./inbound.ts";
import { ModernHandler } from "./modern.ts";
import { checkOrigin } from "./origin.ts";
import { reply } from "./reply.ts";
import { findLocalSession, findSharedSession, unsupportedVersion } from "./session-lookup.ts";
import { type Session, SessionTable, SharedSession } from "./sessions.ts";
import { SharedSessions } from "./shared.ts";
import type { StreamableHttpOptions } from "./transport-options.ts";
import { principal, type TransportParts } from "./transport-parts.ts";
import { isUnavailable, unavailableResponse } from "./unavailable.ts";

export type { StreamableHttpOptions } from "./transport-options.ts";

/**
 * The Streamable HTTP transport of the 2025 revisions: one handler for POST, GET and DELETE
 * in front of an McpServer.
 */
export class StreamableHttpTransport {
  readonly server: McpServer;
  readonly sessions: SessionTable | undefined;
  readonly #parts: TransportParts;
  readonly #inbound: InboundLimits;
  readonly #stopListening: () => void;
  readonly #modern: ModernHandler;
  /** Listeners (2026-07-28 subscriptions) that also hear events raised on other instances. */
  readonly #remoteListeners = new Set<(event: ServerEvent) => void>();

  constructor(server: McpServer, options: StreamableHttpOptions = {}) {
    this.server = server;
    const keepAliveMs = options.keepAliveMs ?? 15_000;
    const sessionOptions =
      options.sessions === true ? {} : options.sessions ? options.sessions : undefined;
    const store = sessionOptions?.store;
    const eventStore = sessionOptions ? options.eventStore : undefined;
    if (sessionOptions) {
      this.sessions = new SessionTable(
        sessionOptions,
        (session) => this.#ended(session),
        store !== undefined,
      );
    }
    let shared: SharedSessions | undefined;
    if (store && this.sessions) {
      shared = new SharedSessions({
        store,
        bus: sessionOptions?.bus ?? memoryBus(),
        table: this.sessions,
        eventStore,
        cacheMs: sessionOptions?.cacheMs ?? 1_000,
        keepAliveMs,
        host: {
          receive: (notification, session) => this.server.receive(notification, session),
          settle: (response, sessionId) => void this.#parts.outgoing.settle(response, sessionId),
          deliver: (event) => {
            this.#fanOut(event);
            for (const listener of this.#remoteListeners) listener(event);
          },
        },
      });
    }
    this.#modern = new ModernHandler(server, {
      keepAliveMs,
      jsonResponse: options.jsonResponse ?? false,
      guard: options.guard,
      listen: shared
        ? (listener) => {
            const stop = server.listen(listener);
            this.#remoteListeners.add(listener);
            return () => {
              stop();
              this.#remoteListeners.delete(listener);
            };
          }
        : undefined,
    });
    this.#parts = {
      server,
      options,
      sessions: this.sessions,
      shared,
      outgoing: new OutgoingRequests(
        options.clientRequestTimeoutMs ?? 10 * 60_000,
        shared ? `${shared.instance}.` : "",
      ),
      eventStore,
      keepAliveMs,
      batch: batchLimits(options),
    };
    this.#inbound = {
      maxBodyBytes: options.maxBodyBytes ?? 4 * 1024 * 1024,
      batch: this.#parts.batch,
      lenientAccept: options.lenientAccept,
    };
    this.#stopListening = server.listen((event) => {
      this.#fanOut(event);
      this.#parts.shared?.publishEvent(event);
    });
  }

  /** Resolves once this instance hears the other instances (always at once without a shared Store). */
  ready(): Promise<void> {
    return this.#parts.shared?.ready() ?? Promise.resolve();
  }

  /**
   * Stops listening to the server and ends every session. With a shared Store, only this
   * instance's part ends (its streams and requests): the sessions live on for the others.
   */
  close(): void {
    this.#stopListening();
    this.#modern.close();
    if (!this.sessions) return;
    if (this.#parts.shared) {
      this.#parts.shared.close();
      for (const session of [...this.sessions.values()]) this.sessions.forget(session.sessionId!);
      return;
    }
    for (const session of [...this.sessions.values()]) this.sessions.end(session.sessionId!);
  }

  /** Passes a server event to this instance's 2025 sessions: their GET streams. */
  #fanOut(event: ServerEvent): void {
    if (!this.sessions) return;
    const message = eventNotification(event);
    for (const session of this.sessions.values()) {
      if (event.type === "resource_updated" && !session.subscriptions?.has(event.uri)) continue;
      session.standalone?.send(message);
    }
  }

  async handle(c: HonoContext): Promise<Response> {
    if (!checkOrigin(c.req.raw, this.#parts.options)) {
      return httpError(403, ErrorCode.ConnectionClosed, "Forbidden: origin not allowed");
    }
    try {
      switch (c.req.method) {
        case "POST":
          return await this.#post(c);
        case "GET":
          return await this.#get(c);
        case "DELETE":
          return await this.#delete(c);
        default:
          return this.#methodNotAllowed();
      }
    } catch (error) {
      // Shared state is down: a clear "try again", never a guess.
      if (isUnavailable(error)) return unavailableResponse();
      throw error;
    }
  }

  #methodNotAllowed(): Response {
    const allow = this.sessions ? "GET, POST, DELETE" : "POST";
    return httpError(405, ErrorCode.ConnectionClosed, "Method not allowed", { Allow: allow });
  }

  // GET

  async #get(c: HonoContext): Promise<Response> {
    if (!this.sessions) return this.#methodNotAllowed();
    return openGetStream(this.#parts, c);
  }

  // POST

  async #post(c: HonoContext): Promise<Response> {
    const request = c.req.raw;
    const inbound = await readPost(request, this.#inbound);
    if (inbound instanceof Response) return inbound;
    const { messages, batch, wantsSse } = inbound;

    // A 2026-07-28 request names its version in _meta (and the header): no sessions, no batches.
    const headerVersion = request.headers.get("mcp-protocol-version");
    const first = messages[0]!;
    if (
      isModernVersion(headerVersion ?? "") ||
      messages.some(
        (message) => "method" in message && declaredVersion(message.params) !== undefined,
      )
    ) {
      if (batch) {
        return httpError(
          400,
          ErrorCode.InvalidRequest,
          "Invalid Request: 2026-07-28 has no batches; send each message in its own POST",
        );
      }
      return this.#modern.handle(c, first, wantsSse);
    }

    // initialize may not be batched, not even alone in an array; refuse such a batch before
    // acting on any of its other messages.
    const initialize = messages.find(
      (message): message is JsonRpcRequest => isRequest(message) && message.method === "initialize",
    );
    if (initialize) {
      if (batch) {
        return httpError(
          400,
          ErrorCode.InvalidRequest,
          "Invalid Request: initialize must be sent alone",
        );
      }
      return this.#initialize(c, initialize, wantsSse);
    }

    const unsupported = unsupportedVersion(this.server, headerVersion);
    if (unsupported) return unsupported;
    let peer: Peer;
    if (this.sessions) {
      const found = this.#parts.shared
        ? await findSharedSession(this.#parts, c)
        : findLocalSession(this.#parts, c);
      if (found instanceof Response) return found;
      peer = found;
    } else {
      peer = new Peer(headerVersion ?? DEFAULT_HEADER_VERSION);
    }
    if (batch && !supportsBatching(peer.protocolVersion)) {
      return httpError(
        400,
        ErrorCode.InvalidRequest,
        `Invalid Request: batches are not supported in protocol version ${peer.protocolVersion}`,
      );
    }

    const requests = messages.filter(isRequest);
    const refused = checkAccess(c, this.#parts.options.guard, this.server, requests);
    if (refused) return refused;
    if (this.#parts.shared && peer instanceof SharedSession) {
      await this.#receiveShared(messages, peer, this.#parts.shared);
    } else {
      for (const message of messages) {
        if (isRequest(message)) continue;
        if ("method" in message) {
          this.server.receive(message, peer);
        } else {
          this.#parts.outgoing.settle(message, peer.sessionId, principal(this.#parts, c));
        }
      }
    }
    if (requests.length === 0) return new Response(null, { status: 202 });
    return reply(this.#parts, c, peer, requests, batch, wantsSse);
  }

  async #initialize(c: HonoContext, request: JsonRpcRequest, wantsSse: boolean): Promise<Response> {
    // The peer speaks the newest 2025 revision until initialize negotiates its own.
    const version = negotiateVersion(undefined, this.server.protocolVersions);
    const peer = this.sessions ? this.sessions.create(version) : new Peer(version);
    // A session belongs to whoever opened it: the token's issuer, subject and client.
    if (this.sessions) (peer as Session).principal = principal(this.#parts, c);
    const response = await reply(this.#parts, c, peer, [request], false, wantsSse);
    if (peer.sessionId !== undefined) {
      if (response.status !== 200) {
        this.sessions?.end(peer.sessionId);
        return response;
      }
      if (this.#parts.shared) {
        try {
          await this.#parts.shared.create(peer as SharedSession);
        } catch (error) {
          this.sessions?.forget(peer.sessionId);
          throw error;
        }
      }
      response.headers.set("Mcp-Session-Id", peer.sessionId);
    }
    return response;
  }

  /**
   * The notifications and answers of a POST on a shared session: a cancellation or an answer
   * for a request that runs on another instance goes there; what they changed is saved.
   */
  async #receiveShared(
    messages: readonly JsonRpcMessage[],
    session: SharedSession,
    shared: SharedSessions,
  ): Promise<void> {
    for (const message of messages) {
      if (isRequest(message)) continue;
      if ("method" in message) {
        this.server.receive(message, session);
        if (message.method === "notifications/cancelled") await shared.cancel(session, message);
      } else if (!this.#parts.outgoing.settle(message, session.sessionId, session.principal)) {
        await shared.routeResponse(message as JsonRpcResponse, session.sessionId!);
      }
    }
    await shared.persist(session);
  }

  // DELETE

  async #delete(c: HonoContext): Promise<Response> {
    if (!this.sessions) return this.#methodNotAllowed();
    const unsupported = unsupportedVersion(
      this.server,
      c.req.header("mcp-protocol-version") ?? null,
    );
    if (unsupported) return unsupported;
    const session = this.#parts.shared
      ? await findSharedSession(this.#parts, c)
      : findLocalSession(this.#parts, c);
    if (session instanceof Response) return session;
    if (this.#parts.shared) await this.#parts.shared.end(session);
    else this.sessions.end(session.sessionId!);
    return new Response(null, { status: 200 });
  }

  /** Releases what an ended session held. */
  #ended(session: Session): void {
    session.standalone?.close();
    for (const stream of session.streams?.values() ?? []) stream.close();
    for (const inflight of session.inflight?.values() ?? []) inflight.abort("session ended");
    this.#parts.outgoing.rejectSession(session.sessionId!);
  }
}
