import type { Context as HonoContext } from "hono";
import {
  ErrorCode,
  failure,
  idOf,
  isRequest,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  McpError,
  parseMessage,
} from "../mcp/jsonrpc.ts";
import { declaredVersion } from "../mcp/modern.ts";
import { OutgoingRequests } from "../mcp/outgoing.ts";
import { type AuthInfo, type Exchange, Peer, principalOf } from "../mcp/peer.ts";
import { eventNotification, type McpServer, type ServerEvent } from "../mcp/server.ts";
import type { JsonObject } from "../mcp/types.ts";
import {
  DEFAULT_HEADER_VERSION,
  isModernVersion,
  isSupportedVersion,
  negotiateVersion,
  primesStreams,
  supportsBatching,
} from "../mcp/versions.ts";
import type { Guard } from "../resource/guard.ts";
import { memoryBus } from "../storage/bus.ts";
import { accepts, readBody } from "../util/body.ts";
import { UnavailableError } from "../util/errors.ts";
import { checkAccess } from "./access.ts";
import { type BatchLimits, batchLimits, batchTooLong, dispatchAll } from "./batch.ts";
import { badRequest, httpError } from "./errors.ts";
import type { EventStore } from "./event-store.ts";
import { ModernHandler } from "./modern.ts";
import { checkOrigin, type OriginOptions } from "./origin.ts";
import { Session, type SessionOptions, SessionTable, SharedSession } from "./sessions.ts";
import { SharedSessions } from "./shared.ts";
import { eventId, parseEventId, SSE_HEADERS, SseStream, sseEvent } from "./sse.ts";

export interface StreamableHttpOptions extends OriginOptions {
  /** Reply to every request with one JSON body instead of an SSE stream. */
  jsonResponse?: boolean;
  /** Keep 2025 sessions (Mcp-Session-Id, GET stream, DELETE). Off by default: stateless. */
  sessions?: SessionOptions | boolean;
  /** Makes SSE streams resumable with Last-Event-ID (needs sessions). */
  eventStore?: EventStore;
  /** Largest request body accepted, in bytes. Default 4 MiB. */
  maxBodyBytes?: number;
  /**
   * Most messages in one JSON-RPC batch (2025-03-26); a longer batch is refused whole with
   * 400 and -32600, nothing in it acted on. Default 50.
   */
  maxBatchMessages?: number;
  /**
   * Reply bytes after which the requests of a batch not yet started are answered with -32600
   * instead of being run (the replies already built are sent). Default 4 MiB.
   */
  maxBatchReplyBytes?: number;
  /** Accept requests whose Accept header lacks one of the required media types. */
  lenientAccept?: boolean;
  /** Keep-alive comment interval on open streams. Default 15 s; 0 turns it off. */
  keepAliveMs?: number;
  /** The reconnection delay suggested with the priming event. Default 1 s. */
  retryMs?: number;
  /** How long a server-to-client request waits for the client. Default 10 minutes. */
  clientRequestTimeoutMs?: number;
  /** Set when the endpoint is protected (mcpApp's `auth`): who calls, and the step-up reply. */
  guard?: Guard;
}

const JSON_HEADERS = { "Content-Type": "application/json" };

/** Whether an error says shared state (Store or Bus) cannot be reached right now. */
function isUnavailable(error: unknown): boolean {
  return error instanceof UnavailableError;
}

/** The reply while shared state cannot be reached: nothing was done, try again shortly. */
export function unavailableResponse(): Response {
  return httpError(
    503,
    ErrorCode.ConnectionClosed,
    "Service Unavailable: session storage cannot be reached; try again shortly",
    { "Retry-After": "2" },
  );
}

/** An Exchange for one POST: its reply stream and a lazily made abort signal. */
class PostExchange implements Exchange {
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

/**
 * The Streamable HTTP transport of the 2025 revisions: one handler for POST, GET and DELETE
 * in front of an McpServer.
 */
export class StreamableHttpTransport {
  readonly server: McpServer;
  readonly sessions: SessionTable | undefined;
  readonly #options: StreamableHttpOptions;
  readonly #outgoing: OutgoingRequests;
  readonly #maxBody: number;
  readonly #batch: BatchLimits;
  readonly #keepAliveMs: number;
  readonly #eventStore: EventStore | undefined;
  readonly #stopListening: () => void;
  readonly #modern: ModernHandler;
  /** With sessions in a shared Store: what crosses between instances. */
  readonly #shared: SharedSessions | undefined;
  /** Listeners (2026-07-28 subscriptions) that also hear events raised on other instances. */
  readonly #remoteListeners = new Set<(event: ServerEvent) => void>();

  constructor(server: McpServer, options: StreamableHttpOptions = {}) {
    this.server = server;
    this.#options = options;
    this.#maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024;
    this.#batch = batchLimits(options);
    this.#keepAliveMs = options.keepAliveMs ?? 15_000;
    const sessionOptions =
      options.sessions === true ? {} : options.sessions ? options.sessions : undefined;
    const store = sessionOptions?.store;
    if (sessionOptions) {
      this.sessions = new SessionTable(
        sessionOptions,
        (session) => this.#ended(session),
        store !== undefined,
      );
      this.#eventStore = options.eventStore;
    }
    if (store && this.sessions) {
      this.#shared = new SharedSessions({
        store,
        bus: sessionOptions?.bus ?? memoryBus(),
        table: this.sessions,
        eventStore: this.#eventStore,
        cacheMs: sessionOptions?.cacheMs ?? 1_000,
        keepAliveMs: this.#keepAliveMs,
        host: {
          receive: (notification, session) => this.server.receive(notification, session),
          settle: (response, sessionId) => void this.#outgoing.settle(response, sessionId),
          deliver: (event) => {
            this.#fanOut(event);
            for (const listener of this.#remoteListeners) listener(event);
          },
        },
      });
    }
    this.#modern = new ModernHandler(server, {
      keepAliveMs: this.#keepAliveMs,
      jsonResponse: options.jsonResponse ?? false,
      guard: options.guard,
      listen: this.#shared
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
    this.#outgoing = new OutgoingRequests(
      options.clientRequestTimeoutMs ?? 10 * 60_000,
      this.#shared ? `${this.#shared.instance}.` : "",
    );
    this.#stopListening = server.listen((event) => {
      this.#fanOut(event);
      this.#shared?.publishEvent(event);
    });
  }

  /** Resolves once this instance hears the other instances (always at once without a shared Store). */
  ready(): Promise<void> {
    return this.#shared?.ready() ?? Promise.resolve();
  }

  /**
   * Stops listening to the server and ends every session. With a shared Store, only this
   * instance's part ends (its streams and requests): the sessions live on for the others.
   */
  close(): void {
    this.#stopListening();
    this.#modern.close();
    if (!this.sessions) return;
    if (this.#shared) {
      this.#shared.close();
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
    if (!checkOrigin(c.req.raw, this.#options)) {
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

  // POST

  async #post(c: HonoContext): Promise<Response> {
    const request = c.req.raw;
    const accept = request.headers.get("accept");
    const wantsJson = accepts(accept, "application/json");
    const wantsSse = accepts(accept, "text/event-stream");
    if (!(wantsJson && wantsSse) && !this.#options.lenientAccept) {
      return httpError(
        406,
        ErrorCode.ConnectionClosed,
        "Not Acceptable: the client must accept both application/json and text/event-stream",
      );
    }
    if (!request.headers.get("content-type")?.includes("application/json")) {
      return httpError(
        415,
        ErrorCode.ConnectionClosed,
        "Unsupported Media Type: send application/json",
      );
    }
    let text: string | undefined;
    try {
      text = await readBody(request, this.#maxBody);
    } catch {
      // The client hung up mid-body: routine, not a server error worth a stack trace.
      return badRequest("the request body could not be read");
    }
    if (text === undefined) {
      return httpError(
        413,
        ErrorCode.InvalidRequest,
        `Payload Too Large: the limit is ${this.#maxBody} bytes`,
        // The rest of the body was not read: the connection cannot carry another request.
        { Connection: "close" },
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return httpError(400, ErrorCode.ParseError, "Parse error: the body is not valid JSON");
    }
    const batch = Array.isArray(body);
    const raw: unknown[] = Array.isArray(body) ? body : [body];
    if (raw.length === 0)
      return httpError(400, ErrorCode.InvalidRequest, "Invalid Request: empty batch");
    if (raw.length > this.#batch.maxMessages) {
      return Response.json(failure(null, batchTooLong(this.#batch)), { status: 400 });
    }
    const messages: JsonRpcMessage[] = [];
    for (const item of raw) {
      const parsed = parseMessage(item);
      if (parsed instanceof McpError) {
        return Response.json(failure(idOf(item), parsed), { status: 400 });
      }
      messages.push(parsed);
    }

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

    const unsupported = this.#unsupportedVersion(headerVersion);
    if (unsupported) return unsupported;
    let peer: Peer;
    if (this.sessions) {
      const found = this.#shared ? await this.#sharedSession(c) : this.#session(c);
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
    const refused = checkAccess(c, this.#options.guard, this.server, requests);
    if (refused) return refused;
    if (this.#shared && peer instanceof SharedSession) {
      await this.#receiveShared(messages, peer, this.#shared);
    } else {
      for (const message of messages) {
        if (isRequest(message)) continue;
        if ("method" in message) {
          this.server.receive(message, peer);
        } else {
          this.#outgoing.settle(message, peer.sessionId, this.#principal(c));
        }
      }
    }
    if (requests.length === 0) return new Response(null, { status: 202 });
    return this.#reply(c, peer, requests, batch, wantsSse);
  }

  async #initialize(c: HonoContext, request: JsonRpcRequest, wantsSse: boolean): Promise<Response> {
    // The peer speaks the newest 2025 revision until initialize negotiates its own.
    const version = negotiateVersion(undefined, this.server.protocolVersions);
    const peer = this.sessions ? this.sessions.create(version) : new Peer(version);
    // A session belongs to whoever opened it: the token's issuer, subject and client.
    if (this.sessions) (peer as Session).principal = this.#principal(c);
    const response = await this.#reply(c, peer, [request], false, wantsSse);
    if (peer.sessionId !== undefined) {
      if (response.status !== 200) {
        this.sessions?.end(peer.sessionId);
        return response;
      }
      if (this.#shared) {
        try {
          await this.#shared.create(peer as SharedSession);
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
      } else if (!this.#outgoing.settle(message, session.sessionId, session.principal)) {
        await shared.routeResponse(message as JsonRpcResponse, session.sessionId!);
      }
    }
    await shared.persist(session);
  }

  /**
   * The 400 for an MCP-Protocol-Version header the server does not speak. The rule holds for
   * every request after initialize, GET and DELETE included, not only for POSTed messages.
   */
  #unsupportedVersion(headerVersion: string | null): Response | undefined {
    if (headerVersion === null || isSupportedVersion(headerVersion, this.server.protocolVersions)) {
      return undefined;
    }
    return badRequest(
      `Unsupported protocol version ${headerVersion}; supported: ${this.server.protocolVersions.join(", ")}`,
    );
  }

  /** #session for sessions in a shared Store: this instance's copy, or the Store's record. */
  async #sharedSession(c: HonoContext): Promise<Session | Response> {
    const id = c.req.header("mcp-session-id");
    if (!id) return badRequest("the Mcp-Session-Id header is required");
    const found = await this.#shared!.find(id, this.#principal(c));
    if (found instanceof Session) return found;
    const message =
      found === "ended" || this.sessions!.wasEnded(id)
        ? "Session ended; start a new one with initialize"
        : "Session not found";
    return httpError(404, ErrorCode.ConnectionClosed, message);
  }

  /** Looks up the session a request names, or the error reply for a missing or unknown one. */
  #session(c: HonoContext): Session | Response {
    const id = c.req.header("mcp-session-id");
    if (!id) return badRequest("the Mcp-Session-Id header is required");
    // Another caller's session answers exactly as an unknown one, and is not marked used.
    const owned = this.sessions!.peek(id)?.principal === this.#principal(c);
    const session = owned ? this.sessions!.get(id) : undefined;
    if (session) return session;
    const message =
      !this.sessions!.peek(id) && this.sessions!.wasEnded(id)
        ? "Session ended; start a new one with initialize"
        : "Session not found";
    return httpError(404, ErrorCode.ConnectionClosed, message);
  }

  /** Who calls (`principalOf` the verified token); "" on an open endpoint. */
  #principal(c: HonoContext): string {
    return principalOf(this.#options.guard?.authenticate(c));
  }

  /** Dispatches requests and replies with JSON or SSE. */
  async #reply(
    c: HonoContext,
    peer: Peer,
    requests: JsonRpcRequest[],
    batch: boolean,
    wantsSse: boolean,
  ): Promise<Response> {
    const auth = this.#options.guard?.authenticate(c);
    const useSse = wantsSse && !this.#options.jsonResponse;
    if (!useSse) {
      const exchange = new PostExchange(
        peer,
        c,
        auth,
        true,
        (message) => this.#push(peer, message),
        (method, params, options) =>
          this.#clientRequest(peer, undefined, principalOf(auth), method, params, options.signal),
      );
      const answered: (string | undefined)[] = [];
      await dispatchAll(
        requests,
        (r) => this.#dispatch(r, exchange),
        (_response, json, index) => {
          answered[index] = json;
        },
        this.#batch.maxReplyBytes,
      );
      // In request order; nothing is owed for cancelled requests.
      const replies = answered.filter((json) => json !== undefined);
      if (replies.length === 0) return new Response(null, { status: 202 });
      return new Response(batch ? `[${replies.join(",")}]` : replies[0], {
        headers: JSON_HEADERS,
      });
    }

    const session = peer.sessionId !== undefined ? (peer as Session) : undefined;
    const resumable = this.#eventStore !== undefined && session !== undefined;
    const streamId = !session
      ? ""
      : this.#shared
        ? this.#shared.streamId(session.sessionId!)
        : `${session.sessionId}_${crypto.randomUUID()}`;
    const stream = new SseStream(streamId, {
      eventStore: resumable ? this.#eventStore : undefined,
      keepAliveMs: this.#keepAliveMs,
      retryMs: this.#options.retryMs ?? 1000,
      onClose: () => session?.streams?.delete(streamId),
    });
    let streaming: () => void = () => {};
    const started = new Promise<"started">((resolve) => {
      streaming = () => resolve("started");
    });
    const exchange: PostExchange = new PostExchange(
      peer,
      c,
      auth,
      !resumable,
      (message) => {
        stream.send(message);
        streaming();
      },
      (method, params, options) => {
        streaming();
        return this.#clientRequest(peer, stream, principalOf(auth), method, params, options.signal);
      },
    );
    if (resumable) {
      (session.streams ??= new Map()).set(streamId, stream);
      exchange.closeConnection = () => stream.disconnect();
      // Older clients may choke on an event without data: prime only those that expect it.
      if (primesStreams(session.protocolVersion)) stream.prime();
    }
    const done = dispatchAll(
      requests,
      (r) => this.#dispatch(r, exchange),
      (response, json) => stream.send(response, json),
      this.#batch.maxReplyBytes,
    ).then(() => "done" as const);

    // A resumable reply always streams, so the client learns the priming id at once.
    if (!resumable) {
      // A handler still silent after one keep-alive interval gets a stream anyway: without it
      // the client, and any proxy between, would see no byte until the handler finished.
      const timer = this.#keepAliveMs > 0 ? setTimeout(streaming, this.#keepAliveMs) : undefined;
      const first = await Promise.race([done, started]);
      clearTimeout(timer);
      if (first === "done") {
        // Everything was ready at once: one complete body, no stream machinery.
        return new Response(stream.takeBuffered(), { headers: SSE_HEADERS });
      }
    }
    void done.then(() => stream.close());
    return new Response(
      stream.connect("", () => exchange.disconnected()),
      { headers: SSE_HEADERS },
    );
  }

  /**
   * Dispatches one request; on a shared session, then saves what it changed in the session
   * (before the reply goes out, so the client's next request sees it on any instance).
   */
  #dispatch(request: JsonRpcRequest, exchange: Exchange): Promise<JsonRpcResponse | undefined> {
    const shared = this.#shared;
    const session = exchange.peer;
    if (!shared || !(session instanceof SharedSession) || request.method === "initialize") {
      return this.server.dispatch(request, exchange);
    }
    return this.server.dispatch(request, exchange).then(async (response) => {
      // Most requests change nothing in the session: no Store round trip, no extra await.
      if (!shared.dirty(session)) return response;
      try {
        await shared.persist(session);
      } catch (error) {
        // This copy now differs from the Store: read it again on the next request.
        session.checkedAt = 0;
        const unavailable = isUnavailable(error);
        return (
          response &&
          failure(
            request.id,
            new McpError(
              unavailable ? ErrorCode.ConnectionClosed : ErrorCode.InternalError,
              unavailable
                ? "Service Unavailable: the session change could not be saved; try again shortly"
                : "Internal error: the session change could not be saved",
            ),
          )
        );
      }
      return response;
    });
  }

  /** Sends a message on the session's GET stream, on this instance or the one that has it. */
  #push(peer: Peer, message: JsonRpcMessage): void {
    const standalone = (peer as Session).standalone;
    if (standalone || !this.#shared || peer.sessionId === undefined) {
      void standalone?.send(message);
      return;
    }
    void this.#shared.push(peer.sessionId, message).catch(() => {});
  }

  /** Sends a server-to-client request on the reply stream, or the session's GET stream. */
  #clientRequest(
    peer: Peer,
    stream: SseStream | undefined,
    principal: string,
    method: string,
    params: JsonObject,
    signal: AbortSignal | undefined,
  ): Promise<JsonObject> {
    const target = stream ?? (peer as Session).standalone;
    if (!target && this.#shared && peer.sessionId !== undefined) {
      // The GET stream may be open on another instance: the request goes there, and the
      // answer comes back here whichever instance the client posts it to.
      const { id, result } = this.#outgoing.open(peer.sessionId, signal, principal);
      this.#push(peer, { jsonrpc: "2.0", id, method, params });
      return result;
    }
    if (!target) {
      return Promise.reject(
        new McpError(
          ErrorCode.InvalidRequest,
          `Cannot send ${method}: the client has no open stream (use SSE replies or open the GET stream)`,
        ),
      );
    }
    const { id, result } = this.#outgoing.open(peer.sessionId, signal, principal);
    void target.send({ jsonrpc: "2.0", id, method, params });
    return result;
  }

  // GET

  async #get(c: HonoContext): Promise<Response> {
    if (!this.sessions) return this.#methodNotAllowed();
    if (!accepts(c.req.header("accept") ?? null, "text/event-stream")) {
      return httpError(
        406,
        ErrorCode.ConnectionClosed,
        "Not Acceptable: the client must accept text/event-stream",
      );
    }
    const unsupported = this.#unsupportedVersion(c.req.header("mcp-protocol-version") ?? null);
    if (unsupported) return unsupported;
    const session = this.#shared ? await this.#sharedSession(c) : this.#session(c);
    if (session instanceof Response) return session;
    const lastEventId = c.req.header("last-event-id");
    if (lastEventId !== undefined && this.#eventStore) return this.#resume(session, lastEventId);
    if (session.standalone?.connected) {
      return httpError(
        409,
        ErrorCode.ConnectionClosed,
        "Conflict: this session already has a GET stream",
      );
    }
    const stream = this.#standalone(session);
    if (primesStreams(session.protocolVersion)) stream.prime();
    this.#shared?.claimStandalone(session.sessionId!);
    return new Response(stream.connect(), { headers: SSE_HEADERS });
  }

  #standalone(session: Session): SseStream {
    if (!session.standalone || session.standalone.closed) {
      session.standalone = new SseStream(`${session.sessionId}_get`, {
        eventStore: this.#eventStore,
        keepAliveMs: this.#keepAliveMs,
        retryMs: this.#options.retryMs ?? 1000,
      });
    }
    return session.standalone;
  }

  /** Replays a stream after the client's last event id, then carries on live if it still runs. */
  async #resume(session: Session, lastEventId: string): Promise<Response> {
    const parsed = parseEventId(lastEventId);
    if (!parsed?.streamId.startsWith(`${session.sessionId}_`)) {
      return badRequest("unknown Last-Event-ID");
    }
    const standalone = parsed.streamId === `${session.sessionId}_get`;
    const live = standalone ? this.#standalone(session) : session.streams?.get(parsed.streamId);
    if (live) {
      if (standalone) this.#shared?.claimStandalone(session.sessionId!);
      return new Response(await live.resume(parsed.position), { headers: SSE_HEADERS });
    }
    const owner = this.#shared?.ownerOf(parsed.streamId);
    if (owner !== undefined && owner !== this.#shared!.instance) {
      const body = await this.#shared!.resumeElsewhere(
        session,
        parsed.streamId,
        owner,
        parsed.position,
      );
      if (!body) return httpError(404, ErrorCode.ConnectionClosed, "Stream not found");
      return new Response(body, { headers: SSE_HEADERS });
    }
    const events = await this.#eventStore!.replay(parsed.streamId, parsed.position);
    if (!events) return httpError(404, ErrorCode.ConnectionClosed, "Stream not found");
    const body = events
      .map((event) =>
        sseEvent(JSON.stringify(event.message), eventId(parsed.streamId, event.position)),
      )
      .join("");
    return new Response(body, { headers: SSE_HEADERS });
  }

  // DELETE

  async #delete(c: HonoContext): Promise<Response> {
    if (!this.sessions) return this.#methodNotAllowed();
    const unsupported = this.#unsupportedVersion(c.req.header("mcp-protocol-version") ?? null);
    if (unsupported) return unsupported;
    const session = this.#shared ? await this.#sharedSession(c) : this.#session(c);
    if (session instanceof Response) return session;
    if (this.#shared) await this.#shared.end(session);
    else this.sessions.end(session.sessionId!);
    return new Response(null, { status: 200 });
  }

  /** Releases what an ended session held. */
  #ended(session: Session): void {
    session.standalone?.close();
    for (const stream of session.streams?.values() ?? []) stream.close();
    for (const inflight of session.inflight?.values() ?? []) inflight.abort("session ended");
    this.#outgoing.rejectSession(session.sessionId!);
  }
}
