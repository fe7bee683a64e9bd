import { isObject } from "../mcp/content.ts";
import type { JsonRpcErrorObject } from "../mcp/jsonrpc.ts";
import { declaredOver, readCappedText } from "../util/body.ts";
import { type ClientWarning, TransportError } from "./errors.ts";
import { type SseEvent, SseParser } from "./sse-parser.ts";

/** What a reply's Content-Type says it carries. */
export function mediaTypeOf(response: Response): "json" | "sse" | undefined {
  const type = response.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type === "application/json") return "json";
  if (type === "text/event-stream") return "sse";
  return undefined;
}

function tooLarge(limit: number): TransportError {
  return new TransportError(
    "ERR_MESSAGE_TOO_LARGE",
    `The server's reply is larger than the limit of ${limit} bytes`,
  );
}

/** Reads a whole body as text, refusing more than `limit` bytes. */
export async function readText(response: Response, limit: number): Promise<string> {
  if (declaredOver(response.headers, limit)) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge(limit);
  }
  const text = await readCappedText(response.body, limit);
  if (text === undefined) throw tooLarge(limit);
  return text;
}

/** Drops a body we will not read, so the connection is released. */
export async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

/** The body of an HTTP error reply: its JSON value, when it is short JSON. */
export interface ErrorBody {
  json?: unknown;
}

/**
 * Reads the body of an error reply, up to 64 KiB: its JSON, or for an event stream the last
 * JSON-RPC response in it. Anything else is dropped.
 */
export async function readErrorBody(response: Response): Promise<ErrorBody> {
  try {
    const text = await readText(response, 64 * 1024);
    if (mediaTypeOf(response) !== "sse") return { json: JSON.parse(text) };
    const events = new SseParser().push(new TextEncoder().encode(`${text}\n\n`));
    const replies = events
      .map((event): unknown => (event.data ? JSON.parse(event.data) : undefined))
      .filter((value) => isObject(value) && "id" in value && !("method" in value));
    return replies.length ? { json: replies.at(-1) } : {};
  } catch {
    // Not JSON, or too long: the status says enough.
    await discard(response);
    return {};
  }
}

/** The TransportError for an HTTP error reply, with the JSON-RPC error its body may carry. */
export function statusError(response: Response, what: string, body: ErrorBody): TransportError {
  let rpcError: JsonRpcErrorObject | undefined;
  const json = body.json;
  if (isObject(json) && isObject(json.error) && typeof json.error.message === "string") {
    rpcError = json.error as unknown as JsonRpcErrorObject;
  }
  const status = response.status;
  const code =
    status === 401 ? "ERR_UNAUTHORIZED" : status === 403 ? "ERR_FORBIDDEN" : "ERR_HTTP_STATUS";
  const detail = rpcError?.message ?? response.statusText;
  const message = `${what} failed with HTTP ${status}${detail ? `: ${detail}` : ""}`;
  return new TransportError(code, message, rpcError ? { status, rpcError } : { status });
}

/**
 * Reads an SSE body through `parser`, handing each event to `onEvent`; `onEvent` returns true
 * to stop reading (the connection is then dropped). Resolves when the body ends or reading
 * stopped; rejects on a network error or an event over the parser's size limit.
 */
export async function readSse(
  body: ReadableStream<Uint8Array>,
  parser: SseParser,
  onEvent: (event: SseEvent) => boolean | undefined,
  signal: AbortSignal,
): Promise<void> {
  const reader = body.getReader();
  const cancel = () => void reader.cancel().catch(() => undefined);
  if (signal.aborted) return cancel();
  signal.addEventListener("abort", cancel, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      let events: SseEvent[];
      try {
        events = parser.push(value);
      } catch (error) {
        cancel();
        throw error;
      }
      for (const event of events) {
        if (onEvent(event)) {
          cancel();
          return;
        }
      }
    }
  } finally {
    signal.removeEventListener("abort", cancel);
  }
}

/** The error for a reply that is neither JSON nor an event stream. */
export function badContentType(response: Response): TransportError {
  const type = response.headers.get("content-type") ?? "none";
  return new TransportError(
    "ERR_BAD_CONTENT_TYPE",
    `The server replied with Content-Type ${type}, neither application/json nor text/event-stream`,
    { status: response.status },
  );
}

/** The JSON value in an event's data; undefined for an empty (priming) or unreadable event. */
export function eventValue(data: string, warn: (warning: ClientWarning) => void): unknown {
  if (data === "") return undefined;
  try {
    return JSON.parse(data);
  } catch {
    warn({
      code: "bad_message",
      message: "Ignored a server-sent event whose data is not JSON",
      detail: data.length > 200 ? `${data.slice(0, 200)}…` : data,
    });
    return undefined;
  }
}
