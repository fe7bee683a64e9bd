/**
 * The reply to a POST: nothing (202), one JSON body, or an event stream read as it arrives and,
 * in the 2025 revisions, resumed with GET and Last-Event-ID when it drops before the reply.
 */
import { isObject } from "../mcp/content.ts";
import type { RequestId } from "../mcp/jsonrpc.ts";
import { type ClientWarning, TransportError } from "./errors.ts";
import {
  badContentType,
  discard,
  eventValue,
  mediaTypeOf,
  readErrorBody,
  readSse,
  readText,
  statusError,
} from "./http-body.ts";
import { ACCEPT_SSE, type HttpContext } from "./http-session.ts";
import { backoff } from "./reconnect.ts";
import { sameRequestId } from "./request-id.ts";
import { sleep } from "./signals.ts";
import { SseParser } from "./sse-parser.ts";

/** Whether text starts like an event stream rather than JSON, for servers that mislabel it. */
function looksLikeSse(text: string): boolean {
  return /^(?:data|event|id|retry)?:/.test(text) || /^(?:data|event|id|retry)\r?\n/.test(text);
}

function mislabelled(context: HttpContext, response: Response, what: string): void {
  context.on.warning?.({
    code: "content_type",
    message: `The server labelled ${what} as ${response.headers.get("content-type") ?? "nothing"}`,
  });
}

/**
 * Takes the reply to a POST that carried request `id` (undefined for a notification or a
 * response). An event stream is read on in the background (`reading`); the rest before this
 * resolves.
 */
export async function receiveReply(
  context: HttpContext,
  response: Response,
  id: RequestId | undefined,
  signal: AbortSignal,
): Promise<{ reading: Promise<void> } | undefined> {
  const { on, session } = context;
  if (response.status === 202 || response.status === 204 || !response.body) {
    // Accepted. A request's reply, if any, would come on the GET stream; 2026-07-28 has
    // none, so there the reply is lost.
    await discard(response);
    if (session.modern && id !== undefined) {
      on.lost(
        id,
        new TransportError(
          "ERR_STREAM_ENDED",
          `The server accepted request ${id} without a reply`,
          {
            status: response.status,
          },
        ),
      );
    }
    return;
  }
  const kind = mediaTypeOf(response);
  if (kind === "sse") {
    // 2026-07-28 streams cannot be resumed: a broken one loses its request.
    return { reading: readReplyStream(context, response.body, id, signal, !session.modern) };
  }
  if (kind === undefined && context.strictHeaders) {
    await discard(response);
    throw badContentType(response);
  }
  const text = await readText(response, context.maxBytes);
  const trimmed = text.trimStart();
  if (trimmed === "" && id === undefined) {
    // An empty 200 for a notification or a reply: nothing to read.
  } else if (kind === "json" || trimmed.startsWith("{") || trimmed.startsWith("[")) {
    if (kind !== "json") mislabelled(context, response, "JSON");
    deliverJson(context, trimmed, id);
  } else if (looksLikeSse(trimmed)) {
    mislabelled(context, response, "an event stream");
    await readReplyStream(context, new Blob([text]).stream(), id, signal, false);
  } else {
    throw badContentType(response);
  }
}

function deliverJson(context: HttpContext, text: string, id: RequestId | undefined): void {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (cause) {
    throw new TransportError("ERR_BAD_MESSAGE", "The server's reply is not valid JSON", {
      cause,
    });
  }
  const values = Array.isArray(body) ? body : [body];
  for (const value of values) context.on.message(value);
  // A JSON body is the whole reply: without the answer in it, none is coming.
  if (id !== undefined) {
    context.on.lost(
      id,
      () =>
        new TransportError(
          "ERR_BAD_MESSAGE",
          `The server's JSON reply does not answer request ${id}`,
        ),
    );
  }
}

/**
 * Reads the event stream that carries a request's reply, handing every message on. When it
 * ends before the reply and its events had ids, it is resumed with GET and Last-Event-ID,
 * after the server's `retry` delay, a bounded number of times in a row.
 */
async function readReplyStream(
  context: HttpContext,
  body: ReadableStream<Uint8Array>,
  id: RequestId | undefined,
  signal: AbortSignal,
  resumable: boolean,
): Promise<void> {
  const { on, session, maxBytes, reconnect } = context;
  const warn = (warning: ClientWarning) => on.warning?.(warning);
  let answered = false;
  let attempts = 0;
  // The server's reconnection delay holds until it sends another one.
  let retry: number | undefined;
  let parser = new SseParser({ maxEventBytes: maxBytes });
  let stream = body;
  for (;;) {
    let progressed = false;
    let failure: unknown;
    try {
      await readSse(
        stream,
        parser,
        (event) => {
          progressed = true;
          const value = eventValue(event.data, warn);
          if (value === undefined) return false;
          if (isObject(value) && !("method" in value) && sameRequestId(value.id, id)) {
            answered = true;
          }
          on.message(value);
          return answered;
        },
        signal,
      );
    } catch (error) {
      failure = error;
    }
    if (signal.aborted || answered || id === undefined) return;
    if (failure instanceof TransportError) return on.lost(id, failure);
    if (progressed) attempts = 0;
    retry = parser.retry ?? retry;
    const lastEventId = parser.lastEventId;
    if (!resumable || lastEventId === undefined) {
      return on.lost(
        id,
        new TransportError(
          "ERR_STREAM_ENDED",
          "The reply stream ended before the reply, and it cannot be resumed (its events had no ids)",
          { cause: failure },
        ),
      );
    }
    if (++attempts > reconnect.maxAttempts) {
      return on.lost(
        id,
        new TransportError(
          "ERR_STREAM_ENDED",
          `The reply stream ended before the reply; ${reconnect.maxAttempts} attempts to resume it brought nothing`,
          { cause: failure },
        ),
      );
    }
    if (!(await sleep(backoff(reconnect, attempts, retry), signal))) return;
    let response: Response;
    try {
      response = await session.request({
        method: "GET",
        accept: ACCEPT_SSE,
        session: true,
        lastEventId,
        signal,
      });
    } catch (error) {
      if (signal.aborted) return;
      // The network failed: count it as an attempt and try again.
      stream = new ReadableStream({ start: (controller) => controller.error(error) });
      continue;
    }
    if (!response.ok || mediaTypeOf(response) !== "sse" || !response.body) {
      if (response.status === 404 && session.sessionId !== undefined) on.sessionExpired?.();
      const error = response.ok
        ? badContentType(response)
        : statusError(response, "Resuming the reply stream", await readErrorBody(response));
      await discard(response);
      return on.lost(
        id,
        new TransportError(
          "ERR_STREAM_ENDED",
          `The reply stream could not be resumed: ${error.message}`,
          { status: response.status, cause: error },
        ),
      );
    }
    stream = response.body;
    parser = new SseParser({ maxEventBytes: maxBytes, lastEventId });
  }
}
