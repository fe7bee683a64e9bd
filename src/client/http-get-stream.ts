import type { ClientWarning } from "./errors.ts";
import {
  badContentType,
  discard,
  eventValue,
  mediaTypeOf,
  readErrorBody,
  readSse,
  statusError,
} from "./http-body.ts";
import { ACCEPT_SSE, type HttpContext } from "./http-session.ts";
import { backoff } from "./reconnect.ts";
import { sleep } from "./signals.ts";
import { SseParser } from "./sse-parser.ts";

/**
 * Keeps the GET stream of server-initiated messages open (2025) until `signal` aborts:
 * reconnects with the last event id when it drops, gives up quietly when the server offers
 * none (405), and reports a session the server forgot (404).
 */
export async function keepGetStream(context: HttpContext, signal: AbortSignal): Promise<void> {
  const { on, session, reconnect } = context;
  const warn = (warning: ClientWarning) => on.warning?.(warning);
  const setLastEventId = (id: string | undefined) => {
    if (session.setLastEventId(id)) on.sessionChanged?.({ lastEventId: id });
  };
  let attempts = 0;
  let retry: number | undefined;
  while (!signal.aborted) {
    let response: Response | undefined;
    try {
      response = await session.request({
        method: "GET",
        accept: ACCEPT_SSE,
        session: true,
        lastEventId: session.lastEventId,
        signal,
      });
    } catch (error) {
      if (signal.aborted) return;
      warn({ code: "get_stream", message: "The GET stream failed", detail: error });
    }
    if (response) {
      if (response.status === 405) return discard(response);
      if (response.status === 404 && session.sessionId !== undefined) {
        await discard(response);
        on.sessionExpired?.();
        return;
      }
      if (response.status === 400 && session.lastEventId !== undefined) {
        // The server does not know our last event id (its store forgot): start afresh.
        await discard(response);
        setLastEventId(undefined);
        continue;
      }
      if (!response.ok || mediaTypeOf(response) !== "sse" || !response.body) {
        const error = response.ok
          ? badContentType(response)
          : statusError(response, "The GET stream", await readErrorBody(response));
        await discard(response);
        warn({ code: "get_stream", message: error.message, detail: error });
        return;
      }
      const lastEventId = session.lastEventId;
      const parser = new SseParser({
        maxEventBytes: context.maxBytes,
        ...(lastEventId === undefined ? {} : { lastEventId }),
      });
      let progressed = false;
      try {
        await readSse(
          response.body,
          parser,
          (event) => {
            progressed = true;
            setLastEventId(event.id);
            const value = eventValue(event.data, warn);
            if (value !== undefined) on.message(value);
            return false;
          },
          signal,
        );
      } catch (error) {
        if (signal.aborted) return;
        warn({ code: "get_stream", message: "The GET stream broke", detail: error });
      }
      // An id may come in an event without data, which is never dispatched.
      setLastEventId(parser.lastEventId);
      retry = parser.retry ?? retry;
      if (progressed) attempts = 0;
    }
    if (signal.aborted) return;
    if (++attempts > reconnect.maxAttempts) {
      warn({
        code: "get_stream",
        message: `Gave up on the GET stream after ${reconnect.maxAttempts} attempts`,
      });
      return;
    }
    if (!(await sleep(backoff(reconnect, attempts, retry), signal))) return;
  }
}
