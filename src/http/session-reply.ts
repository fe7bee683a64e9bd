import type { Context as HonoContext } from "hono";
import {
  ErrorCode,
  failure,
  type JsonRpcRequest,
  type JsonRpcResponse,
  McpError,
} from "../mcp/jsonrpc.ts";
import { type Exchange, type Peer, principalOf } from "../mcp/peer.ts";
import type { JsonObject } from "../mcp/types.ts";
import { primesStreams } from "../mcp/versions.ts";
import { reauthorization } from "./access.ts";
import { dispatchAll } from "./batch.ts";
import { PostExchange } from "./post-exchange.ts";
import { Reply } from "./reply.ts";
import type { Session } from "./sessions.ts";
import type { SseStream } from "./sse.ts";
import type { TransportParts } from "./transport-parts.ts";
import { isUnavailable } from "./unavailable.ts";

const JSON_HEADERS = { "Content-Type": "application/json" };

/**
 * Dispatches a session-era POST's requests and replies through the shared reply step:
 * JSON, SSE, or (resumable, with an event store) a live stream at once.
 */
export async function sessionReply(
  parts: TransportParts,
  c: HonoContext,
  peer: Peer,
  session: Session | undefined,
  requests: JsonRpcRequest[],
  batch: boolean,
  wantsSse: boolean,
): Promise<Response> {
  const auth = parts.options.guard?.authenticate(c);
  const useSse = wantsSse && !parts.options.jsonResponse;
  const keeper = parts.keeper;
  const instead = reauthorization(c, parts.options.guard);
  if (!useSse) {
    // A JSON reply: what a request sends before its response goes to the session's GET stream.
    const exchange = new PostExchange(
      peer,
      c,
      auth,
      true,
      (message) => session && keeper?.push(session, message),
      (method, params, options) =>
        clientRequest(
          { parts, session, stream: undefined, principal: principalOf(auth) },
          method,
          params,
          options.signal,
        ),
    );
    if (!batch && requests.length === 1) {
      // One request, answered at once: the reply step's work is one JSON body.
      const response = await dispatch(parts, session, requests[0]!, exchange);
      if (!response) return new Response(null, { status: 202 });
      return (
        instead?.(response) ??
        new Response(JSON.stringify(response), { status: 200, headers: JSON_HEADERS })
      );
    }
    const reply = new Reply({ mode: "json", batch, instead });
    return reply.finish(dispatchEach(parts, session, requests, exchange, reply));
  }
  const resumable = parts.eventStore !== undefined && session !== undefined;
  const streamId = session && keeper ? keeper.streamId(session) : "";
  const reply = new Reply({
    mode: resumable ? "stream" : "sse",
    streamId,
    stream: {
      eventStore: resumable ? parts.eventStore : undefined,
      keepAliveMs: parts.keepAliveMs,
      retryMs: parts.options.retryMs ?? 1000,
      onClose: () => session?.streams?.delete(streamId),
    },
    batch,
    instead,
  });
  const stream = reply.stream;
  const exchange = new PostExchange(
    peer,
    c,
    auth,
    !resumable,
    (message) => reply.send(message),
    (method, params, options) => {
      reply.goLive();
      const via = { parts, session, stream, principal: principalOf(auth) };
      return clientRequest(via, method, params, options.signal);
    },
  );
  reply.onDisconnect = () => exchange.disconnected();
  if (resumable && stream) {
    (session.streams ??= new Map()).set(streamId, stream);
    exchange.closeConnection = () => stream.disconnect();
    // Older clients may choke on an event without data: prime only those that expect it.
    if (primesStreams(session.protocolVersion)) stream.prime();
  }
  return reply.finish(dispatchEach(parts, session, requests, exchange, reply));
}

/** Dispatches a POST's requests, each response delivered to the reply as it comes. */
function dispatchEach(
  parts: TransportParts,
  session: Session | undefined,
  requests: JsonRpcRequest[],
  exchange: Exchange,
  reply: Reply,
): Promise<void> {
  return dispatchAll(
    requests,
    (r) => dispatch(parts, session, r, exchange),
    (response, json, index) => reply.deliver(response, json, index),
    parts.batch.maxReplyBytes,
  );
}

/**
 * Dispatches one request, then keeps what it changed in its session (before the reply goes
 * out, so the client's next request sees it on any instance).
 */
function dispatch(
  parts: TransportParts,
  session: Session | undefined,
  request: JsonRpcRequest,
  exchange: Exchange,
): Promise<JsonRpcResponse | undefined> {
  const keeper = parts.keeper;
  const dispatched = parts.server.dispatch(request, exchange);
  if (!keeper || !session || request.method === "initialize") return dispatched;
  return dispatched.then(async (response) => {
    // Most requests change nothing in the session: no Store round trip, no extra await.
    const saving = keeper.save(session);
    if (!saving) return response;
    try {
      await saving;
    } catch (error) {
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

/** Where a server-to-client request of a POST can go. */
interface RequestRoute {
  parts: TransportParts;
  session: Session | undefined;
  /** The reply stream, when the reply is SSE. */
  stream: SseStream | undefined;
  principal: string;
}

/**
 * Sends a server-to-client request on the reply stream, else on the session's GET stream
 * (here or on the instance that has it: the answer comes back whichever instance the client
 * posts it to).
 */
function clientRequest(
  { parts, session, stream, principal }: RequestRoute,
  method: string,
  params: JsonObject,
  signal: AbortSignal | undefined,
): Promise<JsonObject> {
  const keeper = parts.keeper;
  const sessionId = session?.sessionId;
  if (stream) {
    const { id, result } = parts.outgoing.open(sessionId, signal, principal);
    void stream.send({ jsonrpc: "2.0", id, method, params });
    return result;
  }
  if (session && keeper?.reaches(session)) {
    const { id, result } = parts.outgoing.open(sessionId, signal, principal);
    keeper.push(session, { jsonrpc: "2.0", id, method, params });
    return result;
  }
  return Promise.reject(
    new McpError(
      ErrorCode.InvalidRequest,
      `Cannot send ${method}: the client has no open stream (use SSE replies or open the GET stream)`,
    ),
  );
}
