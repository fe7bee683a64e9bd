import type { Context as HonoContext } from "hono";
import {
  ErrorCode,
  failure,
  type JsonRpcMessage,
  type JsonRpcRequest,
  type JsonRpcResponse,
  McpError,
} from "../mcp/jsonrpc.ts";
import { type Exchange, type Peer, principalOf } from "../mcp/peer.ts";
import type { JsonObject } from "../mcp/types.ts";
import { primesStreams } from "../mcp/versions.ts";
import { dispatchAll } from "./batch.ts";
import { PostExchange } from "./post-exchange.ts";
import { type Session, SharedSession } from "./sessions.ts";
import { SSE_HEADERS, SseStream } from "./sse.ts";
import type { TransportParts } from "./transport-parts.ts";
import { isUnavailable } from "./unavailable.ts";

const JSON_HEADERS = { "Content-Type": "application/json" };

/** Dispatches requests and replies with JSON or SSE. */
export async function reply(
  parts: TransportParts,
  c: HonoContext,
  peer: Peer,
  requests: JsonRpcRequest[],
  batch: boolean,
  wantsSse: boolean,
): Promise<Response> {
  const auth = parts.options.guard?.authenticate(c);
  const useSse = wantsSse && !parts.options.jsonResponse;
  if (!useSse) {
    const exchange = new PostExchange(
      peer,
      c,
      auth,
      true,
      (message) => push(parts, peer, message),
      (method, params, options) =>
        clientRequest(parts, peer, undefined, principalOf(auth), method, params, options.signal),
    );
    const answered: (string | undefined)[] = [];
    await dispatchAll(
      requests,
      (r) => dispatch(parts, r, exchange),
      (_response, json, index) => {
        answered[index] = json;
      },
      parts.batch.maxReplyBytes,
    );
    // In request order; nothing is owed for cancelled requests.
    const replies = answered.filter((json) => json !== undefined);
    if (replies.length === 0) return new Response(null, { status: 202 });
    return new Response(batch ? `[${replies.join(",")}]` : replies[0], {
      headers: JSON_HEADERS,
    });
  }

  const session = peer.sessionId !== undefined ? (peer as Session) : undefined;
  const resumable = parts.eventStore !== undefined && session !== undefined;
  const streamId = !session
    ? ""
    : parts.shared
      ? parts.shared.streamId(session.sessionId!)
      : `${session.sessionId}_${crypto.randomUUID()}`;
  const stream = new SseStream(streamId, {
    eventStore: resumable ? parts.eventStore : undefined,
    keepAliveMs: parts.keepAliveMs,
    retryMs: parts.options.retryMs ?? 1000,
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
      return clientRequest(parts, peer, stream, principalOf(auth), method, params, options.signal);
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
    (r) => dispatch(parts, r, exchange),
    (response, json) => stream.send(response, json),
    parts.batch.maxReplyBytes,
  ).then(() => "done" as const);

  // A resumable reply always streams, so the client learns the priming id at once.
  if (!resumable) {
    // A handler still silent after one keep-alive interval gets a stream anyway: without it
    // the client, and any proxy between, would see no byte until the handler finished.
    const timer = parts.keepAliveMs > 0 ? setTimeout(streaming, parts.keepAliveMs) : undefined;
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
function dispatch(
  parts: TransportParts,
  request: JsonRpcRequest,
  exchange: Exchange,
): Promise<JsonRpcResponse | undefined> {
  const shared = parts.shared;
  const session = exchange.peer;
  if (!shared || !(session instanceof SharedSession) || request.method === "initialize") {
    return parts.server.dispatch(request, exchange);
  }
  return parts.server.dispatch(request, exchange).then(async (response) => {
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
function push(parts: TransportParts, peer: Peer, message: JsonRpcMessage): void {
  const standalone = (peer as Session).standalone;
  if (standalone || !parts.shared || peer.sessionId === undefined) {
    void standalone?.send(message);
    return;
  }
  void parts.shared.push(peer.sessionId, message).catch(() => {});
}

/** Sends a server-to-client request on the reply stream, or the session's GET stream. */
function clientRequest(
  parts: TransportParts,
  peer: Peer,
  stream: SseStream | undefined,
  principal: string,
  method: string,
  params: JsonObject,
  signal: AbortSignal | undefined,
): Promise<JsonObject> {
  const target = stream ?? (peer as Session).standalone;
  if (!target && parts.shared && peer.sessionId !== undefined) {
    // The GET stream may be open on another instance: the request goes there, and the
    // answer comes back here whichever instance the client posts it to.
    const { id, result } = parts.outgoing.open(peer.sessionId, signal, principal);
    push(parts, peer, { jsonrpc: "2.0", id, method, params });
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
  const { id, result } = parts.outgoing.open(peer.sessionId, signal, principal);
  void target.send({ jsonrpc: "2.0", id, method, params });
  return result;
}
