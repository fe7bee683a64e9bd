import type { Context as HonoContext } from "hono";
import { type EventSource, reaches } from "../mcp/events.ts";
import { ErrorCode, isRequest, type JsonRpcRequest } from "../mcp/jsonrpc.ts";
import { OutgoingRequests } from "../mcp/outgoing.ts";
import { Peer, userOfPrincipal } from "../mcp/peer.ts";
import { eventNotification, type McpServer, type ServerEvent } from "../mcp/server.ts";
import { DEFAULT_HEADER_VERSION, negotiateVersion, supportsBatching } from "../mcp/versions.ts";
import { memoryBus } from "../storage/bus.ts";
import { checkAccess } from "./access.ts";
import type { BatchLimits } from "./batch.ts";
import { httpError } from "./errors.ts";
import { openGetStream } from "./get-stream.ts";
import type { InboundPost } from "./inbound.ts";
import { LocalSessions, type SessionHost, type SessionKeeper } from "./session-keeper.ts";
import { findSession, unsupportedVersion } from "./session-lookup.ts";
import { sessionReply } from "./session-reply.ts";
import type { Session, SessionTable } from "./sessions.ts";
import { SharedSessions } from "./shared.ts";
import type { StreamableHttpOptions } from "./transport-options.ts";
import { principal, type TransportParts } from "./transport-parts.ts";

/**
 * The session era (the 2025 revisions) over Streamable HTTP: initialize, sessions (kept
 * locally or in a shared Store, through one `SessionKeeper`), batches, POST, GET and DELETE.
 * A peer of the stateless era's handler under the endpoint's router (transport.ts).
 */
export class SessionEraHandler {
  readonly server: McpServer;
  readonly sessions: SessionTable | undefined;
  /**
   * Server events of every instance (this one's and those that cross the Bus), for the
   * stateless era's subscriptions; undefined when this instance is alone.
   */
  readonly events: EventSource | undefined;
  readonly #parts: TransportParts;
  readonly #stopListening: () => void;
  /** Listeners (2026-07-28 subscriptions) that also hear events raised on other instances. */
  readonly #remoteListeners = new Set<(event: ServerEvent) => void>();

  constructor(server: McpServer, options: StreamableHttpOptions, batch: BatchLimits) {
    this.server = server;
    const keepAliveMs = options.keepAliveMs ?? 15_000;
    const sessionOptions =
      options.sessions === true ? {} : options.sessions ? options.sessions : undefined;
    const eventStore = sessionOptions ? options.eventStore : undefined;
    const host: SessionHost = {
      receive: (notification, session) => this.server.receive(notification, session),
      settle: (response, sessionId, owner) =>
        this.#parts.outgoing.settle(response, sessionId, owner),
      deliver: (event) => {
        this.#fanOut(event);
        for (const listener of this.#remoteListeners) listener(event);
      },
      released: (session) => this.#released(session),
    };
    let keeper: SessionKeeper | undefined;
    if (sessionOptions?.store) {
      keeper = new SharedSessions({
        store: sessionOptions.store,
        bus: sessionOptions.bus ?? memoryBus(),
        sessions: sessionOptions,
        host,
        eventStore,
        cacheMs: sessionOptions.cacheMs ?? 1_000,
        keepAliveMs,
      });
      this.events = (listener) => {
        const stop = server.listen(listener);
        this.#remoteListeners.add(listener);
        return () => {
          stop();
          this.#remoteListeners.delete(listener);
        };
      };
    } else if (sessionOptions) {
      keeper = new LocalSessions(sessionOptions, host);
    }
    this.sessions = keeper?.table;
    this.#parts = {
      server,
      options,
      keeper,
      outgoing: new OutgoingRequests(
        options.clientRequestTimeoutMs ?? 10 * 60_000,
        keeper?.requestPrefix ?? "",
      ),
      eventStore,
      keepAliveMs,
      batch,
    };
    this.#stopListening = server.listen((event) => {
      this.#fanOut(event);
      keeper?.publish(event);
    });
  }

  /** Resolves once this instance hears the other instances (always at once without a shared Store). */
  ready(): Promise<void> {
    return this.#parts.keeper?.ready() ?? Promise.resolve();
  }

  /**
   * Stops listening to the server and ends every session. With a shared Store, only this
   * instance's part ends (its streams and requests): the sessions live on for the others.
   */
  close(): void {
    this.#stopListening();
    this.#parts.keeper?.close();
  }

  /** Passes a server event to this instance's 2025 sessions: their GET streams. */
  #fanOut(event: ServerEvent): void {
    // Extension events belong to 2026-07-28 listen streams and their owners, never sessions.
    if (!this.sessions || event.type === "extension") return;
    const message = eventNotification(event);
    for (const session of this.sessions.values()) {
      if (event.type === "resource_updated" && !session.subscriptions?.has(event.uri)) continue;
      if (!reaches(event, userOfPrincipal(session.principal))) continue;
      session.standalone?.send(message);
    }
  }

  /** A POST the inbound step let through, in the session era. */
  async post(
    c: HonoContext,
    { messages, batch, wantsSse, version }: InboundPost,
  ): Promise<Response> {
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

    const unsupported = unsupportedVersion(this.server, version);
    if (unsupported) return unsupported;
    const keeper = this.#parts.keeper;
    let session: Session | undefined;
    if (keeper) {
      let found = findSession(this.#parts, keeper, c);
      // Local sessions answer at once: no extra turn for them.
      if (found instanceof Promise) found = await found;
      if (found instanceof Response) return found;
      session = found;
    }
    const peer = session ?? new Peer(version ?? DEFAULT_HEADER_VERSION);
    if (batch && !supportsBatching(peer.protocolVersion)) {
      return httpError(
        400,
        ErrorCode.InvalidRequest,
        `Invalid Request: batches are not supported in protocol version ${peer.protocolVersion}`,
      );
    }

    const requests = messages.filter(isRequest);
    let refused = checkAccess(c, this.#parts.options.guard, this.server, requests);
    if (refused instanceof Promise) refused = await refused;
    if (refused) return refused;
    if (keeper && session) {
      const received = keeper.receive(session, messages);
      if (received) await received;
    } else {
      for (const message of messages) {
        if (isRequest(message)) continue;
        if ("method" in message) this.server.receive(message, peer);
        else this.#parts.outgoing.settle(message, undefined, principal(this.#parts, c));
      }
    }
    if (requests.length === 0) return new Response(null, { status: 202 });
    return sessionReply(this.#parts, c, peer, session, requests, batch, wantsSse);
  }

  async #initialize(c: HonoContext, request: JsonRpcRequest, wantsSse: boolean): Promise<Response> {
    // The peer speaks the newest 2025 revision until initialize negotiates its own.
    const version = negotiateVersion(undefined, this.server.protocolVersions);
    const keeper = this.#parts.keeper;
    // A session belongs to whoever opened it: the token's issuer, subject and client.
    const session = keeper?.create(version, principal(this.#parts, c));
    const peer = session ?? new Peer(version);
    const response = await sessionReply(this.#parts, c, peer, session, [request], false, wantsSse);
    if (!keeper || !session) return response;
    if (response.status !== 200) {
      keeper.discard(session);
      return response;
    }
    await keeper.opened(session);
    response.headers.set("Mcp-Session-Id", session.sessionId!);
    return response;
  }

  /** A GET: the session's standalone stream, or a resumed one (only with sessions). */
  get(c: HonoContext): Promise<Response> {
    return openGetStream(this.#parts, c);
  }

  /** A DELETE: ends the session it names (only with sessions). */
  async delete(c: HonoContext): Promise<Response> {
    const keeper = this.#parts.keeper;
    if (!keeper) throw new Error("DELETE without sessions reached the session era");
    const unsupported = unsupportedVersion(
      this.server,
      c.req.header("mcp-protocol-version") ?? null,
    );
    if (unsupported) return unsupported;
    const session = await findSession(this.#parts, keeper, c);
    if (session instanceof Response) return session;
    await keeper.end(session);
    return new Response(null, { status: 200 });
  }

  /** Releases what an ended session held. */
  #released(session: Session): void {
    session.standalone?.close();
    for (const stream of session.streams?.values() ?? []) stream.close();
    for (const inflight of session.inflight?.values() ?? []) inflight.abort("session ended");
    this.#parts.outgoing.rejectSession(session.sessionId!);
  }
}
