import type { Context as HonoContext } from "hono";
import { ErrorCode } from "../mcp/jsonrpc.ts";
import { primesStreams } from "../mcp/versions.ts";
import { accepts } from "../util/body.ts";
import { badRequest, httpError } from "./errors.ts";
import type { SessionKeeper } from "./session-keeper.ts";
import { findSession, unsupportedVersion } from "./session-lookup.ts";
import type { Session } from "./sessions.ts";
import { eventId, parseEventId, SSE_HEADERS, SseStream, sseEvent } from "./sse.ts";
import type { TransportParts } from "./transport-parts.ts";

/** A GET on a session: its standalone stream, or a stream resumed after Last-Event-ID. */
export async function openGetStream(parts: TransportParts, c: HonoContext): Promise<Response> {
  if (!accepts(c.req.header("accept") ?? null, "text/event-stream")) {
    return httpError(
      406,
      ErrorCode.ConnectionClosed,
      "Not Acceptable: the client must accept text/event-stream",
    );
  }
  const unsupported = unsupportedVersion(
    parts.server,
    c.req.header("mcp-protocol-version") ?? null,
  );
  if (unsupported) return unsupported;
  const keeper = parts.keeper;
  if (!keeper) throw new Error("GET without sessions reached the session era");
  const session = await findSession(parts, keeper, c);
  if (session instanceof Response) return session;
  const lastEventId = c.req.header("last-event-id");
  if (lastEventId !== undefined && parts.eventStore) {
    return resume(parts, keeper, session, lastEventId);
  }
  if (session.standalone?.connected) {
    return httpError(
      409,
      ErrorCode.ConnectionClosed,
      "Conflict: this session already has a GET stream",
    );
  }
  const stream = standaloneStream(parts, session);
  if (primesStreams(session.protocolVersion)) stream.prime();
  keeper.claimStandalone(session);
  return new Response(stream.connect(), { headers: SSE_HEADERS });
}

/** The session's standalone (GET) stream, made anew when it has none or it closed. */
function standaloneStream(parts: TransportParts, session: Session): SseStream {
  if (!session.standalone || session.standalone.closed) {
    session.standalone = new SseStream(`${session.sessionId}_get`, {
      eventStore: parts.eventStore,
      keepAliveMs: parts.keepAliveMs,
      retryMs: parts.options.retryMs ?? 1000,
    });
  }
  return session.standalone;
}

/** Replays a stream after the client's last event id, then carries on live if it still runs. */
async function resume(
  parts: TransportParts,
  keeper: SessionKeeper,
  session: Session,
  lastEventId: string,
): Promise<Response> {
  const parsed = parseEventId(lastEventId);
  if (!parsed?.streamId.startsWith(`${session.sessionId}_`)) {
    return badRequest("unknown Last-Event-ID");
  }
  const standalone = parsed.streamId === `${session.sessionId}_get`;
  const live = standalone
    ? standaloneStream(parts, session)
    : session.streams?.get(parsed.streamId);
  if (live) {
    if (standalone) keeper.claimStandalone(session);
    return new Response(await live.resume(parsed.position), { headers: SSE_HEADERS });
  }
  const elsewhere = keeper.resumeElsewhere(session, parsed.streamId, parsed.position);
  if (elsewhere) {
    const body = await elsewhere;
    if (!body) return httpError(404, ErrorCode.ConnectionClosed, "Stream not found");
    return new Response(body, { headers: SSE_HEADERS });
  }
  const events = await parts.eventStore!.replay(parsed.streamId, parsed.position);
  if (!events) return httpError(404, ErrorCode.ConnectionClosed, "Stream not found");
  const body = events
    .map((event) =>
      sseEvent(JSON.stringify(event.message), eventId(parsed.streamId, event.position)),
    )
    .join("");
  return new Response(body, { headers: SSE_HEADERS });
}
